"""A stored window reads back as ``keel monitor windows --json`` has always printed it: the
same keys in the same order, times as ISO 8601, the JSON columns as they were stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from keel.monitoring.stored_window import StoredWindow

ROW = SimpleNamespace(
    id=12,
    model="churn",
    version=3,
    kind="rows",
    start_at=datetime(2026, 11, 5, 8, 30, tzinfo=UTC),
    end_at=datetime(2026, 11, 5, 9, 15, 0, 250000, tzinfo=UTC),
    rows=500,
    labelled_rows=120,
    index_sha256="ab" * 32,  # a column the window does not carry
    reference={"snapshot": "churn-holdout/2", "limits": {"metrics": {}}},
    drift={"features": [{"feature": "age"}, {"feature": "plan"}], "drifted": ["plan"]},
    estimate={"metrics": {"accuracy": 0.88}, "rows": 500},
    operations={"latency_p99_ms": 41.5, "cost_per_1k": 0.02},
    performance={"accuracy": 0.9, "baselines": {"majority": {"accuracy": 0.7}}},
    quality={"issues": [], "flagged_rows": 3},
)


def test_to_dict_gives_every_field_in_the_stored_order_with_iso_times() -> None:
    window = StoredWindow.of(ROW)
    assert window.to_dict() == {
        "id": 12,
        "model": "churn",
        "version": 3,
        "kind": "rows",
        "start_at": "2026-11-05T08:30:00+00:00",
        "end_at": "2026-11-05T09:15:00.250000+00:00",
        "rows": 500,
        "labelled_rows": 120,
        "reference": ROW.reference,
        "drift": ROW.drift,
        "estimate": ROW.estimate,
        "operations": ROW.operations,
        "performance": ROW.performance,
        "quality": ROW.quality,
    }
    assert list(window.to_dict()) == [
        "id",
        "model",
        "version",
        "kind",
        "start_at",
        "end_at",
        "rows",
        "labelled_rows",
        "reference",
        "drift",
        "estimate",
        "operations",
        "performance",
        "quality",
    ]
    assert json.loads(json.dumps(window.to_dict())) == window.to_dict()


def test_the_window_keeps_typed_times_and_names_its_drifted_features() -> None:
    window = StoredWindow.of(ROW)
    assert window.end_at == ROW.end_at and window.end_at.tzinfo is UTC
    assert window.drifted_features == ["plan"]
    assert StoredWindow.of(SimpleNamespace(**{**vars(ROW), "drift": {}})).drifted_features == []


def test_a_window_is_frozen() -> None:
    window = StoredWindow.of(ROW)
    with pytest.raises(AttributeError):
        window.rows = 1  # type: ignore[misc]
