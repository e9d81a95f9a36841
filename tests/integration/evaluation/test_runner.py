"""Evaluating versions on both back ends: stored numbers match sklearn, bad input fails."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from keel.client import Client
from keel.domain.policy import Suite
from keel.errors import InvalidInput, NotFound
from keel.evaluation.significance import mcnemar
from keel.registry import governance

from .conftest import HOLDOUT_SUITE, Cancer


def suite(**changes: Any) -> Suite:
    return Suite.model_validate({**HOLDOUT_SUITE, **changes})


def sklearn_scores(y: pd.Series, model: Any, frame: pd.DataFrame) -> dict[str, float]:
    pred = model.predict(frame)
    proba = model.predict_proba(frame)[:, 1]
    return {
        "accuracy": sk.accuracy_score(y, pred),
        "balanced_accuracy": sk.balanced_accuracy_score(y, pred),
        "precision": sk.precision_score(y, pred),
        "recall": sk.recall_score(y, pred),
        "f1": sk.f1_score(y, pred),
        "roc_auc": sk.roc_auc_score(y, proba),
        "pr_auc": sk.average_precision_score(y, proba),
        "log_loss": sk.log_loss(y, proba),
        "brier": sk.brier_score_loss(y, proba),
    }


def assert_scores(stored: dict[str, Any], expected: dict[str, float]) -> None:
    for metric, value in expected.items():
        assert stored[metric] == pytest.approx(value, abs=1e-9), metric


def test_stored_results_match_a_recomputation_with_sklearn(
    registered: Client, cancer: Cancer
) -> None:
    evaluation = registered.evaluate("cancer/2", suite())
    assert evaluation.status == "finished" and evaluation.error is None
    stored = governance.get_evaluation(registered.db, evaluation.id)  # type: ignore[arg-type]
    assert stored.status == "finished"
    assert stored.results == evaluation.results
    results = stored.results
    assert results["version"] == "cancer/2" and results["task"] == "binary"
    assert results["classes"] == [0, 1]
    assert results["champion"] == "cancer/1"
    snapshot = registered.get_snapshot("holdout")
    assert stored.snapshots == [
        {"ref": "holdout/1", "sha256": snapshot.sha256, "rows": len(cancer.holdout)}
    ]

    holdout, x = cancer.holdout, cancer.holdout[cancer.features]
    y = holdout["target"]
    snap = evaluation.snapshot("holdout")
    assert snap["rows"] == len(holdout) and snap["sha256"] == snapshot.sha256
    assert_scores(snap["metrics"], sklearn_scores(y, cancer.weak, x))
    assert (
        snap["metrics"]["confusion_matrix"]["matrix"]
        == sk.confusion_matrix(y, cancer.weak.predict(x)).tolist()
    )
    large = holdout["mean radius"] >= 15
    assert snap["slices"]["large"]["rows"] == int(large.sum())
    assert_scores(snap["slices"]["large"], sklearn_scores(y[large], cancer.weak, x[large]))
    north = (holdout["region"] == "north").to_numpy()
    assert_scores(snap["slices"]["north"], sklearn_scores(y[north], cancer.weak, x[north]))
    assert snap["slices"]["nowhere"] == {"rows": 0}
    assert "slice nowhere has no rows in holdout/1" in snap["quality"]

    majority = snap["baselines"]["majority"]
    assert majority["predicts"] == int(y.mode()[0])
    assert majority["accuracy"] == pytest.approx(max(y.mean(), 1 - y.mean()))
    assert majority["roc_auc"] == pytest.approx(0.5)
    assert "persistence" not in snap["baselines"]

    comparison = snap["comparison"]
    champion = sklearn_scores(y, cancer.strong, x)
    assert_scores(comparison["champion_metrics"], champion)
    mine = sklearn_scores(y, cancer.weak, x)
    for metric in ("accuracy", "roc_auc", "log_loss"):
        difference = comparison["differences"][metric]
        assert difference["difference"] == pytest.approx(mine[metric] - champion[metric])
        low, high = difference["ci95"]
        assert low <= difference["difference"] <= high
        assert difference["resamples"] == 300
    assert comparison["differences"]["ece"].keys() == {"metric", "difference"}
    expected_test = mcnemar(cancer.weak.predict(x) == y, cancer.strong.predict(x) == y)
    assert comparison["mcnemar"] == expected_test.to_dict()
    assert comparison["delong"]["detail"]["auc_candidate"] == pytest.approx(mine["roc_auc"])
    assert comparison["delong"]["detail"]["auc_champion"] == pytest.approx(champion["roc_auc"])
    assert comparison["delong"]["p_value"] < 0.001  # three features against thirty
    assert snap["curves"]["roc"]["fpr"][0] == 0.0
    assert "cost" not in results


def test_rerunning_gives_the_same_numbers_except_cost(registered: Client) -> None:
    first = registered.evaluate("cancer/2", suite(measure_cost=True))
    again = registered.evaluate("cancer/2", suite(measure_cost=True))
    assert first.id != again.id
    assert first.results.pop("cost")["size_mb"] == again.results.pop("cost")["size_mb"]
    assert first.results.pop("cost_detail")["runs"] == again.results.pop("cost_detail")["runs"]
    assert first.results == again.results


def test_the_champion_alone_is_not_compared_with_itself(registered: Client) -> None:
    evaluation = registered.evaluate("models:/cancer@champion", suite(measure_cost=True))
    assert evaluation.model == "cancer/1"
    assert evaluation.results["champion"] is None
    assert "comparison" not in evaluation.snapshot()
    cost = evaluation.results["cost"]
    assert cost["size_mb"] == pytest.approx(registered.get_version("cancer/1").size_bytes / 1e6)
    assert 0 < cost["latency_p50_ms"] <= cost["latency_p99_ms"]


def test_persistence_only_for_time_ordered_suites(registered: Client, cancer: Cancer) -> None:
    plain = registered.evaluate("cancer/2", suite(compare_with=""))
    assert set(plain.snapshot()["baselines"]) == {"majority"}
    ordered = registered.evaluate("cancer/2", suite(compare_with="", time_ordered=True))
    y = cancer.holdout["target"].to_numpy()
    persistence = ordered.snapshot()["baselines"]["persistence"]
    assert persistence["rows"] == len(y) - 1
    assert persistence["accuracy"] == pytest.approx(np.mean(y[1:] == y[:-1]))
    by_time = registered.evaluate("cancer/2", suite(compare_with="", time_column="ts"))
    y_sorted = cancer.holdout.sort_values("ts")["target"].to_numpy()
    expected = np.mean(y_sorted[1:] == y_sorted[:-1])
    assert by_time.snapshot()["baselines"]["persistence"]["accuracy"] == pytest.approx(expected)
    resorted, unsorted = by_time.snapshot()["metrics"], plain.snapshot()["metrics"]
    assert resorted["confusion_matrix"] == unsorted["confusion_matrix"]
    assert_scores(resorted, {k: v for k, v in unsorted.items() if isinstance(v, float)})


def test_a_suite_naming_a_missing_snapshot(registered: Client) -> None:
    with pytest.raises(NotFound) as raised:
        registered.evaluate("cancer/2", suite(snapshots=["holdout", "recent-weeks"]))
    assert raised.value.kind == "snapshot" and raised.value.name == "recent-weeks"


def test_a_snapshot_lacking_the_models_features(registered: Client, cancer: Cancer) -> None:
    registered.register_snapshot(
        cancer.holdout.drop(columns=["mean radius", "worst area"]), "partial"
    )
    with pytest.raises(InvalidInput) as raised:
        registered.evaluate("cancer/1", suite(snapshots=["partial"], slices={}))
    assert raised.value.field == "suite adhoc: snapshot partial/1"
    assert "mean radius" in raised.value.problem and "worst area" in raised.value.problem


def test_labels_of_the_wrong_type(registered: Client, cancer: Cancer) -> None:
    words = cancer.holdout.assign(target=cancer.holdout["target"].map({0: "no", 1: "yes"}))
    registered.register_snapshot(words, "words")
    with pytest.raises(InvalidInput) as raised:
        registered.evaluate("cancer/1", suite(snapshots=["words"]))
    assert raised.value.field == "suite adhoc: snapshot words/1: target"
    assert "['no', 'yes']" in raised.value.problem and "model's classes" in raised.value.problem
    text = cancer.holdout.assign(target=cancer.holdout["target"].astype(str))
    registered.register_snapshot(text, "text-labels")
    aligned = registered.evaluate("cancer/1", suite(snapshots=["text-labels"], compare_with=""))
    reference = registered.evaluate("cancer/1", suite(compare_with=""))
    assert aligned.snapshot()["metrics"] == reference.snapshot()["metrics"]


def test_a_missing_label_column(registered: Client, cancer: Cancer) -> None:
    registered.register_snapshot(cancer.holdout.rename(columns={"target": "label"}), "unlabelled")
    with pytest.raises(InvalidInput) as raised:
        registered.evaluate("cancer/1", suite(snapshots=["unlabelled"]))
    assert raised.value.field == "suite adhoc: snapshot unlabelled/1"
    assert raised.value.problem == "has no label column 'target'"


def test_an_empty_snapshot_is_bad_input(registered: Client, cancer: Cancer) -> None:
    registered.register_snapshot(cancer.holdout.iloc[:0], "empty")
    with pytest.raises(InvalidInput) as raised:
        registered.evaluate("cancer/1", suite(snapshots=["empty"]))
    assert raised.value.field == "suite adhoc: snapshot empty/1"
    assert raised.value.problem == "has no rows"


class Exploding:
    """A classifier whose predict raises (saved with cloudpickle)."""

    classes_ = np.array([0, 1])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        raise RuntimeError(f"cannot score {len(frame)} rows today")


def test_a_model_that_fails_to_predict_is_a_recorded_failure(
    registered: Client, cancer: Cancer
) -> None:
    version = registered.register_model(
        "cancer", Exploding(), training_data="cancer-train/1", target="target", trust="code"
    )
    assert version.format == "cloudpickle"
    evaluation = registered.evaluate(f"cancer/{version.version}", suite())
    assert evaluation.status == "failed"
    assert evaluation.error is not None
    assert f"cancer/{version.version} failed to predict" in evaluation.error
    assert f"RuntimeError: cannot score {len(cancer.holdout)} rows today" in evaluation.error
    stored = governance.get_evaluation(registered.db, evaluation.id)  # type: ignore[arg-type]
    assert (stored.status, stored.error) == ("failed", evaluation.error)
    entry = registered.audit_log(action="evaluation.record", limit=1)[0]
    assert entry.details["status"] == "failed" and entry.details["error"] == evaluation.error


def test_a_failing_champion_leaves_the_candidate_evaluated(registered: Client) -> None:
    broken = registered.register_model(
        "cancer", Exploding(), training_data="cancer-train/1", target="target", trust="code"
    )
    registered.set_alias("cancer", "champion", broken.version, reason="oops")
    evaluation = registered.evaluate("cancer/1", suite())
    assert evaluation.status == "finished"
    assert "failed to predict" in evaluation.snapshot()["comparison"]["error"]


def test_a_regression_model_with_a_mean_baseline_and_champion(client: Client) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    x, y = load_diabetes(return_X_y=True, as_frame=True)
    frame = x.assign(progression=y)
    train, holdout = frame.iloc[:300], frame.iloc[300:]
    snapshot = client.register_snapshot(train, "diabetes-train")
    client.register_snapshot(holdout, "diabetes-holdout")
    features = train.drop(columns=["progression"])
    models = [Ridge(alpha=a).fit(features, train["progression"]) for a in (1.0, 0.01)]
    for model in models:
        client.register_model("diabetes", model, training_data=snapshot, target="progression")
    client.set_alias("diabetes", "champion", 1)
    evaluation = client.evaluate(
        "diabetes/2",
        Suite(snapshots=["diabetes-holdout"], target="progression", resamples=200, seed=1),
    )
    snap = evaluation.snapshot()
    truth, pred = holdout["progression"], models[1].predict(holdout[features.columns])
    assert evaluation.results["task"] == "regression"
    assert snap["metrics"]["mae"] == pytest.approx(sk.mean_absolute_error(truth, pred))
    assert snap["metrics"]["r2"] == pytest.approx(sk.r2_score(truth, pred))
    assert snap["baselines"]["mean"]["predicts"] == pytest.approx(truth.mean())
    differences = snap["comparison"]["differences"]
    low, high = differences["mae"]["ci95"]
    assert low <= differences["mae"]["difference"] <= high
    assert "ci95" not in differences["r2"]
    assert "mcnemar" not in snap["comparison"]
