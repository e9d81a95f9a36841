"""Stored evaluations and gate verdicts read back as ``keel evaluations list --json`` and the
lineage have always shown them: the same keys in the same order, times as ISO 8601."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from keel.registry.evaluation_records import EvaluationRecord, EvaluationSummary, GateRecord

AT = datetime(2026, 11, 5, 9, 30, 0, 125000, tzinfo=UTC)
SNAPSHOTS = [{"ref": "holdout/1", "sha256": "cd" * 32, "rows": 143}]
CHECKS = [{"gate": "accuracy >= 0.9", "value": 0.93, "passed": True}]

GATE_ROW = SimpleNamespace(
    id=4,
    version_id=11,
    evaluation_id=7,
    verdict="blessed",
    risk_profile="medium",
    checks=CHECKS,
    reasons=[],
    author="ci",
    created_at=AT,
    champion_version=1,
)
EVALUATION_ROW = SimpleNamespace(
    id=7,
    version_id=11,
    suite="holdout",
    status="finished",
    snapshots=SNAPSHOTS,
    champion_version_id=10,
    results={"champion": "cancer/1", "snapshots": [{"ref": "holdout/1"}]},
    error=None,
    report_sha256="ef" * 32,
    author="ci",
    created_at=AT,
    model="cancer",
    version=2,
)
SUMMARY_ROW = SimpleNamespace(
    id=7,
    suite="holdout",
    status="finished",
    snapshots=SNAPSHOTS,
    author="ci",
    created_at=AT,
    version=2,
    verdict=None,
)


def test_a_gate_record_gives_every_stored_field_with_an_iso_time() -> None:
    gate = GateRecord.of(GATE_ROW)
    assert gate.blessed and gate.created_at == AT
    assert list(gate.to_dict().items()) == [
        ("id", 4),
        ("version_id", 11),
        ("evaluation_id", 7),
        ("verdict", "blessed"),
        ("risk_profile", "medium"),
        ("checks", CHECKS),
        ("reasons", []),
        ("author", "ci"),
        ("created_at", "2026-11-05T09:30:00.125000+00:00"),
        ("champion_version", 1),
    ]
    rejected = GateRecord.of(SimpleNamespace(**{**vars(GATE_ROW), "verdict": "rejected"}))
    assert not rejected.blessed


def test_an_evaluation_summary_is_a_line_of_the_list() -> None:
    summary = EvaluationSummary.of(SUMMARY_ROW)
    assert list(summary.to_dict().items()) == [
        ("id", 7),
        ("suite", "holdout"),
        ("status", "finished"),
        ("snapshots", SNAPSHOTS),
        ("author", "ci"),
        ("created_at", "2026-11-05T09:30:00.125000+00:00"),
        ("version", 2),
        ("verdict", None),
    ]


@pytest.mark.parametrize("gated", [True, False])
def test_an_evaluation_record_carries_its_results_and_latest_gate(gated: bool) -> None:
    gate = GateRecord.of(GATE_ROW) if gated else None
    record = EvaluationRecord.of(EVALUATION_ROW, gate)
    assert record.ref == "cancer/2" and record.gate is gate
    assert list(record.to_dict().items()) == [
        ("id", 7),
        ("version_id", 11),
        ("suite", "holdout"),
        ("status", "finished"),
        ("snapshots", SNAPSHOTS),
        ("champion_version_id", 10),
        ("results", EVALUATION_ROW.results),
        ("error", None),
        ("report_sha256", "ef" * 32),
        ("author", "ci"),
        ("created_at", "2026-11-05T09:30:00.125000+00:00"),
        ("model", "cancer"),
        ("version", 2),
        ("gate", None if gate is None else gate.to_dict()),
    ]
    assert json.loads(json.dumps(record.to_dict())) == record.to_dict()


def test_the_records_are_frozen() -> None:
    with pytest.raises(AttributeError):
        GateRecord.of(GATE_ROW).verdict = "rejected"  # type: ignore[misc]
