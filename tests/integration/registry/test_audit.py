"""The audit trail on both back ends: every state change is recorded and tampering is found."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from keel.client import Client
from keel.domain.audit import GENESIS, entry_hash
from keel.store.schema import audit_head, audit_log

EXPECTED_ACTIONS = [
    ("snapshot.register", "dataset:cancer/1"),
    ("run.start", "run:"),
    ("version.register", "model:cancer/1"),
    ("run.finish", "run:"),
    ("version.register", "model:cancer/2"),
    ("alias.set", "model:cancer"),
    ("alias.set", "model:cancer"),
    ("alias.delete", "model:cancer"),
    ("version.archive", "model:cancer/1"),
    ("run.start", "run:"),
    ("run.fail", "run:"),
]


def make_history(client: Client, cancer_frame: pd.DataFrame, fitted_model: Any) -> None:
    snapshot = client.register_snapshot(cancer_frame, "cancer")
    client.register_snapshot(cancer_frame, "cancer")  # unchanged: nothing to record
    with client.start_run("train") as run:
        run.log_metric("loss", 0.2)  # metrics are data, not state changes
        client.register_model("cancer", fitted_model, training_data=snapshot, target="target")
    client.register_model("cancer", fitted_model)
    client.set_alias("cancer", "champion", 1, reason="first")
    client.set_alias("cancer", "champion", 2, reason="better")
    client.set_alias("cancer", "champion", 2, reason="same again")  # no change, no entry
    client.delete_alias("cancer", "champion", reason="incident")
    client.archive_version("cancer/1", reason="old")
    client.archive_version("cancer/1", reason="old")  # already archived, no entry
    with pytest.raises(RuntimeError), client.start_run("retrain"):
        raise RuntimeError("out of memory")


@pytest.fixture
def history(client: Client, cancer_frame: pd.DataFrame, fitted_model: Any) -> Client:
    make_history(client, cancer_frame, fitted_model)
    return client


def test_every_state_change_is_recorded_in_order(history: Client) -> None:
    entries = list(reversed(history.audit_log(limit=None)))
    assert [
        (e.action, e.subject[: len(s)]) for e, (_, s) in zip(entries, EXPECTED_ACTIONS, strict=True)
    ] == EXPECTED_ACTIONS
    assert [e.seq for e in entries] == list(range(1, len(EXPECTED_ACTIONS) + 1))
    assert {e.actor for e in entries} == {"tester"}
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in pairwise(entries))
    register = entries[2]
    assert register.details["training_snapshot"] == "cancer/1"
    assert register.details["format"] == "skops"
    assert register.details["run_id"] == entries[1].subject.removeprefix("run:")
    result = history.verify_audit()
    assert result.intact
    assert result.checked == len(EXPECTED_ACTIONS)
    assert result.first_bad_seq is None


def test_audit_log_filters(history: Client, settings: Any) -> None:
    assert [e.subject for e in history.audit_log(subject="model:cancer/1")] == [
        "model:cancer/1",
        "model:cancer/1",
    ]
    by_model = history.audit_log(subject="model:cancer", limit=None)
    assert len(by_model) == 6  # the model and every version of it
    assert {e.action for e in history.audit_log(action="alias")} == {"alias.set", "alias.delete"}
    assert [e.seq for e in history.audit_log(limit=2)] == [11, 10]
    assert history.audit_log(actor="mallory") == []
    assert len(history.audit_log(actor="tester", limit=None)) == len(EXPECTED_ACTIONS)


TAMPERED = {
    "at": "2020-01-01T00:00:00.000000+00:00",
    "actor": "mallory",
    "action": "alias.delete",
    "subject": "model:other",
    "details": {"alias": "champion", "version": 1, "previous": None, "reason": "forged"},
    "prev_hash": "f" * 64,
    "hash": "e" * 64,
}
LAST = len(EXPECTED_ACTIONS)


def rows(client: Client, *seqs: int) -> list[dict[str, Any]]:
    with client.db.engine.connect() as conn:
        found = conn.execute(sa.select(audit_log).where(audit_log.c.seq.in_(seqs))).all()
    return [dict(r._mapping) for r in found]


def restore(client: Client, saved: list[dict[str, Any]]) -> None:
    """Put saved rows back exactly as they were, and check the chain is whole again."""
    with client.db.engine.begin() as conn:
        for row in saved:
            conn.execute(audit_log.delete().where(audit_log.c.seq == row["seq"]))
            conn.execute(audit_log.insert().values(row))
    assert client.verify_audit().intact


def forge(row: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The row with ``changes`` and a hash recomputed to match them."""
    new = {**row, **changes}
    keys = ("prev_hash", "seq", "at", "actor", "action", "subject", "details")
    new["hash"] = entry_hash(*(new[k] for k in keys))
    return new


