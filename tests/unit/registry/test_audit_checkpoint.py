"""The keyed checkpoint of the audit head: a checkpoint that was altered, belongs to another
store or was sealed with another key is refused, never silently accepted; writers keep the
highest head that continues the checkpoint and leave one that cannot be trusted as it is."""

from __future__ import annotations

import doctest
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.registry import audit_checkpoint
from keel.registry.audit_checkpoint import Checkpoint, CheckpointInvalid, Checkpoints, seal, unseal

STORE = "sqlite:////srv/keel/keel.db"
hashes = st.text("0123456789abcdef", min_size=64, max_size=64)
keys = st.binary(min_size=16, max_size=64)


def test_the_module_examples_hold() -> None:
    assert doctest.testmod(audit_checkpoint, optionflags=doctest.ELLIPSIS).failed == 0


@given(key=keys, seq=st.integers(0, 2**53), digest=hashes)
def test_a_sealed_checkpoint_reads_back(key: bytes, seq: int, digest: str) -> None:
    assert unseal(key, seal(key, STORE, seq, digest), STORE) == Checkpoint(STORE, seq, digest)


@given(
    key=keys,
    other_key=keys,
    seq=st.integers(1, 2**53),
    digest=hashes,
    other_digest=hashes,
    change=st.sampled_from(["seq", "hash", "mac", "key", "store", "garbage"]),
)
def test_any_change_to_a_checkpoint_is_refused(
    key: bytes, other_key: bytes, seq: int, digest: str, other_digest: str, change: str
) -> None:
    import json

    text = seal(key, STORE, seq, digest)
    data = json.loads(text)
    read_key, read_store = key, STORE
    if change == "seq":
        data["seq"] = seq - 1  # rolled back together with the database
    elif change == "hash":
        if other_digest == digest:
            return
        data["hash"] = other_digest
    elif change == "mac":
        data["mac"] = "0" * 64
    elif change == "key":
        if other_key == key:
            return
        read_key = other_key
    elif change == "store":
        read_store = "sqlite:////srv/other/keel.db"
    forged = "{not json" if change == "garbage" else json.dumps(data)
    with pytest.raises(CheckpointInvalid):
        unseal(read_key, forged, read_store)


def test_the_key_file_is_created_once_readable_only_by_its_owner(tmp_path: Path) -> None:
    checkpoints = Checkpoints(tmp_path / "audit", STORE)
    assert checkpoints.key(create=False) is None
    key = checkpoints.key(create=True)
    assert key is not None and len(key) == 64
    assert stat.S_IMODE(checkpoints.key_file.stat().st_mode) == 0o600
    assert Checkpoints(tmp_path / "audit", STORE).key(create=True) == key  # reused, not replaced
    assert [p.name for p in checkpoints.key_file.parent.iterdir()] == ["audit.key"]


def head(n: int) -> str:
    return f"{n:064x}"


def test_writers_keep_the_highest_head_that_continues_the_checkpoint(tmp_path: Path) -> None:
    checkpoints = Checkpoints(tmp_path, STORE, key=b"k" * 32)
    db = None  # consecutive heads are checked against the checkpoint without the database
    checkpoints.record(db, 1, "0" * 64, head(1))  # type: ignore[arg-type]
    checkpoints.record(db, 2, head(1), head(2))  # type: ignore[arg-type]
    checkpoints.record(db, 2, head(1), head(2))  # type: ignore[arg-type]
    assert checkpoints.read() == Checkpoint(STORE, 2, head(2))
    # the first entry of a chain starts a new one (a store re-created at the same place)
    checkpoints.record(db, 1, "0" * 64, head(1))  # type: ignore[arg-type]
    assert checkpoints.read() == Checkpoint(STORE, 1, head(1))
    checkpoints.record(db, 2, head(1), head(2))  # type: ignore[arg-type]
    # a head that does not continue entry 2 leaves the checkpoint where it was
    checkpoints.record(db, 3, "f" * 64, head(3))  # type: ignore[arg-type]
    assert checkpoints.read() == Checkpoint(STORE, 2, head(2))
    assert stat.S_IMODE(checkpoints.path.stat().st_mode) == 0o600


def test_a_checkpoint_that_cannot_be_trusted_is_reported_and_kept(tmp_path: Path) -> None:
    checkpoints = Checkpoints(tmp_path, STORE, key=b"k" * 32)
    checkpoints.record(None, 1, "0" * 64, head(1))  # type: ignore[arg-type]
    tampered = checkpoints.path.read_text().replace('"seq": 1', '"seq": 9')
    checkpoints.path.write_text(tampered)
    with pytest.raises(CheckpointInvalid, match="MAC does not match"):
        checkpoints.read()
    checkpoints.record(None, 2, head(1), head(2))  # type: ignore[arg-type]
    assert checkpoints.path.read_text() == tampered  # the evidence stays
    with pytest.raises(CheckpointInvalid, match="another key"):
        Checkpoints(tmp_path, STORE, key=b"x" * 32).read()
    with pytest.raises(CheckpointInvalid, match="no key"):  # KEEL_AUDIT_KEY unset, no key file
        Checkpoints(tmp_path, STORE).read()


def test_an_empty_checkpoint_left_by_a_crash_is_replaced(tmp_path: Path) -> None:
    checkpoints = Checkpoints(tmp_path, STORE, key=b"k" * 32)
    checkpoints.path.parent.mkdir(parents=True)
    checkpoints.path.write_text("")
    with pytest.raises(CheckpointInvalid):
        checkpoints.read()
    checkpoints.record(None, 5, head(4), head(5))  # type: ignore[arg-type]
    assert checkpoints.read() == Checkpoint(STORE, 5, head(5))


def test_stores_are_told_apart_however_their_url_is_spelt(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    absolute = audit_checkpoint.store_identity(f"sqlite:///{tmp_path / 'keel.db'}")
    assert audit_checkpoint.store_identity("sqlite:///keel.db") == absolute
    assert audit_checkpoint.store_identity("sqlite://") is None
    assert audit_checkpoint.store_identity("sqlite:///:memory:") is None
    pg = audit_checkpoint.store_identity("postgresql+psycopg://ann:secret@db:5432/keel?sslmode=x")
    assert pg == "postgresql+psycopg://ann@db:5432/keel"
