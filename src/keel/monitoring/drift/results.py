"""What a drift check is told (:class:`DriftConfig`) and what it answers (:class:`DriftReport`).

Defaults, and why:

- ``alpha = 0.01``: the false discovery rate Benjamini-Hochberg keeps across the features.
- ``numeric_effect = 0.05``: a numeric feature alarms only if its Wasserstein distance is above
  0.05 reference standard deviations (a mean shift of 0.1 std gives 0.1; two samples of 100,000
  rows from one distribution differ by about 0.003, and the profile's binning adds at most about
  0.002 more).
- ``categorical_effect = 0.05``: a categorical feature alarms only if the Jensen-Shannon distance
  (base 2) is above 0.05, roughly a 30% category becoming 36% (noise at 100,000 rows: ~0.004).
- ``domain_auc = 0.55``: the multivariate check alarms only above this ROC AUC.

An alarm needs both conditions, so a million rows do not turn negligible differences into alarms
and a small window does not turn a large but noisy difference into one.

>>> config = DriftConfig(alpha=0.05)
>>> config.numeric_effect, config.to_dict()["alpha"]
(0.05, 0.05)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from keel.errors import InvalidInput
from keel.monitoring.drift._arrays import finite

__all__ = ["DriftConfig", "DriftReport", "FeatureDrift"]


@dataclass(frozen=True)
class DriftConfig:
    alpha: float = 0.01  # after Benjamini-Hochberg across the features tested
    numeric_effect: float = 0.05  # Wasserstein distance in reference standard deviations
    categorical_effect: float = 0.05  # Jensen-Shannon distance, base 2
    multivariate: bool = True  # also run the domain classifier
    domain_auc: float = 0.55  # ROC AUC above which the domain classifier may alarm
    features: Sequence[str] | None = None  # None: every column; kept as a tuple
    seed: int = 0
    sample_rows: int = 5000  # rows of the current window given to the domain classifier
    folds: int = 2  # cross-fitting folds of the domain classifier
    psi_bins: int = 10  # reference-quantile bins of a numeric PSI
    workers: int | None = None  # threads over columns; None: up to 4, one per core

    def __post_init__(self) -> None:
        if self.features is not None:
            if isinstance(self.features, str) or not all(isinstance(f, str) for f in self.features):
                raise InvalidInput("features", "must be a sequence of column names")
            object.__setattr__(self, "features", tuple(self.features))
        checks = {
            "alpha": 0 < self.alpha < 1,
            "numeric_effect": self.numeric_effect >= 0,
            "categorical_effect": 0 <= self.categorical_effect <= 1,
            "domain_auc": 0.5 <= self.domain_auc < 1,
            "sample_rows": self.sample_rows >= 0,
            "folds": self.folds >= 2,
            "psi_bins": self.psi_bins >= 2,
            "workers": self.workers is None or self.workers >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise InvalidInput(name, f"{getattr(self, name)!r} is out of range")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["features"] = None if self.features is None else list(self.features)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("features") is not None:
            values["features"] = tuple(values["features"])
        return cls(**values)


@dataclass(frozen=True)
class FeatureDrift:
    """One column's verdict. ``statistic``/``p_value`` are the test's (KS for numbers,
    chi-square for categories), ``p_adjusted`` after Benjamini-Hochberg across the report's
    features; ``effect`` is the Wasserstein distance in reference standard deviations or the
    Jensen-Shannon distance, compared with ``threshold``; ``stats`` holds every statistic
    computed; ``histogram`` the reference and current shares for an overlay."""

    feature: str
    kind: str  # "numeric" | "categorical"
    test: str  # "ks" | "chi2"
    statistic: float
    p_value: float
    p_adjusted: float
    effect: float
    effect_name: str  # "wasserstein_std" | "jensen_shannon"
    threshold: float
    drifted: bool
    psi: float
    stats: dict[str, Any] = field(default_factory=dict)
    rows: int = 0  # non-missing values in the current window
    reference_rows: int = 0
    missing_share: float = 0.0  # in the current window (infinite values count as missing)
    reference_missing_share: float = 0.0
    histogram: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("statistic", "p_value", "p_adjusted", "effect", "threshold", "psi"):
            data[name] = finite(data[name])
        data["stats"] = _json_safe(self.stats)
        data["histogram"] = _json_safe(self.histogram)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureDrift:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        for name in ("statistic", "p_value", "p_adjusted", "effect", "threshold", "psi"):
            values[name] = float("nan") if values.get(name) is None else float(values[name])
        return cls(**values)


@dataclass(frozen=True)
class DriftReport:
    features: list[FeatureDrift]  # sorted by effect, largest first
    multivariate: dict[str, Any] | None
    issues: list[dict[str, Any]]  # data-quality problems: {"column", "code", "problem"}
    rows: int  # rows in the current window
    reference_rows: int
    config: DriftConfig = field(default_factory=DriftConfig)

    @property
    def drifted(self) -> list[str]:
        """Names of the features that drifted, largest effect first."""
        return [f.feature for f in self.features if f.drifted]

    @property
    def alarm(self) -> bool:
        """Whether any feature drifted or the multivariate check alarmed."""
        return bool(self.drifted) or bool(self.multivariate and self.multivariate["drifted"])

    def feature(self, name: str) -> FeatureDrift:
        for result in self.features:
            if result.feature == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (``None`` for NaN and infinities); :meth:`from_dict` reads it back."""
        return {
            "rows": self.rows,
            "reference_rows": self.reference_rows,
            "drifted": self.drifted,
            "alarm": self.alarm,
            "features": [f.to_dict() for f in self.features],
            "multivariate": _json_safe(self.multivariate),
            "issues": _json_safe(self.issues),
            "config": self.config.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReport:
        return cls(
            features=[FeatureDrift.from_dict(f) for f in data["features"]],
            multivariate=data.get("multivariate"),
            issues=list(data.get("issues", [])),
            rows=int(data["rows"]),
            reference_rows=int(data["reference_rows"]),
            config=DriftConfig.from_dict(data.get("config", {})),
        )


def _json_safe(value: Any) -> Any:
    """``value`` with every float finite or ``None``, NumPy scalars as Python ones."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item"):  # a NumPy scalar
        return _json_safe(value.item())
    if isinstance(value, float):
        return finite(value)
    return value
