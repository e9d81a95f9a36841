"""``monitor run`` end to end on both stores: windows, drift, estimates, delayed labels, alerts,
resuming, and a crash half-way that leaves nothing counted twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from keel.client import Client
from keel.domain.entities import ModelVersion
from keel.errors import InvalidInput, NotFound
from keel.monitoring.sinks import MemorySink
from keel.store.schema import model_versions, models, monitor_windows

POLICY: dict[str, Any] = {
    "risk_profile": "low",
    "monitoring": {
        "window": {"rows": 100},
        "alerts": [
            "accuracy < 0.9 over the last 100 labelled predictions",
            "drifted_features >= 3",
            "estimated_accuracy < 0.5",
        ],
        "cooldown": "1h",
        "events": ["alias.*"],
    },
}


def production(cancer_frame: pd.DataFrame, rows: int, seed: int, shift: float = 0.0):  # type: ignore[no-untyped-def]
    """Rows drawn from the training data with a little noise; ``shift`` scales ten features."""
    rng = np.random.default_rng(seed)
    sample = cancer_frame.sample(n=rows, replace=True, random_state=seed).reset_index(drop=True)
    features = sample.drop(columns=["target"])
    noisy = features * rng.normal(1.0, 0.01, size=features.shape)
    if shift:
        for column in list(noisy.columns)[:10]:
            noisy[column] = noisy[column] * (1.0 + shift)
    return noisy, sample["target"].to_numpy()


def log(client: Client, model, data: pd.DataFrame, start: datetime) -> list[str]:  # type: ignore[no-untyped-def]
    stamps = [start + timedelta(seconds=i) for i in range(len(data))]
    receipt = client.log_predictions(
        "cancer",
        data,
        predictions=model.predict(data),
        scores=model.predict_proba(data)[:, 1],
        timestamps=stamps,
        latency_ms=np.linspace(1.0, 10.0, len(data)),
        cpu_ms=np.full(len(data), 2.0),
    )
    return receipt.request_ids


def test_windows_drift_labels_alerts_and_resuming(
    client: Client, cancer_version: ModelVersion, cancer_frame, fitted_model
) -> None:
    sink = MemorySink()
    start = datetime(2026, 11, 1, tzinfo=UTC)
    calm, calm_truth = production(cancer_frame, 250, seed=1)
    ids = log(client, fitted_model, calm, start)

    first = client.monitor("cancer", policy=POLICY, sinks=[sink])
    assert (first.new_rows, len(first.windows), first.pending_rows) == (250, 2, 50)
    assert all(not w.drifted_features for w in first.windows)
    stored = client.monitor_windows("cancer")
    assert [w.rows for w in stored] == [100, 100]
    newest = stored[0]
    assert 0.8 < newest.estimate["metrics"]["accuracy"] <= 1.0
    assert newest.operations["latency_p99_ms"] > newest.operations["latency_p50_ms"]
    assert newest.operations["error_rate"] == 0.0
    assert newest.performance == {} and newest.labelled_rows == 0

    again = client.monitor("cancer", sinks=[sink])  # nothing new: nothing counted twice
    assert (again.new_rows, again.windows, again.pending_rows) == (0, [], 50)
    assert len(client.monitor_windows("cancer")) == 2

    shifted, _ = production(cancer_frame, 150, seed=2, shift=0.6)
    log(client, fitted_model, shifted, start + timedelta(hours=1))
    third = client.monitor("cancer", sinks=[sink])
    assert (third.new_rows, len(third.windows), third.pending_rows) == (150, 2, 0)
    last = client.monitor_windows("cancer", limit=1)[0]
    assert len(last.drift["drifted"]) >= 3
    fired = {a.alert.rule for a in third.alerts if a.transition == "fired"}
    assert "drifted_features >= 3" in fired

    # labels arrive later: wrong for a third of the calm rows, so realized accuracy falls
    wrong = np.arange(len(ids)) % 3 == 0
    labels = np.where(wrong, 1 - calm_truth, calm_truth)
    report = client.log_labels("cancer", ids, labels)
    assert report.unknown_count == 0
    fourth = client.monitor("cancer", sinks=[sink])
    assert fourth.relabelled == 3  # the calm rows span three windows
    labelled = [w for w in client.monitor_windows("cancer") if w.labelled_rows]
    assert sum(w.labelled_rows for w in labelled) == 250
    assert all(w.performance["accuracy"] < 0.8 for w in labelled)
    assert any(a.alert.rule.startswith("accuracy <") for a in fourth.alerts)
    events = [p["event"] for p in sink.payloads]
    assert events.count("alert.fired") == 2
    assert "alias.set" in events  # the champion move of the fixture, routed once
    assert client.verify_audit().intact
    assert {a.state for a in client.list_alerts("cancer")} == {"firing"}


def test_a_crash_before_commit_repeats_the_run_without_double_counting(
    client: Client, cancer_version: ModelVersion, cancer_frame, fitted_model, monkeypatch
) -> None:
    import keel.monitoring.runner as runner

    data, _ = production(cancer_frame, 300, seed=3)
    log(client, fitted_model, data, datetime(2026, 11, 2, tzinfo=UTC))
    real = runner.measure_window
    calls = {"n": 0}

    def crash_on_third(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("power cut")
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "measure_window", crash_on_third)
    with pytest.raises(RuntimeError):
        client.monitor("cancer", policy=POLICY, sinks=[])
    assert client.monitor_windows("cancer") == []
    monkeypatch.setattr(runner, "measure_window", real)
    result = client.monitor("cancer", sinks=[])
    assert (result.new_rows, len(result.windows)) == (300, 3)
    assert len(client.monitor_windows("cancer")) == 3


def test_time_windows_close_when_later_rows_arrive(
    client: Client, cancer_version: ModelVersion, cancer_frame, fitted_model
) -> None:
    policy = {"monitoring": {"window": {"every": "1h"}}}
    data, _ = production(cancer_frame, 90, seed=4)
    start = datetime(2026, 11, 3, tzinfo=UTC)
    stamps = [start + timedelta(minutes=2 * i) for i in range(90)]  # three hours
    client.log_predictions(
        "cancer",
        data,
        predictions=fitted_model.predict(data),
        scores=fitted_model.predict_proba(data)[:, 1],
        timestamps=stamps,
    )
    result = client.monitor("cancer", policy=policy, sinks=[], now=start + timedelta(hours=3))
    assert [w.rows for w in result.windows] == [30, 30]
    assert result.pending_rows == 30
    later = client.monitor("cancer", sinks=[], now=start + timedelta(hours=5))
    assert [w.rows for w in later.windows] == [30]


def test_monitoring_refuses_what_it_cannot_judge(
    client: Client, cancer_version: ModelVersion
) -> None:
    with pytest.raises(NotFound):
        client.monitor("nobody")
    with pytest.raises(InvalidInput) as caught:
        client.monitor("cancer", policy={"monitoring": {"window": {"rows": 3}}})
    assert "window" in caught.value.field
    with pytest.raises(InvalidInput) as caught:
        client.monitor("cancer", policy={"monitoring": {"alerts": ["accuracy < lots"]}})
    assert caught.value.field.endswith("alerts[0]")


def test_the_streaming_detector_sees_a_drop_in_labelled_outcomes(
    client: Client, cancer_version: ModelVersion, cancer_frame, fitted_model
) -> None:
    rule = "accuracy_drop >= 1 over the last 10,000 labelled predictions"
    policy = {"monitoring": {"window": {"rows": 500}, "alerts": [rule]}}
    start = datetime(2026, 11, 4, tzinfo=UTC)
    rng = np.random.default_rng(5)

    def day(index: int, flip: float) -> None:
        data, _ = production(cancer_frame, 1500, seed=10 + index)
        stamp = start + timedelta(days=index)
        ids = log(client, fitted_model, data, stamp)
        predicted = fitted_model.predict(data)
        right = rng.random(len(ids)) >= flip  # the label agrees with the model unless flipped
        client.log_labels("cancer", ids, np.where(right, predicted, 1 - predicted))

    for index in range(2):
        day(index, flip=0.05)
    calm = client.monitor("cancer", policy=policy, sinks=[])
    assert calm.alerts == []  # 3,000 outcomes at a steady 5% error rate: no alarm
    for index in range(2, 4):
        day(index, flip=0.25)
    drop = client.monitor("cancer", sinks=[])
    assert [a.alert.rule for a in drop.alerts] == [rule]
    alert = client.list_alerts("cancer")[0]
    assert alert.value == 1.0 and alert.details["alarm_at"] >= str(start + timedelta(days=2))


def test_each_window_links_the_version_it_scored(
    client: Client, cancer_version: ModelVersion, cancer_frame, fitted_model
) -> None:
    data, _ = production(cancer_frame, 200, seed=4)
    log(client, fitted_model, data, datetime(2026, 11, 3, tzinfo=UTC))
    assert len(client.monitor("cancer", policy=POLICY, sinks=[]).windows) == 2
    with client.db.read() as conn:
        registered = conn.execute(
            sa.select(model_versions.c.id)
            .join(models, models.c.id == model_versions.c.model_id)
            .where(models.c.name == "cancer", model_versions.c.version == cancer_version.version)
        ).scalar_one()
        links = conn.execute(
            sa.select(monitor_windows.c.version, monitor_windows.c.version_id)
        ).all()
    assert [tuple(row) for row in links] == [(cancer_version.version, registered)] * 2
