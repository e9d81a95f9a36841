"""A window's health carries each metric declared for the window-health view, read where its
declaration places it in the stored window, exactly as the window's own reader reads it; a
declaration that counts a list, takes a share of one or flags a fact reads the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keel.client import Client
from keel.domain.metric_specs import metric_spec, shown_in
from keel.monitoring import window_health
from keel.store.schema import monitor_windows

T0 = datetime(2026, 3, 1, tzinfo=UTC)
PERFORMANCE = {
    "rows": 400,
    "accuracy": 0.81,
    "baselines": {"majority": {"accuracy": 0.7, "rows": 400}},
    "label_drift": {"drifted": True},
}
DRIFT = {
    "drifted": ["amount", "country"],
    "features": ["amount", "country", "age", "channel", "hour"],
    "multivariate": {"auc": 0.71},
}
OPERATIONS = {
    "latency_p50_ms": 3.5,
    "latency_p99_ms": 41.0,
    "latency_p95_ms": 20.0,
    "throughput_rps": 120.0,
    "cost_per_1k": 0.02,
    "error_rate": 0.001,
}


def store_windows(client: Client, fitted_model: Any) -> None:
    client.register_model("fraud", fitted_model)
    columns = {"performance": PERFORMANCE, "estimate": {"metrics": {"accuracy": 0.76}}}
    rows = [
        {**columns, "drift": DRIFT, "operations": OPERATIONS, "labelled_rows": 400},
        {"performance": {"rows": 0}, "estimate": {}, "drift": {}, "operations": {}},
    ]
    with client.db.write() as conn:
        for hour, row in enumerate(rows):
            end = T0 + timedelta(hours=hour + 1)
            conn.execute(
                monitor_windows.insert().values(
                    model="fraud",
                    version=1,
                    kind="rows",
                    start_at=T0,
                    end_at=end,
                    rows=500,
                    index_sha256="0" * 64,
                    reference={},
                    quality={},
                    created_at=end,
                    updated_at=end,
                    **{"labelled_rows": 0, **row},
                )
            )


def assert_read_as_declared(client: Client) -> None:
    healths = window_health.health_series(client.db, "fraud")
    stored = sorted(client.monitor_windows("fraud"), key=lambda w: w.end_at)
    assert [h.window_id for h in healths] == [w.id for w in stored]
    for health, window in zip(healths, stored, strict=True):
        assert list(health.metrics) == [s.name for s in window_health.HEALTH_METRICS]
        for spec in window_health.HEALTH_METRICS:
            assert spec.window is not None
            assert health.metrics[spec.name] == spec.window.read(window), spec.name


def test_health_carries_the_declared_metrics_as_the_window_reads_them(
    client: Client, fitted_model: Any
) -> None:
    store_windows(client, fitted_model)
    assert shown_in("window_health") == window_health.HEALTH_METRICS
    assert_read_as_declared(client)
    newest, measured = window_health.health_series(client.db, "fraud")[::-1]
    assert measured.metrics["latency_p99_ms"] == 41.0 and measured.baseline_accuracy == 0.7
    assert measured.drifted == ("amount", "country")
    assert set(newest.metrics.values()) == {None}
    flat = measured.to_dict()
    assert {k: flat[k] for k in measured.metrics} == measured.metrics
    assert (
        flat["drifted"] == ["amount", "country"] and flat["end_at"] == "2026-03-01T01:00:00+00:00"
    )
    latest = window_health.newest_health(client.db)["fraud"]
    assert (latest.newest.window_id, latest.labelled) == (newest.window_id, measured)


def test_counted_shared_and_flagged_metrics_read_as_declared(
    client: Client, fitted_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ("drifted_features", "drift_share", "label_drift", "domain_auc", "latency_p95_ms")
    monkeypatch.setattr(window_health, "HEALTH_METRICS", tuple(metric_spec(n) for n in names))
    store_windows(client, fitted_model)
    assert_read_as_declared(client)
    measured = window_health.health_series(client.db, "fraud")[0]
    assert measured.metrics == {
        "drifted_features": 2.0,
        "drift_share": 0.4,
        "label_drift": 1.0,
        "domain_auc": 0.71,
        "latency_p95_ms": 20.0,
    }
