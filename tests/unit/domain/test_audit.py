"""The audit hash chain: any change, deletion or reordering is caught at the right entry."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.domain.audit import GENESIS, AuditRow, canonical_json, entry_hash, verify_chain

#: positions of the fields of an audit row
SEQ, AT, ACTOR, ACTION, SUBJECT, DETAILS, PREV, HASH = range(8)


def build_chain(count: int) -> list[AuditRow]:
    rows: list[AuditRow] = []
    prev = GENESIS
    for seq in range(1, count + 1):
        at = f"2026-01-01T00:00:{seq:02d}.000000+00:00"
        details: dict[str, Any] = {"version": seq, "reason": f"step {seq}", "nested": {"a": [1, 2]}}
        digest = entry_hash(prev, seq, at, "ann", "alias.set", f"model:m/{seq}", details)
        rows.append((seq, at, "ann", "alias.set", f"model:m/{seq}", details, prev, digest))
        prev = digest
    return rows


def changed(row: AuditRow, index: int, value: Any) -> AuditRow:
    items = list(row)
    items[index] = value
    return tuple(items)  # type: ignore[return-value]


def test_canonical_json_is_independent_of_key_order_and_spacing() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": 2, "c": "é"}]}) == canonical_json(
        {"a": [1, {"c": "é", "d": 2}], "b": 1}
    )
    assert canonical_json({"b": 1, "a": 2}) == '{"a":2,"b":1}'


def test_entry_hash_depends_on_every_input() -> None:
    base = (GENESIS, 1, "t", "ann", "register", "m/1", {"k": 1})
    digest = entry_hash(*base)
    assert len(digest) == 64
    for index, other in enumerate(["1" * 64, 2, "u", "bob", "archive", "m/2", {"k": 2}]):
        varied = list(base)
        varied[index] = other
        assert entry_hash(*varied) != digest, f"argument {index} is not covered by the hash"


def test_an_intact_chain_verifies() -> None:
    result = verify_chain(build_chain(6))
    assert result.intact
    assert result.checked == 6
    assert result.first_bad_seq is None
    assert result.reason is None


def test_an_empty_chain_is_intact() -> None:
    assert verify_chain([]).intact


_TAMPERED = {
    AT: "2030-01-01T00:00:00.000000+00:00",
    ACTOR: "mallory",
    ACTION: "version.archive",
    SUBJECT: "model:other/1",
    DETAILS: {"version": 99},
    PREV: "f" * 64,
    HASH: "e" * 64,
}


@pytest.mark.parametrize("field", sorted(_TAMPERED), ids=lambda i: str(i))
@pytest.mark.parametrize("target", [1, 3, 6])
def test_tampering_any_field_of_any_entry_is_found_at_that_entry(field: int, target: int) -> None:
    rows = build_chain(6)
    rows[target - 1] = changed(rows[target - 1], field, _TAMPERED[field])
    result = verify_chain(rows)
    assert not result.intact
    assert result.first_bad_seq == target
    assert result.checked == target - 1
    assert result.reason


def test_tampering_a_nested_detail_is_found() -> None:
    rows = build_chain(4)
    details = {**rows[1][DETAILS], "nested": {"a": [1, 3]}}
    rows[1] = changed(rows[1], DETAILS, details)
    assert verify_chain(rows).first_bad_seq == 2


def test_rewriting_an_entry_with_a_fresh_hash_breaks_the_next_link() -> None:
    rows = build_chain(5)
    seq, at, _actor, action, subject, details, prev, _ = rows[2]
    forged = entry_hash(prev, seq, at, "mallory", action, subject, details)
    rows[2] = (seq, at, "mallory", action, subject, details, prev, forged)
    result = verify_chain(rows)
    assert result.first_bad_seq == 4
    assert "link" in (result.reason or "")


@pytest.mark.parametrize("deleted", [1, 3, 5])
def test_deleting_an_entry_is_found_where_it_is_missing(deleted: int) -> None:
    rows = build_chain(6)
    del rows[deleted - 1]
    result = verify_chain(rows)
    assert not result.intact
    assert result.first_bad_seq == deleted
    assert "missing" in (result.reason or "")


def test_reordering_entries_is_found_at_the_first_out_of_place_entry() -> None:
    rows = build_chain(6)
    rows[2], rows[3] = rows[3], rows[2]
    result = verify_chain(rows)
    assert not result.intact
    assert result.first_bad_seq == 3


def test_renumbering_after_a_deletion_is_found() -> None:
    rows = build_chain(5)
    del rows[1]
    rows = [changed(r, SEQ, i) for i, r in enumerate(rows, start=1)]
    assert verify_chain(rows).first_bad_seq == 2


@settings(deadline=None)
@given(
    count=st.integers(min_value=1, max_value=12),
    data=st.data(),
)
def test_any_single_tampering_is_found_at_its_entry(count: int, data: st.DataObject) -> None:
    rows = build_chain(count)
    target = data.draw(st.integers(min_value=1, max_value=count))
    field = data.draw(st.sampled_from(sorted(_TAMPERED)))
    original = rows[target - 1][field]
    replacement = data.draw(
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=3)
        if field == DETAILS
        else st.text(max_size=70)
    )
    if replacement == original:
        return
    rows[target - 1] = changed(rows[target - 1], field, replacement)
    assert verify_chain(rows).first_bad_seq == target
