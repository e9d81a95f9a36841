"""Signatures keep each feature's logical type, and a pandas category's categories in training
order; the checks accept what can be restored unambiguously and name the field otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import orjson
import pandas as pd
import pytest

from keel.domain.entities import ModelVersion
from keel.domain.signature import FeatureSpec, Signature, type_of
from keel.errors import SignatureMismatch
from keel.registry.loaded import LoadedModel
from keel.registry.profiling import MAX_CATEGORIES, profile_frame
from keel.registry.signatures import check_frame, infer_signature, signature_from_profile


@pytest.fixture
def train() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [30, 41, 52, 23],
            "income": [1.5, 2.5, None, 4.0],
            "member": [True, False, True, True],
            "city": ["Oslo", "Lyon", "Rome", "Lyon"],
            "grade": pd.Categorical([3, 1, 10, 3], categories=[10, 3, 1, 7]),
            "size": pd.Categorical(["S", "L", "M", "S"], categories=["S", "M", "L"], ordered=True),
            "seen": pd.to_datetime(pd.Series(["2024-01-01", "2024-02-01", "2024-03-01", None])),
        }
    )


def test_each_feature_keeps_its_logical_type(train: pd.DataFrame) -> None:
    signature = infer_signature(train)
    types = {spec.name: (spec.kind, spec.type) for spec in signature.inputs}
    assert types == {
        "age": ("integer", "int"),
        "income": ("number", "float"),
        "member": ("boolean", "bool"),
        "city": ("category", "string"),
        "grade": ("category", "category"),
        "size": ("category", "category"),
        "seen": ("datetime", "datetime"),
    }
    # every category of the dtype, in its order, ints kept as ints; text sorted as before
    assert signature.feature("grade").categories == (10, 3, 1, 7)
    assert signature.feature("size").categories == ("S", "M", "L")
    assert signature.feature("size").ordered and not signature.feature("grade").ordered
    assert signature.feature("city").categories == ("Lyon", "Oslo", "Rome")
    assert signature.feature("grade").labels == ("10", "3", "1", "7")


def test_the_types_survive_json(train: pd.DataFrame) -> None:
    signature = infer_signature(train)
    stored = orjson.loads(orjson.dumps(signature.to_dict()))
    grade = next(i for i in stored["inputs"] if i["name"] == "grade")
    assert grade["type"] == "category" and grade["categories"] == [10, 3, 1, 7]
    assert next(i for i in stored["inputs"] if i["name"] == "size")["ordered"] is True
    assert "ordered" not in grade
    assert Signature.from_dict(stored) == signature


def test_the_snapshot_profile_gives_the_same_signature(train: pd.DataFrame) -> None:
    profile = orjson.loads(orjson.dumps(profile_frame(train)))
    assert profile["columns"]["grade"]["order"] == [10, 3, 1, 7]
    assert signature_from_profile(profile, list(train.columns)) == infer_signature(train)


def test_a_pandas_category_keeps_all_its_categories_however_many() -> None:
    many = [f"c{i:04d}" for i in reversed(range(MAX_CATEGORIES + 50))]
    frame = pd.DataFrame({"code": pd.Categorical(many[:10], categories=many)})
    assert infer_signature(frame).feature("code").categories == tuple(many)
    profile = orjson.loads(orjson.dumps(profile_frame(frame)))
    assert signature_from_profile(profile, ["code"]) == infer_signature(frame)
    # plain text stays open above the bound, as before
    text = pd.DataFrame({"code": many})
    assert infer_signature(text).feature("code").categories is None


def test_old_signatures_and_profiles_get_a_type_from_kind_and_dtype() -> None:
    old = {
        "inputs": [
            {"name": "a", "kind": "integer", "dtype": "int64"},
            {"name": "b", "kind": "number", "dtype": "float32"},
            {"name": "c", "kind": "boolean", "dtype": "bool"},
            {"name": "d", "kind": "category", "dtype": "object", "categories": ["x", "y"]},
            {"name": "e", "kind": "category", "dtype": "category", "categories": ["1", "2"]},
            {"name": "f", "kind": "datetime", "dtype": "datetime64[ns]"},
            {"name": "g", "kind": "other", "dtype": "timedelta64[ns]"},
        ]
    }
    types = [spec.type for spec in Signature.from_dict(old).inputs]
    assert types == ["int", "float", "bool", "string", "category", "datetime", "other"]
    assert type_of("category", "str") == "string"
    profile = {
        "columns": {
            "e": {
                "kind": "category",
                "dtype": "category",
                "missing_share": 0.0,
                "categories": {"2": 0.5, "1": 0.5},
                "complete": True,
            }
        }
    }
    spec = signature_from_profile(profile, ["e"]).feature("e")
    assert (spec.type, spec.categories) == ("category", ("1", "2"))


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(TypeError, match="unknown type"):
        FeatureSpec.from_dict({"name": "a", "kind": "integer", "dtype": "int64", "type": "int8"})


# -- checks: what can be restored is accepted, the rest named ------------------------------------


def test_what_restores_unambiguously_is_accepted(train: pd.DataFrame) -> None:
    signature = infer_signature(train)
    plain = pd.DataFrame(
        {
            "age": ["30", 41.0, 52, "23"],  # numbers as text, an int as 41.0
            "income": ["1.5", None, 3, 4.25],
            "member": [1, 0, "true", "False"],  # booleans as 0/1 and as text
            "city": ["Oslo", "Oslo", "Rome", "Lyon"],
            "grade": ["3", 1, 10.0, "7"],  # categories by label or by value
            "size": ["S", "M", "L", "S"],
            "seen": ["2024-01-01", "2024-01-02T10:00:00", None, "2024-05-01 12:00"],
        },
        dtype=object,
    )
    assert check_frame(signature, plain, check_ranges=False) == []


def test_what_cannot_be_restored_is_named(train: pd.DataFrame) -> None:
    signature = infer_signature(train)
    bad = pd.DataFrame(
        {
            "age": [30, "thirty", 3.5, 40],
            "income": [1.0, 2.0, 3.0, 4.0],
            "member": [True, "maybe", 2, False],
            "city": ["Oslo", "Lyon", "Rome", "Lyon"],
            "grade": ["3", "4", 1, 3.5],
            "size": ["S", "XL", "M", "S"],
            "seen": ["2024-01-01", "someday", "2024-01-01", "2024-01-01"],
        },
        dtype=object,
    )
    problems = check_frame(signature, bad, check_ranges=False)
    found = {(p["field"], p["problem"]): p.get("value") for p in problems}
    assert found == {
        ("age", "not a number"): ["thirty"],
        ("age", "not an integer"): [3.5],
        ("member", "wrong type object"): ["maybe", 2],
        ("grade", "unseen category"): ["4", 3.5],
        ("size", "unseen category"): ["XL"],
        ("seen", "not a datetime"): ["someday"],
    }


def _version(signature: Signature) -> ModelVersion:
    return ModelVersion(
        name="m",
        version=1,
        artifact_sha256="0" * 64,
        format="test",
        model_class="test",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        author="test",
        signature=signature,
    )


class _Echo:
    """A model that hands back what it was given, to see what ``LoadedModel`` passes on."""

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame


def test_loaded_model_checks_then_gives_the_training_types(train: pd.DataFrame) -> None:
    loaded = LoadedModel(_Echo(), _version(infer_signature(train)))
    plain = train.astype({"grade": str, "size": str, "age": float}).iloc[:, ::-1]
    pd.testing.assert_frame_equal(loaded.predict(plain), train)
    pd.testing.assert_frame_equal(loaded.predict(plain, validate=False), train)
    with pytest.raises(SignatureMismatch) as caught:
        loaded.predict(plain.assign(size="XL"))
    assert caught.value.problems[0]["field"] == "size"
    # unchecked, a frame lacking a feature reaches the model as it is, for it to say so
    lacking = plain.drop(columns=["grade"])
    assert loaded.predict(lacking, validate=False) is lacking
    assert np.array_equal(loaded.predict(plain)["grade"].cat.categories, [10, 3, 1, 7])
