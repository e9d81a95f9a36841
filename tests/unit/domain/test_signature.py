"""Signatures and records turn into plain JSON and back without losing anything."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from keel.domain.entities import AliasPeriod, ModelVersion
from keel.domain.signature import FeatureSpec, Signature

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
