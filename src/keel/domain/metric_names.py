"""The names of every metric Keel computes, and which way is better: one definition, used by
policies, gates, alert rules and the evaluation code."""

from __future__ import annotations

#: every metric a gate may name (see keel.evaluation.metrics)
CLASSIFICATION_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "ece",
)
REGRESSION_METRICS = ("mae", "rmse", "r2", "mape")
COST_METRICS = (
    "latency_p50_ms",
    "latency_p99_ms",
    "latency_batch_p50_ms",
    "latency_batch_p99_ms",
    "size_mb",
    "peak_memory_mb",
)
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "ece", "mae", "rmse", "mape", *COST_METRICS})
METRICS = frozenset(CLASSIFICATION_METRICS + REGRESSION_METRICS + COST_METRICS)
#: metrics whose difference from the champion gets a bootstrap interval
COMPARABLE = METRICS - set(COST_METRICS) - {"ece", "r2"}
