"""Signatures and records turn into plain JSON and back without losing anything."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.domain.entities import AliasPeriod, Lineage, ModelVersion
from keel.domain.signature import KINDS, TYPES, FeatureSpec, Signature

SIGNATURE = Signature(
    inputs=(
        FeatureSpec("age", "integer", "int64", minimum=18.0, maximum=90.0),
        FeatureSpec("income", "number", "float64", nullable=True, minimum=0.0, maximum=1e6),
        FeatureSpec("city", "category", "str", categories=("Lyon", "Oslo")),
        FeatureSpec("member", "boolean", "bool"),
    ),
    outputs={"kind": "label"},
)


def test_signature_round_trips_through_json() -> None:
    data = json.loads(json.dumps(SIGNATURE.to_dict()))
    assert Signature.from_dict(data) == SIGNATURE


def test_optional_parts_are_left_out_of_the_dict() -> None:
    member = SIGNATURE.feature("member").to_dict()
    assert member == {"name": "member", "kind": "boolean", "dtype": "bool", "type": "bool"}
    assert SIGNATURE.feature("income").to_dict()["nullable"] is True


def test_feature_lookup() -> None:
    assert SIGNATURE.feature_names == ["age", "income", "city", "member"]
    assert SIGNATURE.feature("city").categories == ("Lyon", "Oslo")
    with pytest.raises(KeyError):
        SIGNATURE.feature("height")


def test_records_turn_into_json_ready_dicts() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    version = ModelVersion(
        name="fraud",
        version=3,
        artifact_sha256="a" * 64,
        format="skops",
        model_class="sklearn.linear_model.LogisticRegression",
        created_at=moment,
        author="ann",
        metrics={"auc": 0.9},
    )
    data = version.to_dict()
    assert data["created_at"] == "2026-01-02T03:04:05+00:00"
    assert data["metrics"] == {"auc": 0.9}
    assert json.loads(json.dumps(data)) == data
    assert version.ref == "fraud/3"
    assert version.uri == "models:/fraud/3"
    period = AliasPeriod("champion", 3, moment, None, "ann", "first")
    assert period.to_dict()["end"] is None


_NUMBERS = st.floats(allow_nan=False, allow_infinity=False)
#: what JSON keeps of a category: text, whole numbers orjson can write, finite floats, booleans
_CATEGORY = st.one_of(
    st.text(max_size=8), st.integers(-(2**63), 2**63 - 1), _NUMBERS, st.booleans()
)


@st.composite
def _features(draw: st.DrawFn, name: str) -> FeatureSpec:
    kind = draw(st.sampled_from(KINDS))
    return FeatureSpec(
        name=name,
        kind=kind,
        dtype=draw(st.sampled_from(["int64", "Int64", "float32", "bool", "category", "object"])),
        nullable=draw(st.booleans()),
        minimum=draw(st.none() | _NUMBERS),
        maximum=draw(st.none() | _NUMBERS),
        categories=draw(st.none() | st.lists(_CATEGORY, max_size=6).map(tuple)),
        ordered=draw(st.booleans()),
        type=draw(st.sampled_from(["", *TYPES])),  # "": derived, as in older signatures
    )


@st.composite
def signatures(draw: st.DrawFn) -> Signature:
    names = draw(st.lists(st.text(min_size=1, max_size=10), max_size=6, unique=True))
    outputs = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "flavour": st.sampled_from(["sklearn", "lightgbm", "python"]),
                "probabilities": st.booleans(),
                "classes": st.lists(st.text(max_size=5) | st.integers(-5, 5), max_size=4),
                "kind": st.text(max_size=5),
            },
        )
    )
    return Signature(inputs=tuple(draw(_features(n)) for n in names), outputs=outputs)


@given(signatures())
def test_every_signature_round_trips_through_its_stored_json(signature: Signature) -> None:
    stored = signature.to_dict()
    assert Signature.from_dict(stored) == signature
    # what the store keeps is JSON: read back, it is the same signature and writes the same JSON
    from_store = Signature.from_dict(orjson.loads(orjson.dumps(stored)))
    assert from_store == signature
    assert from_store.to_dict() == stored


def test_a_signature_stored_before_types_loads_and_writes_its_derived_types() -> None:
    old = {
        "inputs": [
            {"name": "grade", "kind": "category", "dtype": "category", "categories": [10, 3]},
            {"name": "age", "kind": "integer", "dtype": "int64", "min": 18, "max": 90},
        ]
    }
    signature = Signature.from_dict(old)
    assert [spec.type for spec in signature.inputs] == ["category", "int"]
    assert signature.outputs == {}
    again = signature.to_dict()
    assert [spec.pop("type") for spec in again["inputs"]] == ["category", "int"]
    assert again == {**old, "outputs": {}}
    assert signature.stored_form() == old  # a version's record shows what was stored
    assert replace(signature, outputs={"flavour": "sklearn"}).stored_form()["outputs"] == {
        "flavour": "sklearn"
    }  # a changed signature is written anew, not read back from the old JSON


def test_only_keeps_the_named_features_in_training_order() -> None:
    assert SIGNATURE.only(["member", "age", "height"]).feature_names == ["age", "member"]
    assert SIGNATURE.only([]).inputs == ()


def test_a_version_shows_its_signature_as_the_stored_json() -> None:
    """The typed signature turns into the same JSON every door has shown, in a version's
    ``to_dict`` and nested in a lineage's."""
    moment = datetime(2026, 1, 2, tzinfo=UTC)
    version = ModelVersion(
        name="fraud",
        version=1,
        artifact_sha256="a" * 64,
        format="skops",
        model_class="LogisticRegression",
        created_at=moment,
        author="ann",
        signature=SIGNATURE,
    )
    data = version.to_dict()
    assert data["signature"] == SIGNATURE.to_dict()
    assert data["signature"]["inputs"][1]["min"] == 0.0  # stored names, not the fields'
    assert json.loads(json.dumps(data)) == data
    lineage = Lineage(version, None, [], [version], [], [])
    nested = lineage.to_dict()
    assert nested["version"]["signature"] == nested["parents"][0]["signature"] == data["signature"]
    # a nested version is its stored fields, as before: the flavour is a top-level extra
    assert {k: v for k, v in data.items() if k != "flavour"} == nested["version"]