def test_tampering_with_any_column_of_a_row_is_found_at_its_seq(history: Client) -> None:
    saved = rows(history, 6)
    for column, value in TAMPERED.items():
        with history.db.engine.begin() as conn:
            conn.execute(audit_log.update().where(audit_log.c.seq == 6).values({column: value}))
        result = history.verify_audit()
        assert not result.intact, column
        assert (result.first_bad_seq, result.checked) == (6, 5), column
        assert result.reason
        restore(history, saved)
    with history.db.engine.begin() as conn:  # plain SQL, as someone with a console would
        conn.execute(sa.text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"))
    assert history.verify_audit().first_bad_seq == 3


def test_rewriting_or_reordering_entries_is_found(history: Client) -> None:
    saved = rows(history, 4, 7, 8)
    fourth, seventh, eighth = saved
    with history.db.engine.begin() as conn:  # a forged entry with a matching hash of its own
        forged = forge(fourth, actor="mallory")
        conn.execute(audit_log.update().where(audit_log.c.seq == 4).values(forged))
    result = history.verify_audit()
    assert result.first_bad_seq == 5  # the next entry no longer links to it
    assert "link" in (result.reason or "")
    restore(history, saved)
    with history.db.engine.begin() as conn:  # swap two entries' contents
        for seq, other in ((7, eighth), (8, seventh)):
            values = {k: v for k, v in other.items() if k != "seq"}
            conn.execute(audit_log.update().where(audit_log.c.seq == seq).values(values))
    assert history.verify_audit().first_bad_seq == 7


def test_deleting_any_entry_is_found_where_it_is_missing(history: Client) -> None:
    for deleted in (1, 5, LAST):
        saved = rows(history, deleted)
        with history.db.engine.begin() as conn:
            conn.execute(audit_log.delete().where(audit_log.c.seq == deleted))
        result = history.verify_audit()
        assert not result.intact
        assert (result.first_bad_seq, result.checked) == (deleted, deleted - 1)
        assert "missing" in (result.reason or "")
        restore(history, saved)


def test_forging_or_appending_at_the_tail_is_found_against_the_head(history: Client) -> None:
    (last,) = saved = rows(history, LAST)
    with history.db.engine.begin() as conn:
        conn.execute(
            audit_log.update().where(audit_log.c.seq == LAST).values(forge(last, actor="mallory"))
        )
    result = history.verify_audit()
    assert (result.intact, result.first_bad_seq) == (False, LAST)
    assert "head" in (result.reason or "")
    restore(history, saved)
    appended = forge(
        last,
        seq=LAST + 1,
        prev_hash=last["hash"],
        actor="mallory",
        details={"alias": "champion", "version": 1},
    )
    with history.db.engine.begin() as conn:
        conn.execute(audit_log.insert().values(appended))
    result = history.verify_audit()
    assert (result.intact, result.first_bad_seq, result.checked) == (False, LAST + 1, LAST)
    assert "head" in (result.reason or "")


def test_new_entries_continue_the_chain_and_an_empty_store_is_intact(
    client: Client, fitted_model: Any
) -> None:
    empty = client.verify_audit()
    assert empty.intact
    assert empty.checked == 0
    client.register_model("a_b", fitted_model)
    client.register_model("axb", fitted_model)  # "_" must not match any character
    assert client.verify_audit().checked == 2
    with client.db.engine.connect() as conn:
        head = conn.execute(sa.select(audit_head)).one()
    assert head.seq == 2
    assert head.hash == client.audit_log(limit=1)[0].hash
    assert [e.subject for e in client.audit_log(subject="model:a_b")] == ["model:a_b/1"]
    assert client.audit_log(action="version_") == []
