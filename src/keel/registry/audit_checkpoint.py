"""Keyed checkpoints of the audit head, kept outside the store.

The hash chain proves that the entries it holds were not changed, but not that none were cut
off: whoever can write the database can delete the newest entries and roll ``audit_head`` back,
and the shorter chain is still whole. So after every committed audit write the head (seq and
hash) is also written to a small file outside the store, sealed with an HMAC-SHA256 whose key
does not live in the database either (``KEEL_AUDIT_KEY``, or a key file created on first use
with mode 0600). ``keel audit verify`` then reports a head older than the checkpoint, or a trail
that no longer passes through the checkpointed entry.

Layout, in the audit folder (``Settings.audit_dir``, by default ``~/.config/keel``)::

    audit.key                      the key (hex), when KEEL_AUDIT_KEY is not set
    checkpoints/<store id>.json    {"store", "seq", "hash", "mac"}, one per store URL

Writers keep the highest checkpoint: several processes appending to one store take a file lock,
read, compare and replace the file atomically (write beside it, fsync, rename). A checkpoint is
only replaced by a head that continues it (its entry is still in the trail with the same hash),
or by the first entry of a new chain; one that no longer matches stays as evidence until
someone who can reach this folder deletes it. Writing happens after the commit and any failure
is logged, never raised: a lost checkpoint weakens the check but never fails the user's change.

>>> key = b"k" * 32
>>> sealed = seal(key, "sqlite:////tmp/keel.db", 7, "ab" * 32)
>>> unseal(key, sealed, "sqlite:////tmp/keel.db")
Checkpoint(store='sqlite:////tmp/keel.db', seq=7, hash='abab'...)
>>> unseal(b"x" * 32, sealed, "sqlite:////tmp/keel.db")
Traceback (most recent call last):
...
keel.registry.audit_checkpoint.CheckpointInvalid: its MAC does not match: ...
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from keel.store.database import Database
from keel.store.schema import audit_log

if TYPE_CHECKING:
    from keel.settings import Settings

KEY_FILE = "audit.key"
FOLDER = "checkpoints"
_log = logging.getLogger("keel.audit")


@dataclass(frozen=True)
class Checkpoint:
    store: str
    seq: int
    hash: str

    def __repr__(self) -> str:
        return f"Checkpoint(store={self.store!r}, seq={self.seq}, hash={self.hash[:4]!r}...)"


class CheckpointInvalid(ValueError):
    """The checkpoint file cannot be trusted: unreadable, for another store, or its MAC fails."""


def _mac(key: bytes, store: str, seq: int, digest: str) -> str:
    body = json.dumps({"store": store, "seq": seq, "hash": digest}, sort_keys=True)
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def seal(key: bytes, store: str, seq: int, digest: str) -> str:
    """The checkpoint file's text for head ``(seq, digest)`` of ``store``."""
    mac = _mac(key, store, seq, digest)
    return json.dumps({"store": store, "seq": seq, "hash": digest, "mac": mac}, sort_keys=True)


def unseal(key: bytes, text: str, store: str) -> Checkpoint:
    """Read a checkpoint file's text; CheckpointInvalid unless it is intact and for ``store``."""
    try:
        data = json.loads(text)
        seq, digest, mac, named = data["seq"], data["hash"], data["mac"], data["store"]
    except (ValueError, TypeError, KeyError) as exc:
        raise CheckpointInvalid("it is not a checkpoint (unreadable or incomplete)") from exc
    if not (isinstance(seq, int) and isinstance(digest, str) and isinstance(mac, str)):
        raise CheckpointInvalid("it is not a checkpoint (fields of the wrong type)")
    if not hmac.compare_digest(_mac(key, store, seq, digest), mac):
        if named != store:
            raise CheckpointInvalid(f"it belongs to another store ({named})")
        raise CheckpointInvalid(
            "its MAC does not match: the file was altered, or it was sealed with another key"
        )
    return Checkpoint(store, seq, digest)


