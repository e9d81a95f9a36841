"""Request bodies: the three forms, and every problem reported once, with the same kinds of
problems ``check_frame`` finds in a DataFrame."""

from __future__ import annotations

import orjson
import pandas as pd
import pytest

from keel.domain.signature import FeatureSpec, Signature
from keel.errors import InvalidInput, SignatureMismatch
from keel.registry.signatures import check_frame
from keel.serving.inputs import MAX_PROBLEMS, MAX_ROWS, InputSchema, parse_body

SIGNATURE = Signature(
    inputs=(
        FeatureSpec("age", "integer", "int64", minimum=18, maximum=90),
        FeatureSpec("income", "number", "float64", nullable=True, minimum=0.0, maximum=500.0),
        FeatureSpec("plan", "category", "object", categories=("basic", "pro")),
        FeatureSpec("active", "boolean", "bool"),
    )
)


def body(value: object) -> bytes:
    return orjson.dumps(value)


def test_the_three_forms_give_the_same_rows_in_training_order() -> None:
    schema = InputSchema(SIGNATURE)
    record = {"plan": "pro", "active": True, "income": 12.5, "age": 40, "extra": "ignored"}
    one = parse_body(body(record | {"key": "c-1"}))
    many = parse_body(body({"records": [record, record], "key": 7}))
    columns = parse_body(
        body({"columns": list(record), "data": [list(record.values())] * 2, "key": "c-3"})
    )
    assert (one.form, one.rows, one.key) == ("record", 1, "c-1")
    assert (many.form, many.rows, many.key) == ("records", 2, "7")
    assert (columns.form, columns.rows, columns.key) == ("columns", 2, "c-3")
    expected = [40, 12.5, "pro", True]
    assert schema.rows(one) == [expected]
    assert schema.rows(many) == schema.rows(columns) == [expected, expected]


def test_values_are_taken_strictly_but_sensibly() -> None:
    schema = InputSchema(SIGNATURE)
    rows = schema.rows(
        parse_body(body({"records": [{"age": 40.0, "income": None, "plan": "basic", "active": 1}]}))
    )
    assert rows == [[40.0, None, "basic", True]]


@pytest.mark.parametrize(
    ("record", "field", "problem"),
    [
        ({"income": 1.0, "plan": "pro", "active": True}, "age", "missing field"),
        ({"age": None, "income": 1.0, "plan": "pro", "active": True}, "age", "missing value"),
        ({"age": "x", "income": 1.0, "plan": "pro", "active": True}, "age", "wrong type string"),
        ({"age": True, "income": 1.0, "plan": "pro", "active": True}, "age", "wrong type boolean"),
        ({"age": 40.5, "income": 1.0, "plan": "pro", "active": True}, "age", "not an integer"),
        ({"age": 17, "income": 1.0, "plan": "pro", "active": True}, "age",
         "outside the training range"),
        ({"age": 40, "income": 501.0, "plan": "pro", "active": True}, "income",
         "outside the training range"),
        ({"age": 40, "income": 1.0, "plan": "gold", "active": True}, "plan", "unseen category"),
        ({"age": 40, "income": 1.0, "plan": ["pro"], "active": True}, "plan", "wrong type array"),
        ({"age": 40, "income": 1.0, "plan": "pro", "active": "yes"}, "active",
         "wrong type string"),
    ],
)  # fmt: skip
def test_each_problem_is_named_with_its_value_and_expectation(
    record: dict[str, object], field: str, problem: str
) -> None:
    with pytest.raises(SignatureMismatch) as caught:
        InputSchema(SIGNATURE).rows(parse_body(body(record)), model="m/1")
    assert [(p["field"], p["row"], p["problem"]) for p in caught.value.problems] == [
        (field, 0, problem)
    ]
    entry = caught.value.problems[0]
    assert entry["value"] == record.get(field)
    assert entry["expected"] is not None
    assert caught.value.to_dict()["model"] == "m/1"


def test_range_checks_can_be_turned_off() -> None:
    record = {"age": 120, "income": 9999.0, "plan": "pro", "active": False}
    assert InputSchema(SIGNATURE, check_ranges=False).rows(parse_body(body(record)))


def test_every_row_is_checked_and_the_list_is_capped() -> None:
    bad = {"age": "x", "income": "y", "plan": 3, "active": 2}
    with pytest.raises(SignatureMismatch) as caught:
        InputSchema(SIGNATURE).rows(parse_body(body({"records": [bad] * 30})))
    assert len(caught.value.problems) == MAX_PROBLEMS
    assert caught.value.fields["problem_count"] == 120
    assert {p["row"] for p in caught.value.problems} == set(range(25))


def test_a_missing_column_in_the_columns_form_is_one_problem() -> None:
    parsed = parse_body(body({"columns": ["age"], "data": [[40]] * 50}))
    with pytest.raises(SignatureMismatch) as caught:
        InputSchema(SIGNATURE).rows(parsed)
    assert [(p["field"], p["row"]) for p in caught.value.problems] == [
        ("income", None),
        ("plan", None),
        ("active", None),
    ]


@pytest.mark.parametrize(
    "raw",
    [b"", b"nope", b"[]", b"3", b'{"records": [1]}', b'{"records": []}',
     b'{"columns": ["a", "a"], "data": []}', b'{"columns": ["a"], "data": [[1, 2]]}',
     b'{"columns": ["a"], "data": "x"}', b'{"key": {"a": 1}}', b'{"key": true}'],
)  # fmt: skip
def test_malformed_bodies_are_invalid_input_with_a_problem_list(raw: bytes) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_body(raw)
    assert caught.value.fields["problems"][0]["field"]


def test_too_many_rows_are_refused() -> None:
    with pytest.raises(InvalidInput, match="at most"):
        parse_body(body({"records": [{}] * (MAX_ROWS + 1)}))


def _kind(problem: str) -> str:
    for word in ("missing field", "missing value", "integer", "range", "category"):
        if word in problem:
            return word
    return "type" if "type" in problem or "number" in problem else problem


def test_the_same_kinds_of_problems_as_check_frame() -> None:
    rows = [
        {"age": 40, "income": 10.0, "plan": "pro", "active": True},
        {"age": 40.5, "income": 10.0, "plan": "pro", "active": True},
        {"age": 40, "income": 900.0, "plan": "gold", "active": True},
        {"age": 40, "income": "ten", "plan": "pro", "active": True},
    ]
    for row in rows:
        frame_problems = check_frame(SIGNATURE, pd.DataFrame([row]))
        try:
            InputSchema(SIGNATURE).rows(parse_body(body(row)))
            ours: list[dict[str, object]] = []
        except SignatureMismatch as exc:
            ours = exc.problems
        assert {(p["field"], _kind(str(p["problem"]))) for p in ours} == {
            (p["field"], _kind(p["problem"])) for p in frame_problems
        }, row
