"""The models page's data: every model with its champion, challenger, traffic split, health and
open alerts, read with one query per table (not one per model), so the page costs the same few
queries for ten models or a thousand."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from keel.store.database import Database
from keel.store.schema import alerts, aliases, deployments, model_versions, models, monitor_windows

OPEN_ALERT_STATES = ("firing", "acknowledged")


def policy_threshold(policy: dict[str, Any] | None) -> float | None:
    """The accuracy the model must keep: the monitoring shorthand, else an accuracy alert rule."""
    if not policy:
        return None
    monitoring = policy.get("monitoring") or {}
    if monitoring.get("accuracy_threshold") is not None:
        return float(monitoring["accuracy_threshold"])
    for rule in monitoring.get("alerts") or []:
        text = rule if isinstance(rule, str) else str(rule.get("rule", ""))
        words = text.split()
        if len(words) >= 3 and words[0] == "accuracy" and words[1] in ("<", "<="):
            try:
                return float(words[2])
            except ValueError:
                continue
    return None


def window_health_columns() -> list[Any]:
    """The few fields of a window a health summary needs, extracted by the database so the
    per-feature drift detail (kilobytes per window) is never read."""
    w = monitor_windows.c
    return [
        w.id,
        w.model,
        w.version,
        w.start_at,
        w.end_at,
        w.rows,
        w.labelled_rows,
        w.performance["accuracy"].label("accuracy"),
        w.performance["baselines"]["majority"]["accuracy"].label("baseline_accuracy"),
        w.estimate["metrics"]["accuracy"].label("estimated_accuracy"),
        w.drift["drifted"].label("drifted"),
        w.operations["latency_p50_ms"].label("latency_p50_ms"),
        w.operations["latency_p99_ms"].label("latency_p99_ms"),
        w.operations["throughput_rps"].label("throughput_rps"),
        w.operations["cost_per_1k"].label("cost_per_1k"),
        w.operations["error_rate"].label("error_rate"),
    ]


def health_of(row: Any) -> dict[str, Any]:
    drifted = row.drifted if isinstance(row.drifted, list) else []
    return {
        "window_id": row.id,
        "version": row.version,
        "start_at": row.start_at,
        "end_at": row.end_at,
        "rows": row.rows,
        "labelled_rows": row.labelled_rows,
        "accuracy": _number(row.accuracy),
        #: "always the most frequent class" on the same labelled rows: the floor to beat
        "baseline_accuracy": _number(row.baseline_accuracy),
        "estimated_accuracy": _number(row.estimated_accuracy),
        "drifted": [str(name) for name in drifted],
        "latency_p50_ms": _number(row.latency_p50_ms),
        "latency_p99_ms": _number(row.latency_p99_ms),
        "throughput_rps": _number(row.throughput_rps),
        "cost_per_1k": _number(row.cost_per_1k),
        "error_rate": _number(row.error_rate),
    }


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def models_overview(db: Database) -> list[dict[str, Any]]:
    """One entry per model, by name."""
    with db.read() as conn:
        rows = conn.execute(
            sa.select(
                models.c.id, models.c.name, models.c.policy, models.c.latest_version
            ).order_by(models.c.name)
        ).all()
        alias_rows = conn.execute(
            sa.select(aliases.c.model_id, aliases.c.alias, model_versions.c.version).join(
                model_versions, model_versions.c.id == aliases.c.version_id
            )
        ).all()
        running = conn.execute(
            sa.select(deployments).where(deployments.c.status == "running")
        ).all()
        latest = _newest_windows(conn, labelled=False)
        labelled = {row.model: row for row in _newest_windows(conn, labelled=True)}
        open_alerts = conn.execute(
            sa.select(alerts.c.model, alerts.c.severity, sa.func.count().label("n"))
            .where(alerts.c.state.in_(OPEN_ALERT_STATES))
            .group_by(alerts.c.model, alerts.c.severity)
        ).all()
    by_model_aliases: dict[int, dict[str, int]] = {}
    for held in alias_rows:
        by_model_aliases.setdefault(held.model_id, {})[held.alias] = held.version
    by_model_running = {d.model: d for d in running}
    by_model_health = {}
    for newest in latest:  # ordered by id: the newest id wins a tie on end time
        health = health_of(newest)
        realized = labelled.get(newest.model)
        if realized is not None:  # labels lag: realized accuracy is the newest labelled window's
            health["accuracy"] = _number(realized.accuracy)
            health["accuracy_end_at"] = realized.end_at
        by_model_health[newest.model] = health
    by_model_alerts: dict[str, dict[str, int]] = {}
    for counted in open_alerts:
        by_model_alerts.setdefault(counted.model, {})[counted.severity] = int(counted.n)
    out = []
    for row in rows:
        policy = row.policy or None
        named = by_model_aliases.get(row.id, {})
        deployment = by_model_running.get(row.name)
        out.append(
            {
                "name": row.name,
                "risk_profile": (policy or {}).get("risk_profile"),
                "threshold": policy_threshold(policy),
                "versions": row.latest_version,
                "champion": named.get("champion"),
                "challenger": named.get("challenger")
                or (deployment.candidate_version if deployment is not None else None),
                "aliases": named,
                "deployment": traffic_split(deployment, named.get("champion")),
                "health": by_model_health.get(row.name),
                "alerts": by_model_alerts.get(row.name, {}),
            }
        )
    return out


def traffic_split(deployment: Any, champion: int | None) -> dict[str, Any]:
    """What serves the model now: a running deployment's split (shares as fractions; a
    shadow's share is the part of traffic it also sees), else the champion alone."""
    if deployment is None:
        return {
            "strategy": "champion" if champion is not None else "none",
            "split": [{"version": champion, "share": 1.0}] if champion is not None else [],
            "deployment_id": None,
        }
    weight = float(deployment.candidate_weight) / 100.0  # stored in percent
    split = []
    if deployment.stable_version is not None:
        stable_share = 1.0 if deployment.strategy == "shadow" else 1.0 - weight
        split.append({"version": deployment.stable_version, "share": stable_share})
    split.append(
        {
            "version": deployment.candidate_version,
            "share": weight,
            "shadow": deployment.strategy == "shadow",
        }
    )
    return {
        "strategy": deployment.strategy,
        "split": split,
        "deployment_id": deployment.id,
        "step": deployment.step,
        "steps": deployment.steps,
    }


def _newest_windows(conn: Any, *, labelled: bool) -> list[Any]:
    """Each model's newest window (by end time), or its newest window with labels.

    One index walk per model (newest first on ``(model, end_at)``, stopping at the first
    match) instead of a GROUP BY, which would read every window row, drift detail and all."""
    w = monitor_windows.c
    inner = monitor_windows.alias("newest")
    pick = sa.select(inner.c.id).where(inner.c.model == models.c.name)
    if labelled:
        pick = pick.where(inner.c.labelled_rows > 0)
    pick = pick.order_by(inner.c.end_at.desc(), inner.c.id.desc()).limit(1)
    ids = sa.select(pick.scalar_subquery()).select_from(models)
    query = sa.select(*window_health_columns()).where(w.id.in_(ids))
    return list(conn.execute(query.order_by(w.id)).all())
