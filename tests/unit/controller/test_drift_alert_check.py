"""The ``drift alert`` trigger counts an open alert by its rule's metric declaration: a drift
metric's alert counts, any other metric's does not, and a rule naming no known metric is no
drift alert (rather than an error while the autopilot runs)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keel.controller.triggers import _observes_drift
from keel.monitoring.alerts import AlertRecord


def alert(rule: str) -> AlertRecord:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return AlertRecord(
        id=1,
        model="m",
        rule=rule,
        state="firing",
        severity="warning",
        value=1.0,
        threshold=0.5,
        message="",
        details={},
        window_id=None,
        fired_at=at,
        last_seen_at=at,
        resolved_at=None,
        acknowledged_by=None,
        acknowledged_at=None,
        last_notified_at=None,
        occurrences=1,
    )


@pytest.mark.parametrize(
    ("rule", "drift"),
    [
        ("drifted_features >= 1", True),
        ("drift_share>0.3 as critical", True),
        ("domain_auc > 0.6", True),
        ("label_drift >= 1", True),
        ("accuracy < 0.9 over the last 500 labelled predictions", False),
        ("estimated_accuracy < 0.9", False),
        ("latency_p99_ms > 50", False),
        ("accuracy below reference", False),
        ("happiness < 3", False),
        ("", False),
    ],
)
def test_an_alert_is_a_drift_alert_when_its_metric_is_declared_drift(
    rule: str, drift: bool
) -> None:
    assert _observes_drift(alert(rule)) is drift
