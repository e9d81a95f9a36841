"""Whether a version beats the naive baselines, as its newest evaluation measured them.

A deployment records this whatever the risk profile (a ``low`` launch runs no gate, yet
"always on time" beating the model is exactly what it must not hide): the main metric
(``accuracy`` for a classifier, ``rmse`` for a regressor) of the version beside each baseline the
evaluation scored on the same held-out rows (``majority`` or ``mean``, and ``persistence`` on
time-ordered suites), with the margin. A version never evaluated is recorded as such; a refit
(``training.refit``: the gated version fitted again on all rows, tagged ``refit_of``) is compared
through the evaluation of the version it refits, and says so.

>>> from types import SimpleNamespace
>>> stored = SimpleNamespace(id=7, suite="holdout", results={"snapshots": [{"ref": "h@1",
...     "rows": 500, "metrics": {"accuracy": 0.811},
...     "baselines": {"majority": {"accuracy": 0.816}}}]})
>>> found = compare(stored, version=1)  # an EvaluationRecord's id, suite and results
>>> found.beats, found.summary()
(False, 'v1 does not beat the majority baseline on h@1: accuracy 0.811 against 0.816 (-0.005)')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from keel.domain.names import ModelRef
from keel.domain.retraining import REFIT_TAG
from keel.evaluation.baselines import margin
from keel.registry import governance, models
from keel.registry.evaluation_records import EvaluationRecord
from keel.store.database import Database

__all__ = ["BaselineComparison", "compare", "compare_version"]

#: the metric compared, in order of preference: the first the evaluation computed
MAIN_METRICS = ("accuracy", "rmse")


@dataclass(frozen=True)
class BaselineComparison:
    """The version's main metric against each baseline, per held-out snapshot."""

    version: int
    evaluation: int | None = None
    suite: str | None = None
    #: one per snapshot and baseline: snapshot, rows, metric, model, baseline, value, margin
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: the version the evaluation scored: ``version`` itself, or the one a refit refits
    measured_on: int | None = None

    @property
    def beats(self) -> bool | None:
        """True when the model beats every baseline compared, None when nothing was."""
        if not self.rows:
            return None
        return all(r["margin"] > 0 for r in self.rows)

    def summary(self) -> str:
        """One line saying whether the model beats its baselines, worst margin first."""
        if self.evaluation is None:
            return f"v{self.version} was never evaluated: nobody knows whether it beats a baseline"
        if not self.rows:
            return f"v{self.version}: evaluation #{self.evaluation} scored no baseline"
        worst = min(self.rows, key=lambda r: r["margin"])
        verb = "beats" if worst["margin"] > 0 else "does not beat"
        what = "every baseline" if worst["margin"] > 0 else f"the {worst['baseline']} baseline"
        through = ""
        if self.measured_on not in (None, self.version):
            through = f" (as measured on v{self.measured_on}, which it refits)"
        return (
            f"v{self.version} {verb} {what} on {worst['snapshot']}: {worst['metric']} "
            f"{worst['model']:.4g} against {worst['value']:.4g} ({worst['margin']:+.4g}){through}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "evaluation": self.evaluation,
            "suite": self.suite,
            "measured_on": self.measured_on,
            "beats": self.beats,
            "summary": self.summary(),
            "rows": [dict(r) for r in self.rows],
        }


def compare(
    evaluation: EvaluationRecord | None, *, version: int, measured_on: int | None = None
) -> BaselineComparison:
    """The comparison a stored evaluation (``governance.get_evaluation``) holds."""
    if evaluation is None:
        return BaselineComparison(version)
    rows: list[dict[str, Any]] = []
    for snap in (evaluation.results or {}).get("snapshots", []):
        metrics = snap.get("metrics") or {}
        metric = next((m for m in MAIN_METRICS if metrics.get(m) is not None), None)
        if metric is None:
            continue
        for name, scores in (snap.get("baselines") or {}).items():
            value = (scores or {}).get(metric)
            if value is None:
                continue
            rows.append(
                {
                    "snapshot": snap.get("ref"),
                    "rows": snap.get("rows"),
                    "metric": metric,
                    "model": float(metrics[metric]),
                    "baseline": name,
                    "value": float(value),
                    "margin": margin(metric, metrics[metric], value),
                }
            )
    scored = measured_on or version
    return BaselineComparison(version, evaluation.id, evaluation.suite, rows, scored)


def compare_version(db: Database, model: str, version: int) -> BaselineComparison:
    """The comparison of ``model/version``'s newest finished evaluation (a refit's: that of the
    version it refits)."""
    measured_on = version
    newest = _newest_finished(db, model, version)
    if newest is None:
        refits = models.resolve(db, ModelRef(model, version=version)).tags.get(REFIT_TAG, "")
        if refits.isdigit():
            measured_on = int(refits)
            newest = _newest_finished(db, model, measured_on)
    if newest is None:
        return BaselineComparison(version)
    evaluation = governance.get_evaluation(db, newest)
    return compare(evaluation, version=version, measured_on=measured_on)


def _newest_finished(db: Database, model: str, version: int) -> int | None:
    found = governance.list_evaluations(db, model, version)
    return next((e.id for e in found if e.status == "finished"), None)