def store_identity(url: str) -> str | None:
    """The store a URL names, the same however it is spelt: SQLite by its absolute path,
    PostgreSQL without password or options. None for a store that lives only in memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:":
            return None
        return f"sqlite:///{Path(database).expanduser().resolve()}"
    bare = URL.create(
        parsed.drivername,
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
    )  # no password (it must not land in a file) and no options (the same database)
    return bare.render_as_string(hide_password=False)


class Checkpoints:
    """The checkpoint of one store, in ``folder``, sealed with ``key`` (or the key file)."""

    def __init__(self, folder: str | Path, store: str, *, key: bytes | None = None) -> None:
        self.folder = Path(folder).expanduser()
        self.store = store
        self.path = self.folder / FOLDER / f"{hashlib.sha256(store.encode()).hexdigest()[:32]}.json"
        self._key = key
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    @property
    def key_file(self) -> Path:
        return self.folder / KEY_FILE

    # -- the key ------------------------------------------------------------------------------
    def key(self, *, create: bool) -> bytes | None:
        """The key: given, else read from the key file, which is created when ``create``."""
        if self._key is not None:
            return self._key
        with self._lock:
            if self._key is None:
                self._key = _read_key(self.key_file)
            if self._key is None and create:
                self._key = _create_key(self.key_file)
        return self._key

    # -- reading ------------------------------------------------------------------------------
    def read(self) -> Checkpoint | None:
        """The current checkpoint, None when there is none; CheckpointInvalid when it cannot be
        trusted (or there is a checkpoint but no key to check it with)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise CheckpointInvalid(f"it cannot be read: {exc}") from exc
        key = self.key(create=False)
        if key is None:
            raise CheckpointInvalid(f"there is no key to check it ({self.key_file} is missing)")
        return unseal(key, text, self.store)

    # -- writing ------------------------------------------------------------------------------
    def record(self, db: Database, seq: int, prev_hash: str, digest: str) -> None:
        """Move the checkpoint to the committed head ``(seq, digest)`` when that continues it."""
        key = self.key(create=True)
        assert key is not None
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _file_lock(self.path.with_suffix(".lock")):
            try:
                current: Checkpoint | None = self.read()
            except CheckpointInvalid as exc:
                if not self.path.read_text(encoding="utf-8").strip():
                    current = None  # an empty file left by a crash: nothing to keep
                else:
                    self._warn_once("invalid", f"audit checkpoint {self.path} is kept: {exc}")
                    return
            if current is not None and seq != 1:
                if seq <= current.seq:
                    return  # another process already checkpointed a newer head
                if not _continues(db, current, seq, prev_hash):
                    self._warn_once(
                        "diverged",
                        f"the audit trail of {self.store} no longer passes through its "
                        f"checkpoint (entry {current.seq}); run `keel audit verify`",
                    )
                    return
            _replace(self.path, seal(key, self.store, seq, digest))

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            _log.warning(message)


def _continues(db: Database, current: Checkpoint, seq: int, prev_hash: str) -> bool:
    """Whether the chain that now ends at ``seq`` still holds the checkpointed entry."""
    if seq == current.seq + 1:
        return prev_hash == current.hash
    with db.read() as conn:
        found = conn.execute(
            sa.select(audit_log.c.hash).where(audit_log.c.seq == current.seq)
        ).scalar()
    return found == current.hash


def attach(db: Database, checkpoints: Checkpoints) -> None:
    """Checkpoint ``db``'s audit head after each committed write that appended to the trail."""
    from keel.registry.audit import HEAD_NOTE

    def after_commit(notes: dict[str, Any]) -> None:
        head = notes.get(HEAD_NOTE)
        if head is not None:
            checkpoints.record(db, *head)

    db.after_commit.append(after_commit)


def install(db: Database, folder: str | Path, key: str | None) -> Checkpoints | None:
    """The checkpoints of ``db``'s store, attached so that every audited write keeps them
    (None for an in-memory store, which has no later to check)."""
    store = store_identity(db.url)
    if store is None:
        return None
    checkpoints = Checkpoints(folder, store, key=key.encode() if key is not None else None)
    attach(db, checkpoints)
    return checkpoints


def install_for(db: Database, settings: Settings) -> Checkpoints | None:
    """``install`` with the audit folder and key from the settings (read at the edge)."""
    key = settings.audit_key.get_secret_value() if settings.audit_key is not None else None
    return install(db, settings.audit_dir, key)


# -- files ------------------------------------------------------------------------------------
def _read_key(path: Path) -> bytes | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    if len(text) < 32:
        raise CheckpointInvalid(f"the key file {path} is empty or too short")
    return text.encode()


def _create_key(path: Path) -> bytes:
    """A new random key, published with a hard link so that racing processes agree on one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    key = _read_key(path)
    assert key is not None
    return key


def _replace(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (POSIX); elsewhere only the rename keeps it sane."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)
