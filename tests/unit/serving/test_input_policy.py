"""Values at the HTTP door: coercion of numbers, booleans and category labels, values never seen
in training flagged or rejected by the input policy, and malformed values named, never raised."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.domain.policy import Inputs
from keel.domain.signature import FeatureSpec, Signature
from keel.errors import SignatureMismatch
from keel.serving.inputs import InputSchema, ParsedRequest, parse_body, rejection_text

SIGNATURE = Signature(
    inputs=(
        FeatureSpec("age", "integer", "int64", minimum=18, maximum=90),
        FeatureSpec("income", "number", "float64", nullable=True, minimum=0.0, maximum=500.0),
        FeatureSpec("plan", "category", "object", categories=("basic", "pro")),
        FeatureSpec("active", "boolean", "bool"),
        FeatureSpec("grade", "category", "category", categories=(3, 1, 2)),
    )
)
GOOD = {"age": 40, "income": 12.5, "plan": "pro", "active": True, "grade": 2}
FLAG = Inputs()
REJECT = Inputs(out_of_range="reject", unseen_category="reject")


def one(schema: InputSchema, **changes: Any) -> Any:
    return schema.check(parse_body(orjson.dumps(GOOD | changes)))


def values(**changes: Any) -> list[Any]:
    return one(InputSchema(SIGNATURE), **changes).rows[0]


@pytest.mark.parametrize(
    ("field", "sent", "taken"),
    [
        ("age", "41", 41),
        ("age", "-0", 0),
        ("age", "41.0", 41.0),
        ("age", 41.0, 41.0),
        ("age", "4.1e1", 41.0),
        ("income", "12.5", 12.5),
        ("income", "3", 3),
        ("income", ".5", 0.5),
        ("active", 1, True),
        ("active", 0, False),
        ("active", 1.0, True),
        ("active", "true", True),
        ("active", "False", False),
        ("active", "1", True),
        ("active", "0", False),
        ("plan", "basic", "basic"),
        ("grade", 3, 3),
        ("grade", "3", 3),
        ("grade", 3.0, 3),
    ],
)
def test_values_are_coerced_when_unambiguous(field: str, sent: Any, taken: Any) -> None:
    position = [s.name for s in SIGNATURE.inputs].index(field)
    got = values(**{field: sent})[position]
    assert got == taken and type(got) is type(taken)


@pytest.mark.parametrize(
    ("field", "sent", "problem"),
    [
        ("age", "3.5", "not an integer"),
        ("age", 3.5, "not an integer"),
        ("age", "abc", "wrong type string"),
        ("age", " 41", "wrong type string"),
        ("age", "4_1", "wrong type string"),
        ("age", "٤١", "wrong type string"),  # Arabic-Indic digits are not JSON's
        ("age", True, "wrong type boolean"),
        ("age", 2.0**64, "too large for an integer"),
        ("age", "9" * 30, "too large for an integer"),
        ("income", "nan", "wrong type string"),
        ("income", "inf", "wrong type string"),
        ("income", "1e999", "wrong type string"),
        ("income", "1" * 101, "wrong type string"),
        ("income", {"v": 1}, "wrong type object"),
        ("active", 2, "wrong type number"),
        ("active", "yes", "wrong type string"),
        ("plan", True, "wrong type boolean"),
        ("plan", ["pro"], "wrong type array"),
    ],
)
def test_malformed_values_refuse_the_request_naming_field_and_row(
    field: str, sent: Any, problem: str
) -> None:
    body = {"records": [GOOD, GOOD | {field: sent}]}
    with pytest.raises(SignatureMismatch) as caught:
        InputSchema(SIGNATURE, rules=REJECT).check(parse_body(orjson.dumps(body)), model="m/1")
    assert [(p["field"], p["row"], p["problem"]) for p in caught.value.problems] == [
        (field, 1, problem)
    ]
    assert caught.value.problems[0]["value"] == sent


def test_a_missing_field_is_still_a_problem_of_its_row() -> None:
    record = dict(GOOD)
    del record["plan"]
    with pytest.raises(SignatureMismatch) as caught:
        InputSchema(SIGNATURE).check(parse_body(orjson.dumps({"records": [GOOD, record]})))
    assert [(p["field"], p["row"], p["problem"]) for p in caught.value.problems] == [
        ("plan", 1, "missing field")
    ]


def test_values_never_seen_are_flagged_by_default_and_answered_as_sent() -> None:
    checked = one(InputSchema(SIGNATURE), age=95, plan="gold", grade="7")
    assert checked.rows == [[95, 12.5, "gold", True, "7"]]
    assert not checked.rejected
    found = {(w["field"], w["code"]): w for w in checked.warnings[0]}
    assert set(found) == {
        ("age", "out_of_range"),
        ("plan", "unseen_category"),
        ("grade", "unseen_category"),
    }
    assert found[("age", "out_of_range")]["expected"] == [18, 90]
    assert found[("age", "out_of_range")]["problem"] == "outside the training range"
    assert found[("plan", "unseen_category")]["expected"] == ["basic", "pro"]
    assert found[("grade", "unseen_category")]["expected"] == [3, 1, 2]  # training order
    assert found[("grade", "unseen_category")]["value"] == "7"
    logged = orjson.loads(checked.log_warnings()[0])
    assert {(w["field"], w["code"]) for w in logged} == set(found)


def test_reject_takes_the_row_out_but_keeps_the_rest_of_the_request() -> None:
    body = {"records": [GOOD, GOOD | {"age": 95}, GOOD | {"plan": "gold"}, GOOD]}
    checked = InputSchema(SIGNATURE, rules=REJECT).check(parse_body(orjson.dumps(body)))
    assert sorted(checked.rejected) == [1, 2] and not checked.warnings
    assert [e["code"] for e in checked.rejected[1]] == ["out_of_range"]
    assert checked.rows[1][0] == 95  # the value is kept, so the log holds it
    assert checked.log_rejections()[2].startswith('rejected: plan: unseen category ("gold"')
    assert checked.log_warnings()[0] is None and checked.log_warnings()[3] is None


def test_each_check_has_its_own_action() -> None:
    rules = Inputs(out_of_range="reject", unseen_category="flag")
    checked = one(InputSchema(SIGNATURE, rules=rules), age=95, plan="gold")
    assert [e["code"] for e in checked.rejected[0]] == ["out_of_range"]
    assert [e["code"] for e in checked.warnings[0]] == ["unseen_category"]


def test_without_range_checks_numbers_are_neither_flagged_nor_rejected() -> None:
    checked = one(InputSchema(SIGNATURE, check_ranges=False, rules=REJECT), age=200)
    assert checked.rows[0][0] == 200 and not checked.rejected and not checked.warnings


def test_the_strict_reading_refuses_values_never_seen() -> None:
    with pytest.raises(SignatureMismatch) as caught:
        InputSchema(SIGNATURE).rows(parse_body(orjson.dumps(GOOD | {"age": 95})))
    assert caught.value.problems[0]["problem"] == "outside the training range"


def test_a_clean_request_carries_nothing_extra() -> None:
    checked = one(InputSchema(SIGNATURE))
    assert checked.warnings == {} and checked.rejected == {}
    assert checked.log_warnings() is None and checked.log_rejections() == {}


def test_the_columns_form_is_checked_the_same_way() -> None:
    body = {"columns": list(GOOD), "data": [list(GOOD.values()), [95, "1", "gold", "true", 1]]}
    checked = InputSchema(SIGNATURE, rules=REJECT).check(parse_body(orjson.dumps(body)))
    assert checked.rows[1] == [95, 1, "gold", True, 1]
    assert sorted(checked.rejected) == [1]


def test_rejection_text_quotes_long_values_briefly() -> None:
    entry = {"field": "plan", "problem": "unseen category", "value": "x" * 500, "expected": []}
    text = rejection_text([entry])
    assert text.startswith("rejected: plan: unseen category (") and len(text) < 200


# -- any JSON value, any kind: parsed to the right type or a problem naming the field ----------
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["3", "3.5", "-2e3", "true", "FALSE", "1", "0", "pro", "2", "1e999"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)
KINDS = {
    "integer": FeatureSpec("f", "integer", "int64", minimum=0, maximum=10),
    "number": FeatureSpec("f", "number", "float64", minimum=0.0, maximum=10.0),
    "boolean": FeatureSpec("f", "boolean", "bool"),
    "category": FeatureSpec("f", "category", "object", categories=("pro", "2")),
    "int-category": FeatureSpec("f", "category", "category", categories=(1, 2)),
    "free-text": FeatureSpec("f", "category", "object"),
    "datetime": FeatureSpec("f", "datetime", "datetime64[ns]"),
    "other": FeatureSpec("f", "other", "object"),
}


def _fits(spec: FeatureSpec, value: Any) -> bool:
    if spec.kind == "integer":
        return type(value) is int or (type(value) is float and value.is_integer())
    if spec.kind == "number":
        return type(value) in (int, float) and math.isfinite(value)
    if spec.kind == "boolean":
        return type(value) is bool
    if spec.kind == "category":
        return spec.categories is None or value in spec.categories or isinstance(value, str)
    if spec.kind == "datetime":
        return isinstance(value, str)
    return not isinstance(value, dict | list)


@given(value=JSON, kind=st.sampled_from(sorted(KINDS)), reject=st.booleans())
def test_any_json_value_parses_to_its_type_or_names_the_field(
    value: Any, kind: str, reject: bool
) -> None:
    spec = KINDS[kind]
    schema = InputSchema(Signature(inputs=(spec,)), rules=REJECT if reject else FLAG)
    parsed = ParsedRequest("record", 1, records=[{"f": value}])
    try:
        checked = schema.check(parsed)
    except SignatureMismatch as exc:
        assert exc.problems and all(p["field"] == "f" and p["row"] == 0 for p in exc.problems)
        return
    taken = checked.rows[0][0]
    assert taken is not None  # None is a missing value: a problem for these specs
    assert _fits(spec, taken), (value, taken)
    flagged = [*checked.warnings.get(0, []), *checked.rejected.get(0, [])]
    assert all(e["field"] == "f" for e in flagged)
    assert bool(checked.rejected) == (reject and bool(flagged))
    assert all(isinstance(t, str) for t in checked.log_rejections().values())
    assert checked.log_warnings() is None or len(checked.log_warnings() or []) == 1


@pytest.mark.parametrize(
    ("sent", "problem"),
    [
        ("2024-03-01T12:30:00Z", None),
        ("2024-03-01", None),
        ("2024-03-01 12:30:00+05:00", None),
        ("1 March 2024", "not a datetime"),  # not ISO 8601: the frame could not read it
        ("not a date", "not a datetime"),
        ("2024-13-45", "not a datetime"),
        (20240301, "wrong type number"),
    ],
)
def test_a_datetime_is_text_a_datetime_can_be_read_from(sent: Any, problem: str | None) -> None:
    schema = InputSchema(Signature(inputs=(FeatureSpec("opened", "datetime", "datetime64[ns]"),)))
    body = parse_body(orjson.dumps({"opened": sent}))
    if problem is None:
        assert schema.check(body).rows == [[sent]]
        return
    with pytest.raises(SignatureMismatch) as caught:
        schema.check(body)
    assert [(p["field"], p["problem"]) for p in caught.value.problems] == [("opened", problem)]


@pytest.mark.parametrize(
    ("categories", "sent", "taken"),
    [
        ((3, 1, 2), "1.0", 1),
        ((3, 1, 2), 1.0, 1),
        ((3, 1, 2), "1", 1),
        ((2.0, 0.5), 2, 2.0),
        ((2.0, 0.5), "2", 2.0),
        ((2.0, 0.5), "0.5", 0.5),
        (("1", "2"), 1, "1"),
    ],
)
def test_a_number_category_is_found_by_its_value(
    categories: tuple[Any, ...], sent: Any, taken: Any
) -> None:
    """The check and the frame agree: what the model gets is the signature's own category,
    never a label flagged unseen."""
    spec = FeatureSpec("grade", "category", "category", categories=categories)
    checked = InputSchema(Signature(inputs=(spec,)), rules=REJECT).check(
        parse_body(orjson.dumps({"grade": sent}))
    )
    assert checked.rows == [[taken]] and not checked.rejected
    assert type(checked.rows[0][0]) is type(taken)
