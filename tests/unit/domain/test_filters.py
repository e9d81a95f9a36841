"""The filter language for searching versions: ``metrics.auc >= 0.9 and tags.team = 'risk'``."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keel.domain.filters import MAP_FIELDS, OPERATORS, PLAIN_FIELDS, Clause, parse_filter
from keel.errors import InvalidInput


def test_empty_and_blank_filters_mean_no_filter() -> None:
    assert parse_filter("") == []
    assert parse_filter("   \n\t") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version > 10", [Clause("version", None, ">", 10.0)]),
        ("metrics.auc>=0.9", [Clause("metrics", "auc", ">=", 0.9)]),
        ("tags.team = 'risk'", [Clause("tags", "team", "=", "risk")]),
        ('tags.team == "risk"', [Clause("tags", "team", "=", "risk")]),
        ("params.C != 1e-3", [Clause("params", "C", "!=", 0.001)]),
        ("status = 'archived'", [Clause("status", None, "=", "archived")]),
        ("metrics.loss < -.5", [Clause("metrics", "loss", "<", -0.5)]),
        ("tags.note = 'it\\'s'", [Clause("tags", "note", "=", "it's")]),
        ("tags.k.with-dots = 'x'", [Clause("tags", "k.with-dots", "=", "x")]),
        (
            "metrics.auc > 0.8 AND tags.team = 'risk' and version <= 3",
            [
                Clause("metrics", "auc", ">", 0.8),
                Clause("tags", "team", "=", "risk"),
                Clause("version", None, "<=", 3.0),
            ],
        ),
    ],
)
def test_parse_filter(text: str, expected: list[Clause]) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("version", "FIELD OP VALUE"),
        ("version >", "FIELD OP VALUE"),
        ("version 3", "FIELD OP VALUE"),
        ("version = 3 or version = 4", "expected 'and'"),
        ("version = 3 and", "FIELD OP VALUE"),
        ("version = 'three'", "version compares with numbers"),
        ("metrics.auc = 'high'", "compares with numbers"),
        ("metrics = 1", "needs a key"),
        ("tags. = 'x'", "needs a key"),
        ("colour = 'red'", "unknown field"),
        ("status.x = 'a'", "unknown field"),
        ("version ~ 3", "cannot read"),
        ("tags.a = 'unterminated", "cannot read"),
        ("3 = version", "not a field name"),
        ("version = = 3", "not a number or a quoted string"),
        ("version >= status", "not a number or a quoted string"),
        ("version = 1.2.3", "cannot read"),
    ],
)
def test_malformed_filters_raise_invalid_input(text: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_filter(text)
    assert caught.value.field == "filter"
    assert says in caught.value.problem


def test_a_filter_must_be_a_string() -> None:
    with pytest.raises(InvalidInput):
        parse_filter(None)  # type: ignore[arg-type]


numbers = st.floats(allow_nan=False, allow_infinity=False)
texts = st.text()
keys = st.from_regex(r"\A[\w.\-]+\Z")


@st.composite
def clauses(draw: st.DrawFn) -> Clause:
    field = draw(st.sampled_from((*PLAIN_FIELDS, *MAP_FIELDS)))
    op = draw(st.sampled_from(OPERATORS))
    key = draw(keys) if field in MAP_FIELDS else None
    value: float | str = draw(numbers if field in ("version", "metrics") else numbers | texts)
    return Clause(field, key, op, value)


def render(clause: Clause) -> str:
    field = clause.field if clause.key is None else f"{clause.field}.{clause.key}"
    if isinstance(clause.value, float):
        value = repr(clause.value)
    else:
        value = "'" + clause.value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return f"{field} {clause.op} {value}"


@settings(deadline=None)
@given(
    st.lists(clauses(), min_size=1, max_size=5),
    st.sampled_from([" and ", " AND ", "\nand\t", " And "]),
)
def test_generated_clauses_parse_back_to_the_same_clauses(items: list[Clause], joiner: str) -> None:
    assert parse_filter(joiner.join(render(c) for c in items)) == items


@settings(deadline=None)
@given(st.text())
@example("version = 1e999999")
@example("metrics.a > ١٢")
@example("tags.a = 'x\\\n'")
def test_arbitrary_text_parses_or_raises_invalid_input(text: str) -> None:
    try:
        parsed = parse_filter(text)
    except InvalidInput as exc:
        assert exc.field == "filter"
        return
    assert all(c.op in OPERATORS for c in parsed)


_pieces = st.sampled_from(
    [
        "version",
        "status",
        "metrics.auc",
        "tags.team",
        "params",
        "and",
        "or",
        "=",
        "==",
        "!=",
        "<",
        ">=",
        "=>",
        "!",
        "1",
        "-2.5e3",
        ".",
        "'x'",
        '"y"',
        "'",
        "\\",
        "(",
        ")",
    ]
)


@settings(deadline=None)
@given(st.lists(_pieces, max_size=12), st.sampled_from([" ", ""]))
def test_token_soup_parses_or_raises_invalid_input(pieces: list[str], joiner: str) -> None:
    with contextlib.suppress(InvalidInput):
        parse_filter(joiner.join(pieces))
