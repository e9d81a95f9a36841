"""Data, prediction and label drift: per-feature tests against a bounded reference profile.

- :class:`ReferenceProfile` (``reference``): bounded summaries of the reference data and a row
  sample, built from a DataFrame or chunks, stored as JSON.
- :func:`detect_drift` (``detector``): every feature of a window against a profile or raw
  reference, Benjamini-Hochberg across features, an alarm needing significance *and* an effect
  above its threshold, and a multivariate domain classifier; :func:`column_drift` for one column
  (predictions, scores, labels).
- One module per statistic: ``ks``, ``wasserstein``, ``chisquare``, ``jensen_shannon``, ``psi``,
  ``multiple_testing``, ``domain_classifier``.
"""

from keel.monitoring.drift.detector import column_drift, detect_drift
from keel.monitoring.drift.reference import ReferenceProfile
from keel.monitoring.drift.results import DriftConfig, DriftReport, FeatureDrift
from keel.monitoring.drift.summary import CategoricalSummary, NumericSummary

__all__ = [
    "CategoricalSummary",
    "DriftConfig",
    "DriftReport",
    "FeatureDrift",
    "NumericSummary",
    "ReferenceProfile",
    "column_drift",
    "detect_drift",
]
