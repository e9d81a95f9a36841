"""Inferring input signatures and checking frames against them, one entry per problem."""

from __future__ import annotations

import pandas as pd
import pytest

from keel.domain.signature import Signature
from keel.errors import InvalidInput
from keel.registry.profiling import MAX_CATEGORIES, profile_frame
from keel.registry.signatures import check_frame, infer_signature, signature_from_profile


@pytest.fixture
def train() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "income": [1000.0, 2500.5, 4000.0, None],
            "age": [18, 40, 65, 33],
            "city": ["Lyon", "Oslo", "Lyon", "Rome"],
            "member": [True, False, True, True],
        }
    )


@pytest.fixture
def signature(train: pd.DataFrame) -> Signature:
    return infer_signature(train)


def test_inferred_signature(signature: Signature) -> None:
    assert signature.feature_names == ["income", "age", "city", "member"]
    income = signature.feature("income")
    assert (income.kind, income.dtype, income.nullable) == ("number", "float64", True)
    assert (income.minimum, income.maximum) == (1000.0, 4000.0)
    age = signature.feature("age")
    assert (age.kind, age.nullable, age.minimum, age.maximum) == ("integer", False, 18.0, 65.0)
    assert signature.feature("city").kind == "category"
    assert signature.feature("city").categories == ("Lyon", "Oslo", "Rome")
    assert signature.feature("member").kind == "boolean"


def test_features_restrict_and_order_the_signature(train: pd.DataFrame) -> None:
    signature = infer_signature(train, ["city", "age"])
    assert signature.feature_names == ["city", "age"]


def test_unknown_features_raise_invalid_input(train: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput) as caught:
        infer_signature(train, ["age", "height", "weight"])
    assert caught.value.field == "features"
    assert "height, weight" in caught.value.problem


def test_too_many_categories_are_not_enumerated() -> None:
    frame = pd.DataFrame({"id": [f"u{i}" for i in range(MAX_CATEGORIES + 1)]})
    spec = infer_signature(frame).feature("id")
    assert spec.kind == "category"
    assert spec.categories is None
    assert check_frame(infer_signature(frame), pd.DataFrame({"id": ["new"]})) == []


def test_signature_from_profile_matches_inference(train: pd.DataFrame) -> None:
    from_profile = signature_from_profile(profile_frame(train), ["income", "age", "city", "member"])
    assert from_profile == infer_signature(train)


def test_signature_from_profile_names_missing_features(train: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput) as caught:
        signature_from_profile(profile_frame(train), ["age", "height"])
    assert caught.value.field == "features"


def test_the_training_frame_fits_its_signature(train: pd.DataFrame, signature: Signature) -> None:
    assert check_frame(signature, train) == []
    reordered = train[["member", "city", "age", "income"]].assign(extra=1)
    assert check_frame(signature, reordered) == []


def by_field(problems: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    fields = [p["field"] for p in problems]
    assert len(fields) == len(set(fields)), f"more than one problem per field: {problems}"
    return {p["field"]: p for p in problems}


def test_every_kind_of_problem_is_reported_once_per_field(signature: Signature) -> None:
    frame = pd.DataFrame(
        {
            # income missing entirely
            "age": [20, 99, 30],  # outside the training range
            "city": ["Lyon", "Paris", "Oslo"],  # unseen category
            "member": ["yes", "no", "maybe"],  # wrong type
        }
    )
    problems = by_field(check_frame(signature, frame))
    assert set(problems) == {"income", "age", "city", "member"}
    assert problems["income"]["problem"] == "missing field"
    assert problems["income"]["expected"] == "number"
    assert problems["age"]["problem"] == "outside the training range"
    assert problems["age"]["value"] == [99]
    assert problems["age"]["expected"] == [18.0, 65.0]
    assert problems["city"]["problem"] == "unseen category"
    assert problems["city"]["value"] == ["Paris"]
    assert problems["member"]["problem"].startswith("wrong type")


def test_nulls_wrong_types_and_fractions(signature: Signature) -> None:
    frame = pd.DataFrame(
        {
            "income": ["a lot", "some", "none"],  # wrong type for a number
            "age": [20.0, 30.5, 40.0],  # not an integer
            "city": ["Lyon", None, "Oslo"],  # null where training had none
            "member": [True, False, True],
        }
    )
    problems = by_field(check_frame(signature, frame))
    assert set(problems) == {"income", "age", "city"}
    assert problems["income"]["problem"].startswith("wrong type")
    assert problems["age"]["problem"] == "not an integer"
    assert problems["age"]["value"] == [30.5]
    assert problems["city"]["problem"] == "1 missing value(s)"


def test_nulls_in_a_nullable_feature_are_fine(signature: Signature) -> None:
    frame = pd.DataFrame(
        {"income": [None, 2000.0], "age": [30, 31], "city": ["Lyon", "Rome"], "member": [1, 0]}
    )
    assert check_frame(signature, frame) == []


def test_numbers_given_as_objects_are_accepted_and_checked(signature: Signature) -> None:
    frame = pd.DataFrame(
        {
            "income": pd.Series([1500, 2000.5], dtype=object),
            "age": pd.Series([30, "x"], dtype=object),
            "city": ["Lyon", "Rome"],
            "member": [True, True],
        }
    )
    problems = by_field(check_frame(signature, frame))
    assert set(problems) == {"age"}
    assert problems["age"]["problem"] == "not a number"
    assert problems["age"]["value"] == ["x"]


def test_ranges_can_be_left_unchecked(signature: Signature) -> None:
    frame = pd.DataFrame(
        {"income": [1e9], "age": [120], "city": ["Lyon"], "member": [False]},
    )
    assert check_frame(signature, frame, check_ranges=False) == []
    assert {p["field"] for p in check_frame(signature, frame)} == {"income", "age"}


def test_examples_are_bounded(signature: Signature) -> None:
    frame = pd.DataFrame(
        {
            "income": [1000.0] * 10,
            "age": [18] * 10,
            "city": [f"c{i}" for i in range(10)],
            "member": [True] * 10,
        }
    )
    (problem,) = check_frame(signature, frame)
    assert problem["field"] == "city"
    assert problem["value"] == ["c0", "c1", "c2"]
