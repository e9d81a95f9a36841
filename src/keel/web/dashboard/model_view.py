"""The model page's data: versions with their gate verdicts, the alias history, charts over
the monitoring windows and the events (retrains, deployments, alias moves) on the same time
axis. Everything comes from stored rows; the raw prediction log is never read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from keel.errors import NotFound
from keel.registry import aliases as alias_registry
from keel.store.database import Database
from keel.store.schema import (
    alerts,
    deployments,
    gate_results,
    model_versions,
    models,
    monitor_windows,
    retrains,
)
from keel.web.dashboard.overview import (
    OPEN_ALERT_STATES,
    health_of,
    policy_threshold,
    traffic_split,
    window_health_columns,
)

#: windows drawn on a model page (newest first); older ones stay in the store and the CLI
MAX_WINDOWS = 1000
#: versions listed on a model page (newest first)
MAX_VERSIONS = 200


def model_page(db: Database, name: str) -> dict[str, Any]:
    with db.read() as conn:
        model = conn.execute(sa.select(models).where(models.c.name == name)).first()
        if model is None:
            raise NotFound("model", name, hint="`keel models list` shows them")
        versions = _versions(conn, model.id)
        windows = [
            health_of(row)
            for row in conn.execute(
                sa.select(*window_health_columns())
                .where(monitor_windows.c.model == name)
                .order_by(monitor_windows.c.end_at.desc(), monitor_windows.c.id.desc())
                .limit(MAX_WINDOWS)
            )
        ]
        windows.reverse()
        deployment_rows = _newest_rows(conn, deployments, name)
        retrain_rows = _newest_rows(conn, retrains, name)
        alert_rows = _newest_rows(conn, alerts, name)
    policy = model.policy or None
    moves = alias_registry.history(db, name)
    named = {}
    for move in moves:  # oldest first: the last move of each alias is where it points now
        named[move.alias] = move.version
    champion = named.get("champion")
    running = next((d for d in deployment_rows if d.status == "running"), None)
    return {
        "name": name,
        "description": model.description,
        "risk_profile": (policy or {}).get("risk_profile"),
        "threshold": policy_threshold(policy),
        "policy": policy,
        "champion": champion,
        "aliases": {alias: v for alias, v in named.items() if v is not None},
        "deployment": traffic_split(running, champion),
        "versions": versions,
        "alias_periods": [p.to_dict() for p in alias_registry.periods(moves)],
        "windows": windows,
        "latest_labelled": next((w for w in reversed(windows) if w["labelled_rows"]), None),
        "deployments": [_deployment(row) for row in deployment_rows],
        "retrains": [_retrain(row) for row in retrain_rows],
        "alerts": [_alert(row) for row in alert_rows],
        "open_alerts": [_alert(row) for row in alert_rows if row.state in OPEN_ALERT_STATES],
        "events": _events(moves, deployment_rows, retrain_rows),
    }


def _newest_rows(conn: Any, table: sa.Table, name: str, limit: int = 100) -> Sequence[Any]:
    """The newest ``limit`` rows of ``table`` about model ``name``."""
    query = sa.select(table).where(table.c.model == name).order_by(table.c.id.desc()).limit(limit)
    return conn.execute(query).all()


def _versions(conn: Any, model_id: int) -> list[dict[str, Any]]:
    latest_gate = (
        sa.select(sa.func.max(gate_results.c.id).label("id"))
        .join(model_versions, model_versions.c.id == gate_results.c.version_id)
        .where(model_versions.c.model_id == model_id)
        .group_by(gate_results.c.version_id)
        .subquery()
    )
    gates = {
        row.version_id: row
        for row in conn.execute(
            sa.select(
                gate_results.c.version_id,
                gate_results.c.verdict,
                gate_results.c.reasons,
                gate_results.c.created_at,
            ).where(gate_results.c.id.in_(sa.select(latest_gate.c.id)))
        )
    }
    rows = conn.execute(
        sa.select(
            model_versions.c.id,
            model_versions.c.version,
            model_versions.c.status,
            model_versions.c.model_class,
            model_versions.c.author,
            model_versions.c.created_at,
            model_versions.c.metrics,
            model_versions.c.size_bytes,
        )
        .where(model_versions.c.model_id == model_id)
        .order_by(model_versions.c.version.desc())
        .limit(MAX_VERSIONS)
    ).all()
    out = []
    for row in rows:
        gate = gates.get(row.id)
        out.append(
            {
                "version": row.version,
                "status": row.status,
                "model_class": row.model_class.rsplit(".", 1)[-1],
                "author": row.author,
                "created_at": row.created_at,
                "metrics": row.metrics or {},
                "size_bytes": row.size_bytes,
                "verdict": gate.verdict if gate is not None else None,
                "reasons": list(gate.reasons or []) if gate is not None else [],
                "gated_at": gate.created_at if gate is not None else None,
            }
        )
    return out


_DEPLOYMENT_FIELDS = (
    "id",
    "strategy",
    "stable_version",
    "candidate_version",
    "status",
    "reason",
    "created_by",
    "created_at",
    "candidate_weight",
)
_RETRAIN_FIELDS = (
    "id",
    "trigger",
    "reason",
    "state",
    "candidate_version",
    "outcome",
    "requested_by",
    "created_at",
    "ended_at",
)
_ALERT_FIELDS = (
    "id",
    "rule",
    "state",
    "severity",
    "value",
    "threshold",
    "message",
    "window_id",
    "fired_at",
    "resolved_at",
    "acknowledged_by",
    "occurrences",
)


def _pick(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    mapping = row._mapping
    return {field: mapping[field] for field in fields}


def _deployment(row: Any) -> dict[str, Any]:
    return {
        **_pick(row, _DEPLOYMENT_FIELDS),
        "ended_at": row.finished_at,
        "split_check": _split_check(row),
    }


def _split_check(row: Any) -> str | None:
    """An A/B test's last sample-ratio check as the rollout wrote it: verdict, unit (keys or
    rows), counts and p-value."""
    for entry in reversed(row.analysis or []):
        found = entry.get("srm") if isinstance(entry, dict) else None
        if isinstance(found, dict) and found.get("summary"):
            return str(found["summary"])
    return None


def _retrain(row: Any) -> dict[str, Any]:
    return _pick(row, _RETRAIN_FIELDS)


def _alert(row: Any) -> dict[str, Any]:
    return _pick(row, _ALERT_FIELDS)


def _events(
    moves: Sequence[Any], deployment_rows: Sequence[Any], retrain_rows: Sequence[Any]
) -> list[Any]:
    """Retrains, promotions and rollbacks as points on the charts' time axis, oldest first."""
    events: list[dict[str, Any]] = []
    for row in retrain_rows:
        events.append(_event(row.created_at, "retrain", f"retrain #{row.id}: {row.reason}"))
    for row in deployment_rows:
        if row.status == "promoted" and row.finished_at is not None:
            text = f"v{row.candidate_version} promoted ({row.strategy})"
            events.append(_event(row.finished_at, "promotion", text))
        elif row.status == "rolled_back" and row.finished_at is not None:
            text = f"v{row.candidate_version} rolled back: {_ending_reason(row)}"
            events.append(_event(row.finished_at, "rollback", text))
    for move in moves:
        if move.alias == "champion" and move.version is not None:
            by = f" by {move.moved_by}" if move.moved_by else ""
            text = f"champion -> v{move.version}{by}: {move.reason}"
            events.append(_event(move.moved_at, "champion", text))
    events.sort(key=lambda e: e["at"])
    return events


def _ending_reason(row: Any) -> str:
    """Why a deployment ended: the reasons of its last analysis entry (the row's own reason
    says why it started)."""
    last = (row.analysis or [None])[-1]
    reasons = last.get("reasons") if isinstance(last, dict) else None
    return "; ".join(str(r) for r in reasons) if reasons else str(row.reason)


def _event(at: datetime, kind: str, text: str) -> dict[str, Any]:
    return {"at": at, "kind": kind, "text": text}
