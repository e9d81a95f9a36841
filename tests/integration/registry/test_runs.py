"""Training runs: parameters, step-wise metrics, inputs, outcome and duration."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from keel.client import Client
from keel.errors import Conflict, InvalidInput, NotFound
from keel.registry.runs import active_run


def test_a_finished_run_keeps_params_metrics_tags_and_duration(client: Client) -> None:
    with client.start_run("train-cancer", params={"C": 1.0}, tags={"team": "risk"}) as run:
        assert active_run() is run
        run.log_param("max_iter", 500)
        run.log_params({"C": 0.5, "solver": "lbfgs"})
        run.set_tags({"stage": "dev"})
        for loss in (0.9, 0.5, 0.3):
            run.log_metric("loss", loss)
        run.log_metrics({"auc": 0.91, "f1": 0.8}, step=10)
        run.log_metric("auc", 0.93, step=20)
    assert active_run() is None
    record = client.get_run(run.id)
    assert record.name == "train-cancer"
    assert record.status == "finished"
    assert record.author == "tester"
    assert record.error is None
    assert record.params == {"C": 0.5, "max_iter": 500, "solver": "lbfgs"}
    assert record.tags == {"team": "risk", "stage": "dev"}
    assert record.metrics == {"loss": 0.3, "auc": 0.93, "f1": 0.8}  # the latest of each
    assert record.ended_at is not None
    assert record.ended_at >= record.started_at
    assert record.duration_s == (record.ended_at - record.started_at).total_seconds() >= 0
    assert record.code_version.get("repository")  # the tests run inside the keel work tree


def test_metric_history_keeps_every_step(client: Client) -> None:
    with client.start_run("train") as run:
        for loss in (0.9, 0.5, 0.3):
            run.log_metric("loss", loss)
        run.log_metric("loss", 0.1, step=10)
        run.log_metric("loss", 0.05)  # continues after the explicit step
        run.log_metric("auc", 0.7)
    history = client.metric_history(run.id, "loss")
    assert [(p.step, p.value) for p in history] == [
        (0, 0.9),
        (1, 0.5),
        (2, 0.3),
        (10, 0.1),
        (11, 0.05),
    ]
    assert all(p.key == "loss" and p.at.tzinfo is not None for p in history)
    assert [p.value for p in client.metric_history(run.id, "auc")] == [0.7]
    assert client.metric_history(run.id, "absent") == []


def test_a_failing_block_marks_the_run_failed_with_the_error(client: Client) -> None:
    with pytest.raises(ValueError, match="diverged"), client.start_run("train") as run:
        run.log_metric("loss", 12.5)
        raise ValueError("loss diverged")
    record = client.get_run(run.id)
    assert record.status == "failed"
    assert record.error == "ValueError: loss diverged"
    assert record.duration_s is not None
    assert record.metrics == {"loss": 12.5}
    (entry,) = client.audit_log(action="run.fail")
    assert entry.subject == f"run:{run.id}"
    assert entry.details["error"] == "ValueError: loss diverged"
    assert entry.details["duration_s"] >= 0


def test_an_ended_run_refuses_more_logging(client: Client, cancer_frame: pd.DataFrame) -> None:
    snapshot = client.register_snapshot(cancer_frame, "cancer")
    run = client.start_run("train")
    assert client.get_run(run.id).status == "running"
    run.end()
    run.end()  # ending twice changes nothing
    for attempt in (
        lambda: run.log_metric("loss", 1.0),
        lambda: run.log_params({"C": 1}),
        lambda: run.set_tags({"a": "b"}),
        lambda: run.log_input(snapshot),
    ):
        with pytest.raises(Conflict) as caught:
            attempt()
        assert caught.value.fields["run_id"] == run.id
    assert client.get_run(run.id).status == "finished"
    assert len(client.audit_log(action="run.finish")) == 1


def test_bad_run_input_is_refused(client: Client) -> None:
    for name in ("", "   ", "x" * 257):
        with pytest.raises(InvalidInput) as caught:
            client.start_run(name)
        assert caught.value.field == "name"
    run = client.start_run("train")
    with pytest.raises(InvalidInput) as caught:
        run.log_metric("loss", float("inf"))
    assert caught.value.field == "metric.loss"
    with pytest.raises(InvalidInput) as caught:
        run.log_metric("loss", 1.0, step=-1)
    assert caught.value.field == "step"
    with pytest.raises(InvalidInput):
        run.log_metric("", 1.0)
    with pytest.raises(InvalidInput) as caught:
        run.end("crashed")
    assert caught.value.field == "status"
    assert client.metric_history(run.id, "loss") == []
    with pytest.raises(NotFound) as not_found:
        client.get_run("0" * 32)
    assert not_found.value.kind == "run"


def test_inputs_and_registered_versions_link_to_the_run(
    client: Client, cancer_frame: pd.DataFrame, fitted_model: Any
) -> None:
    train = client.register_snapshot(cancer_frame.iloc[:400], "cancer-train")
    valid = client.register_snapshot(cancer_frame.iloc[400:], "cancer-valid")
    with client.start_run("train") as run:
        run.log_input(valid, "validation")
        run.log_input(valid, "validation")  # recorded once
        version = client.register_model(
            "cancer", fitted_model, training_data=train, target="target"
        )
    assert version.run_id == run.id
    record = client.get_run(run.id)
    assert record.inputs == [
        {"snapshot": "cancer-train/1", "sha256": train.sha256, "role": "train"},
        {"snapshot": "cancer-valid/1", "sha256": valid.sha256, "role": "validation"},
    ]
    outside = client.register_model("cancer", fitted_model)
    assert outside.run_id is None
    explicit = client.start_run("explicit")
    linked = client.register_model("cancer", fitted_model, training_data=train, run=explicit)
    assert linked.run_id == explicit.id
    assert client.get_run(explicit.id).inputs[0]["snapshot"] == "cancer-train/1"
    explicit.end("failed", error="stopped by hand")
    assert client.get_run(explicit.id).error == "stopped by hand"


def test_list_runs(client: Client) -> None:
    for name in ("a", "b", "a"):
        with client.start_run(name):
            pass
    assert len(client.list_runs()) == 3
    assert [r.name for r in client.list_runs("a")] == ["a", "a"]
    assert len(client.list_runs(limit=1)) == 1
    assert client.list_runs("nothing") == []


def test_a_version_registered_in_a_run_carries_the_metrics_logged_so_far(
    client: Client, cancer_frame: pd.DataFrame, fitted_model: Any
) -> None:
    with client.start_run("tuning") as run:
        run.log_metrics({"auc": 0.93, "accuracy": 0.8})
        run.log_metric("accuracy", 0.91)  # the latest value counts
        version = client.register_model(
            "cancer", fitted_model, training_data=cancer_frame, target="target"
        )
        given = client.register_model(
            "cancer",
            fitted_model,
            training_data=cancer_frame,
            target="target",
            metrics={"auc": 0.5},
        )
    assert version.metrics == {"auc": 0.93, "accuracy": 0.91}
    assert given.metrics == {"auc": 0.5, "accuracy": 0.91}  # what register is given wins
    found = client.list_versions("cancer", filter="metrics.accuracy > 0.9")
    assert sorted(v.version for v in found) == [version.version, given.version]
    assert client.verify_audit().intact


def test_metrics_logged_after_registering_reach_the_version(
    client: Client, fitted_model: Any
) -> None:
    with client.start_run("log-model-first") as run:
        version = client.register_model("cancer", fitted_model, metrics={"auc": 0.5})
        assert client.list_versions("cancer", filter="metrics.accuracy > 0.5") == []
        run.log_metric("accuracy", 0.7)
        run.log_metrics({"accuracy": 0.93, "auc": 0.99})  # auc was given to register: it stays
        run.log_metric("accuracy", 0.93)  # the same value again changes nothing
    after = client.get_version(f"cancer/{version.version}")
    assert after.metrics == {"auc": 0.5, "accuracy": 0.93}
    found = client.list_versions("cancer", filter="metrics.accuracy > 0.5")
    assert [v.version for v in found] == [version.version]
    entries = client.audit_log(action="version.metrics")
    assert [(e.subject, e.details["metrics"]) for e in reversed(entries)] == [
        ("model:cancer/1", {"accuracy": 0.7}),
        ("model:cancer/1", {"accuracy": 0.93}),
    ]
    assert client.verify_audit().findings == ()
