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
- ``accuracy below reference``, ``estimated_roc_auc below reference``, ``rmse above reference``:
  no number typed; the limit comes from the version's reference data (its own chunk-to-chunk
  variability at the live window's size, ``keel.monitoring.reference_limits``);
- ``accuracy beats baseline majority``: fires when the model does NOT beat a naive baseline
  (``majority``, ``persistence`` or ``mean``) scored on the same labelled rows; the observed value
  is the margin (positive when the model is better), breached at or below 0;
- ``... as critical`` sets the severity (``warning`` by default).

>>> rule = parse_alert_rule("accuracy < 0.92 over the last 5,000 labelled predictions")
>>> rule.family, rule.threshold, rule.labelled_rows
('realized', 0.92, 5000)
>>> parse_alert_rule("estimated_roc_auc below reference").against
'reference'
>>> parse_alert_rule("accuracy beats baseline majority").baseline
'majority'
"""

from __future__ import annotations

import re
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict

from keel.domain.metric_specs import METRIC_SPECS, RuleFamily, find_metric
from keel.domain.numbers import finite, whole
from keel.errors import InvalidInput

Family = RuleFamily
Op = Literal[">=", "<=", ">", "<"]
Severity = Literal["warning", "critical"]
Against = Literal["reference", "baseline"]

#: the metrics each family of rules may name, as declared in ``keel.domain.metric_specs``
ESTIMATED_METRICS = tuple(s.name for s in METRIC_SPECS if s.rule_family == "estimated")
DRIFT_METRICS = tuple(s.name for s in METRIC_SPECS if s.rule_family == "drift")
OPERATION_METRICS = tuple(s.name for s in METRIC_SPECS if s.rule_family == "operations")
#: realized metrics come from labelled predictions; 1,000 of them unless the rule says otherwise
DEFAULT_LABELLED_ROWS = 1000

_NUMBER = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RULE = re.compile(
    rf"^(?P<metric>\w+)\s*(?P<op>>=|<=|>|<)\s*(?P<value>{_NUMBER})"
    rf"(?:\s+over\s+the\s+last\s+(?P<span>{_NUMBER})\s+(?P<unit>labell?ed\s+predictions|windows?))?"
    r"(?:\s+as\s+(?P<severity>warning|critical))?$"
)
#: a rule with no number: its limit comes from the reference, or its comparison from a baseline
_RELATIVE_RULE = re.compile(
    r"^(?P<metric>\w+)\s+(?:(?P<direction>below|above)\s+reference"
    r"|beats\s+baseline\s+(?P<baseline>\w+))"
    rf"(?:\s+over\s+the\s+last\s+(?P<span>{_NUMBER})\s+(?P<unit>labell?ed\s+predictions|windows?))?"
    r"(?:\s+as\s+(?P<severity>warning|critical))?$"
)
#: the naive predictors a model is measured against (keel.evaluation.baselines)
BASELINES = ("majority", "persistence", "mean")


class AlertRule(BaseModel):
    """One parsed alert sentence.

    ``against`` marks the rules with no number typed: ``reference`` rules take their limit from
    the observation (the version's reference), so ``threshold`` is None; ``baseline`` rules
    observe the model's margin over ``baseline`` and fire at or below 0.
    """

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    text: str
    metric: str
    op: Op
    threshold: float | None
    family: Family
    labelled_rows: int | None = None
    windows: int = 1
    severity: Severity = "warning"
    against: Against | None = None
    baseline: str | None = None

    def breached(self, value: float, limit: float | None = None) -> bool:
        """Whether ``value`` meets the rule's condition against ``limit`` (the rule's own
        threshold when None); the alert fires when it does."""
        threshold = self.threshold if limit is None else limit
        if threshold is None:
            raise InvalidInput("limit", f"{self.text!r} takes its limit from the reference")
        if self.op == ">=":
            return value >= threshold
        if self.op == "<=":
            return value <= threshold
        if self.op == ">":
            return value > threshold
        return value < threshold


#: observations computed from labelled predictions that are not offline metrics
STREAM_METRICS = tuple(s.name for s in METRIC_SPECS if s.family == "stream")


def _family(metric: str) -> Family | None:
    spec = find_metric(metric)
    return None if spec is None else spec.rule_family


#: a rule sentence's first word: the metric it observes (both grammars above start with it)
_LEADING_METRIC = re.compile(r"\s*(\w+)")


def rule_metric(text: str) -> str | None:
    """The metric a rule sentence names, without checking the rest of it: how a stored alert's
    rule leads to its metric's declaration (and its family) without running the grammar again.

    >>> rule_metric("drifted_features>=3 as critical"), rule_metric("accuracy below reference")
    ('drifted_features', 'accuracy')
    """
    match = _LEADING_METRIC.match(text)
    return match.group(1) if match else None


def parse_alert_rule(text: str, field: str = "monitoring.alerts") -> AlertRule:
    """Parse one rule; raise InvalidInput naming the sentence and what is wrong with it."""
    if not isinstance(text, str):
        raise InvalidInput(field, f"{text!r} is not an alert rule sentence")
    clean = " ".join(text.split())
    relative = _RELATIVE_RULE.match(clean)
    if relative is not None:
        return _relative_rule(clean, relative, field)
    match = _RULE.match(clean)
    if match is None:
        raise InvalidInput(
            field,
            f"{clean!r} is not an alert rule; write e.g. 'accuracy < 0.92 over the last 5,000 "
            "labelled predictions', 'estimated_accuracy < 0.93', 'drifted_features >= 3', "
            "'latency_p99_ms > 50', 'cost_per_1k > 0.20', 'accuracy below reference' or "
            "'accuracy beats baseline majority'",
        )
    metric = match["metric"]
    family = _known_family(metric, clean, field)
    labelled_rows, windows = _span(match, family, clean, field)
    # _RULE's pattern admits only these comparisons and severities; AlertRule validates them too
    return AlertRule(
        text=clean,
        metric=metric,
        op=cast(Op, match["op"]),
        threshold=finite(match["value"], field, clean),
        family=family,
        labelled_rows=labelled_rows,
        windows=windows,
        severity=cast(Severity, match["severity"] or "warning"),
    )


def _relative_rule(clean: str, match: re.Match[str], field: str) -> AlertRule:
    """``METRIC below|above reference`` or ``METRIC beats baseline NAME``."""
    metric = match["metric"]
    op: Op
    against: Against
    baseline: str | None
    threshold: float | None
    family = _known_family(metric, clean, field)
    if match["direction"] is not None:
        if family not in ("realized", "estimated") or metric in STREAM_METRICS:
            raise InvalidInput(
                field,
                f"{clean!r}: only realized and estimated metrics have a reference limit",
            )
        spec = find_metric(metric)
        worse = "above" if spec is not None and not spec.higher_is_better else "below"
        if match["direction"] != worse:
            raise InvalidInput(
                field,
                f"{clean!r}: {metric} gets worse {worse} its reference; write "
                f"'{metric} {worse} reference'",
            )
        op, against, baseline, threshold = (
            "<" if worse == "below" else ">",
            "reference",
            None,
            None,
        )
    else:
        if family != "realized" or metric in STREAM_METRICS:
            raise InvalidInput(
                field, f"{clean!r}: a baseline is compared on realized metrics (from labels)"
            )
        if match["baseline"] not in BASELINES:
            raise InvalidInput(
                field,
                f"{clean!r}: unknown baseline {match['baseline']!r}; known: {', '.join(BASELINES)}",
            )
        op, against, baseline, threshold = "<=", "baseline", match["baseline"], 0.0
    labelled_rows, windows = _span(match, family, clean, field)
    return AlertRule(
        text=clean,
        metric=metric,
        op=op,
        threshold=threshold,
        family=family,
        labelled_rows=labelled_rows,
        windows=windows,
        severity=cast(Severity, match["severity"] or "warning"),
        against=against,
        baseline=baseline,
    )


def _known_family(metric: str, clean: str, field: str) -> Family:
    family = _family(metric)
    if family is None:
        known = sorted(s.name for s in METRIC_SPECS if s.rule_family is not None)
        raise InvalidInput(
            field, f"{clean!r}: unknown observation {metric!r}; known: {', '.join(known)}"
        )
    return family


def _span(match: re.Match[str], family: Family, clean: str, field: str) -> tuple[int | None, int]:
    """The labelled rows (realized metrics) or windows (the rest) a rule is measured over."""
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
    return labelled_rows, windows
