"""Every drift metric the alert-rule grammar accepts has one reader of stored windows, and every
reader answers for a window that holds nothing yet (None or a count, never an exception)."""

from __future__ import annotations

from types import SimpleNamespace

from keel.domain.alert_rules import DRIFT_METRICS, parse_alert_rule
from keel.monitoring.window_values import DRIFT_READERS


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
