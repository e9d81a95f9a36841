"""What monitoring last found about each served version, read from the store for ``/metrics``.

Only versions that serve now (each model's champion, and the candidate of a running
deployment) are read: a retired version's last numbers would sit in Prometheus looking current.
Each figure comes with the end of the window it was measured on, so a rule can tell a number
that stopped moving from a model that stopped being monitored.

- realized metrics: the newest window with labelled predictions (labels arrive late, so this
  is often an older window than the newest);
- estimated metrics and drift: the newest window;
- the main metric: the metric the policy gates on (its first quality gate), else the metric of
  its first realized or estimated alert rule, else accuracy (classifiers) or rmse (regressors);
- the baseline margin: the realized main metric minus the same metric of the naive baseline
  scored on the same labelled rows (``majority`` for classifiers, ``mean`` for regressors),
  sign-flipped for metrics where lower is better, so positive always means "beats the baseline";
- open alerts: firing or acknowledged, per model and severity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel.domain.metric_specs import find_metric, metric_names
from keel.domain.policy import Policy
from keel.errors import KeelError
from keel.registry import deployments, governance
from keel.store.database import Database
from keel.store.schema import alerts, monitor_windows

#: alert states that still need someone
OPEN_STATES = ("firing", "acknowledged")
SEVERITIES = ("warning", "critical")
#: the naive baseline the margin is taken against, in order of preference
MARGIN_BASELINES = ("majority", "mean")
#: the fallback main metrics, classifiers' first
DEFAULT_MAIN_METRICS = ("accuracy", "rmse")
#: the metrics exported as realized or estimated figures: the declared model-quality metrics
_QUALITY_METRICS = frozenset(metric_names("classification", "regression"))


@dataclass(frozen=True)
class VersionQuality:
    """One served version's latest monitoring figures (None or empty where not measured)."""

    model: str
    version: int
    realized: dict[str, float] = field(default_factory=dict)
    realized_end: datetime | None = None
    labelled_rows: int = 0
    estimated: dict[str, float] = field(default_factory=dict)
    drifted_features: int | None = None
    newest_end: datetime | None = None
    main_metric: str | None = None
    baseline: str | None = None
    baseline_margin: float | None = None


@dataclass(frozen=True)
class QualityReading:
    """Every served version's figures and the open alerts, as read at one moment."""

    versions: list[VersionQuality]
    open_alerts: dict[tuple[str, str, str], int]


def read_quality(db: Database) -> QualityReading:
    """Read the figures of every version that serves now (a few indexed queries per model)."""
    plans = deployments.serving_plans(db)
    with db.read() as conn:
        versions = [
            _version_quality(conn, model, version, _policy(conn, model))
            for model, plan in sorted(plans.items())
            for version in sorted({v for v in (plan.stable, plan.candidate) if v is not None})
        ]
        open_alerts = _open_alerts(conn, sorted(plans))
    return QualityReading(versions, open_alerts)


def _policy(conn: Connection, model: str) -> Policy | None:
    try:
        return governance.policy_in(conn, model)
    except KeelError:  # a stored policy this version of Keel cannot read: use the defaults
        return None


def _newest(conn: Connection, model: str, version: int, *, labelled: bool) -> Any:
    query = sa.select(monitor_windows).where(
        monitor_windows.c.model == model, monitor_windows.c.version == version
    )
    if labelled:
        query = query.where(monitor_windows.c.labelled_rows > 0)
    return conn.execute(
        query.order_by(monitor_windows.c.end_at.desc(), monitor_windows.c.id.desc()).limit(1)
    ).first()


def _version_quality(
    conn: Connection, model: str, version: int, policy: Policy | None
) -> VersionQuality:
    newest = _newest(conn, model, version, labelled=False)
    if newest is None:
        return VersionQuality(model, version)
    labelled = _newest(conn, model, version, labelled=True)
    performance: dict[str, Any] = dict(labelled.performance or {}) if labelled is not None else {}
    realized = _numbers(performance)
    estimated = _numbers((newest.estimate or {}).get("metrics") or {})
    drift = newest.drift or {}
    main = main_metric(policy, realized, estimated)
    baseline, margin = baseline_margin(performance, main)
    return VersionQuality(
        model=model,
        version=version,
        realized=realized,
        realized_end=labelled.end_at if labelled is not None else None,
        labelled_rows=int(labelled.labelled_rows) if labelled is not None else 0,
        estimated=estimated,
        drifted_features=len(drift.get("drifted") or []) if "drifted" in drift else None,
        newest_end=newest.end_at,
        main_metric=main,
        baseline=baseline,
        baseline_margin=margin,
    )


def _numbers(values: dict[str, Any]) -> dict[str, float]:
    """The quality metrics among ``values`` that hold a number (counts and nested detail out)."""
    return {
        key: float(value)
        for key, value in sorted(values.items())
        if key in _QUALITY_METRICS
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and value == value  # not NaN
    }


def main_metric(
    policy: Policy | None, realized: dict[str, float], estimated: dict[str, float]
) -> str | None:
    """The metric the policy cares about most, among those measured (see the module doc)."""
    named: list[str] = []
    if policy is not None:
        named += [g.metric for g in policy.gates.checks if g.kind != "cost"]
        named += [
            r.metric.removeprefix("estimated_")
            for r in policy.monitoring.alerts
            if r.family in ("realized", "estimated") and r.against != "baseline"
        ]
    measured = realized.keys() | estimated.keys()
    for metric in [*named, *DEFAULT_MAIN_METRICS]:
        if metric in _QUALITY_METRICS and metric in measured:
            return metric
    return None


def baseline_margin(
    performance: dict[str, Any], metric: str | None
) -> tuple[str | None, float | None]:
    """``metric`` realized minus the naive baseline's on the same rows (positive: better)."""
    if metric is None:
        return None, None
    mine = _numbers(performance).get(metric)
    baselines = performance.get("baselines") or {}
    for name in MARGIN_BASELINES:
        theirs = _numbers(baselines.get(name) or {}).get(metric)
        if mine is not None and theirs is not None:
            difference = mine - theirs
            spec = find_metric(metric)
            lower_is_better = spec is not None and not spec.higher_is_better
            return name, -difference if lower_is_better else difference
    return None, None


def _open_alerts(conn: Connection, models: list[str]) -> dict[tuple[str, str, str], int]:
    """Open alerts per (model, severity, state), zero included for every served model."""
    counts = {(m, s, state): 0 for m in models for s in SEVERITIES for state in OPEN_STATES}
    rows = conn.execute(
        sa.select(alerts.c.model, alerts.c.severity, alerts.c.state, sa.func.count())
        .where(alerts.c.state.in_(OPEN_STATES))
        .group_by(alerts.c.model, alerts.c.severity, alerts.c.state)
    )
    for model, severity, state, count in rows:
        counts[(model, severity, state)] = int(count)
    return counts
