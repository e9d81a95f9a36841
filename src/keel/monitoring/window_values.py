"""How each drift metric an alert rule may name is read from a stored window: one table, keyed
by the rule grammar's own list (``keel.domain.alert_rules.DRIFT_METRICS``), so a metric the
grammar accepts always has a reader and a reader always has a name a rule can use.

>>> from types import SimpleNamespace
>>> window = SimpleNamespace(drift={"features": ["a", "b"], "drifted": ["a"]}, performance=None)
>>> DRIFT_READERS["drift_share"](window)
0.5
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["DRIFT_READERS"]

#: a stored window row (``monitor_windows``), read by attribute
Window = Any


def _drifted_features(window: Window) -> float | None:
    return float(len((window.drift or {}).get("drifted", [])))


def _drift_share(window: Window) -> float | None:
    drift = window.drift or {}
    tested = len(drift.get("features", []))
    return len(drift.get("drifted", [])) / tested if tested else None


def _domain_auc(window: Window) -> float | None:
    auc = ((window.drift or {}).get("multivariate") or {}).get("auc")
    return None if auc is None else float(auc)


def _prediction_drift(window: Window) -> float | None:
    return float(bool((window.drift or {}).get("prediction_drift")))


def _label_drift(window: Window) -> float | None:
    label = (window.performance or {}).get("label_drift")
    return None if label is None else float(bool(label.get("drifted")))


DRIFT_READERS: dict[str, Callable[[Window], float | None]] = {
    "drifted_features": _drifted_features,
    "drift_share": _drift_share,
    "domain_auc": _domain_auc,
    "prediction_drift": _prediction_drift,
    "label_drift": _label_drift,
}
