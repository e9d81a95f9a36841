"""The metric-name lists policies, gates and alert rules check against, derived from the one
declaration of each metric (``keel.domain.metric_specs``) so no list can drift from it."""

from __future__ import annotations

from keel.domain.metric_specs import METRIC_SPECS, metric_names

#: every metric a gate may name (see keel.evaluation.metrics)
CLASSIFICATION_METRICS = metric_names("classification")
REGRESSION_METRICS = metric_names("regression")
COST_METRICS = metric_names("cost")
LOWER_IS_BETTER = frozenset(s.name for s in METRIC_SPECS if not s.higher_is_better)
METRICS = frozenset(CLASSIFICATION_METRICS + REGRESSION_METRICS + COST_METRICS)
#: metrics whose difference from the champion gets a bootstrap interval
COMPARABLE = frozenset(s.name for s in METRIC_SPECS if s.compared)
