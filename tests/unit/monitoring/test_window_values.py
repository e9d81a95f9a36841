"""Every metric the alert-rule grammar reads from windows has one reader of stored windows, as its
declaration places it; every reader answers for a window that holds nothing yet (None or a
count, never an exception), and reads back what monitoring stored."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from keel.domain.alert_rules import DRIFT_METRICS, STREAM_METRICS, parse_alert_rule
from keel.domain.metric_names import CLASSIFICATION_METRICS
from keel.domain.metric_specs import METRIC_SPECS
from keel.monitoring.performance import realized_metrics
from keel.monitoring.window_values import DRIFT_READERS, WINDOW_READERS, window_value


def test_the_readers_are_the_grammars_drift_metrics() -> None:
    assert set(DRIFT_READERS) == set(DRIFT_METRICS)
    for metric in DRIFT_METRICS:
        assert parse_alert_rule(f"{metric} > 0.5").family == "drift"


def test_an_empty_window_reads_as_nothing_or_zero() -> None:
    empty = SimpleNamespace(drift=None, performance=None)
    read = {metric: reader(empty) for metric, reader in DRIFT_READERS.items()}
    assert read == {
        "drifted_features": 0.0,
        "drift_share": None,
        "domain_auc": None,
        "prediction_drift": 0.0,
        "label_drift": None,
    }


def test_a_drifted_window_reads_each_fact() -> None:
    window = SimpleNamespace(
        drift={
            "features": ["a", "b", "c", "d"],
            "drifted": ["a"],
            "multivariate": {"auc": 0.71},
            "prediction_drift": {"p_value": 0.001},
        },
        performance={"label_drift": {"drifted": True}},
    )
    read = {metric: reader(window) for metric, reader in DRIFT_READERS.items()}
    assert read == {
        "drifted_features": 1.0,
        "drift_share": 0.25,
        "domain_auc": 0.71,
        "prediction_drift": 1.0,
        "label_drift": 1.0,
    }


def test_every_metric_a_window_rule_names_has_a_reader() -> None:
    observed = {s.name for s in METRIC_SPECS if s.rule_family is not None}
    assert observed - set(WINDOW_READERS) == set(STREAM_METRICS)


def test_a_labelled_window_reads_back_the_realized_metrics_monitoring_stored() -> None:
    joined = pd.DataFrame(
        {
            "prediction": [1, 1, 0, 0, 1, 0],
            "score": [0.9, 0.7, 0.2, 0.4, 0.6, 0.1],
            "label": [1, 0, 0, 1, 1, 0],
        }
    )
    reference = SimpleNamespace(task="classification", classes=[0, 1])
    performance = realized_metrics(joined, reference)
    window = SimpleNamespace(performance=performance)
    for metric in CLASSIFICATION_METRICS:
        assert window_value(metric, window) == performance[metric], metric


def test_estimates_and_operations_read_from_their_columns() -> None:
    window = SimpleNamespace(
        estimate={"metrics": {"accuracy": 0.91, "roc_auc": 0.88}},
        operations={"latency_p99_ms": 41.0, "error_rate": 0.002},
    )
    assert window_value("estimated_accuracy", window) == 0.91
    assert window_value("estimated_roc_auc", window) == 0.88
    assert window_value("estimated_f1", window) is None
    assert window_value("latency_p99_ms", window) == 41.0
    assert window_value("error_rate", window) == 0.002
    assert window_value("size_mb", window) is None  # measured offline only
    assert window_value("accuracy_drop", window) is None  # a detector's, not a window's
