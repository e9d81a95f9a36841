"""Alert rules, written as sentences in a model's policy and parsed here so a typo fails early.

A rule names an observation, a comparison and, where it matters, the span it is measured over:

- ``accuracy < 0.92 over the last 5,000 labelled predictions``: a realized metric, from labels;
- ``accuracy_drop >= 1 over the last 20,000 labelled predictions``: the streaming detector
  (``keel.monitoring.detectors``) found the error rate rising in the newest version's labelled
  predictions, in time order;
- ``estimated_accuracy < 0.93``: a label-free estimate (CBPE) for the newest window;
- ``drifted_features >= 3``, ``domain_auc > 0.6``: drift in the newest window;
- ``latency_p99_ms > 50 over the last 3 windows``, ``error_rate > 0.01``, ``cost_per_1k > 0.20``:
  operations, averaged over the windows named (the newest one by default);
- ``... as critical`` sets the severity (``warning`` by default).

>>> rule = parse_alert_rule("accuracy < 0.92 over the last 5,000 labelled predictions")
>>> rule.family, rule.threshold, rule.labelled_rows
('realized', 0.92, 5000)
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

from keel.domain.metric_names import CLASSIFICATION_METRICS, REGRESSION_METRICS
from keel.domain.numbers import finite, whole
from keel.errors import InvalidInput

Family = Literal["realized", "estimated", "drift", "operations"]

ESTIMATED_METRICS = tuple(f"estimated_{m}" for m in ("accuracy", "precision", "recall", "f1"))
DRIFT_METRICS = ("drifted_features", "drift_share", "domain_auc", "prediction_drift", "label_drift")
OPERATION_METRICS = (
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "error_rate",
    "throughput_rps",
    "cost_per_1k",
)
#: realized metrics come from labelled predictions; 1,000 of them unless the rule says otherwise
DEFAULT_LABELLED_ROWS = 1000

_NUMBER = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RULE = re.compile(
    rf"^(?P<metric>\w+)\s*(?P<op>>=|<=|>|<)\s*(?P<value>{_NUMBER})"
    rf"(?:\s+over\s+the\s+last\s+(?P<span>{_NUMBER})\s+(?P<unit>labell?ed\s+predictions|windows?))?"
    r"(?:\s+as\s+(?P<severity>warning|critical))?$"
)


class AlertRule(BaseModel):
    """One parsed alert sentence."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    text: str
    metric: str
    op: Literal[">=", "<=", ">", "<"]
    threshold: float
    family: Family
    labelled_rows: int | None = None
    windows: int = 1
    severity: Literal["warning", "critical"] = "warning"

    def breached(self, value: float) -> bool:
        """Whether ``value`` meets the rule's condition (the alert fires when it does)."""
        if self.op == ">=":
            return value >= self.threshold
        if self.op == "<=":
            return value <= self.threshold
        if self.op == ">":
            return value > self.threshold
        return value < self.threshold


#: observations computed from labelled predictions that are not offline metrics
STREAM_METRICS = ("accuracy_drop",)


def _family(metric: str) -> Family | None:
    if metric in CLASSIFICATION_METRICS or metric in REGRESSION_METRICS or metric in STREAM_METRICS:
        return "realized"
    if metric in ESTIMATED_METRICS:
        return "estimated"
    if metric in DRIFT_METRICS:
        return "drift"
    if metric in OPERATION_METRICS:
        return "operations"
    return None


def parse_alert_rule(text: str, field: str = "monitoring.alerts") -> AlertRule:
    """Parse one rule; raise InvalidInput naming the sentence and what is wrong with it."""
    if not isinstance(text, str):
        raise InvalidInput(field, f"{text!r} is not an alert rule sentence")
    clean = " ".join(text.split())
    match = _RULE.match(clean)
    if match is None:
        raise InvalidInput(
            field,
            f"{clean!r} is not an alert rule; write e.g. 'accuracy < 0.92 over the last 5,000 "
            "labelled predictions', 'estimated_accuracy < 0.93', 'drifted_features >= 3', "
            "'latency_p99_ms > 50' or 'cost_per_1k > 0.20'",
        )
    metric = match["metric"]
    family = _family(metric)
    if family is None:
        known = sorted(
            {*CLASSIFICATION_METRICS, *REGRESSION_METRICS, *ESTIMATED_METRICS, *STREAM_METRICS}
            | {*DRIFT_METRICS, *OPERATION_METRICS}
        )
        raise InvalidInput(
            field, f"{clean!r}: unknown observation {metric!r}; known: {', '.join(known)}"
        )
    labelled_rows: int | None = None
    windows = 1
    if match["span"] is not None:
        span = whole(match["span"], field, clean)
        if span < 1:
            raise InvalidInput(field, f"{clean!r}: the span must be at least 1")
        if match["unit"].startswith("label"):
            if family != "realized":
                raise InvalidInput(
                    field,
                    f"{clean!r}: only realized metrics are measured over labelled predictions; "
                    "use 'over the last N windows'",
                )
            labelled_rows = span
        else:
            if family == "realized":
                raise InvalidInput(
                    field,
                    f"{clean!r}: realized metrics are measured over the last N labelled "
                    "predictions",
                )
            windows = span
    elif family == "realized":
        labelled_rows = DEFAULT_LABELLED_ROWS
    return AlertRule(
        text=clean,
        metric=metric,
        op=match["op"],  # type: ignore[arg-type]
        threshold=finite(match["value"], field, clean),
        family=family,
        labelled_rows=labelled_rows,
        windows=windows,
        severity=match["severity"] or "warning",  # type: ignore[arg-type]
    )
