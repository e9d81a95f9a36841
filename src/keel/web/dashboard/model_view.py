"""The model page's data: versions with their gate verdicts, the alias history, charts over
the monitoring windows and the events (retrains, deployments, alias moves) on the same time
axis. Everything comes from stored rows; the raw prediction log is never read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from keel.monitoring.alert_counts import OPEN_STATES
from keel.registry.aliases import periods
from keel.web.dashboard.overview import health_of, traffic_split

if TYPE_CHECKING:
    from keel.controller.retrains import Retrain
    from keel.domain.deployments import Deployment
    from keel.domain.entities import AliasMove
    from keel.evaluation.latest_verdicts import LatestVerdict
    from keel.monitoring.alerts import AlertRecord
    from keel.registry.service import Registry
    from keel.services import Services

#: windows drawn on a model page (newest first); older ones stay in the store and the CLI
MAX_WINDOWS = 1000
#: versions listed on a model page (newest first)
MAX_VERSIONS = 200


def model_page(services: Services, name: str) -> dict[str, Any]:
    from keel.controller.autopilot_status import baseline_of
    from keel.controller.service import Retrains  # the retrain history's owner, above Services

    model = services.registry.get_model(name)
    policy = services.governance.stored_policies([name]).get(name)
    versions = _versions(services.registry, name, services.governance.latest_verdicts(name))
    windows = [health_of(w) for w in services.monitoring.window_health(name, limit=MAX_WINDOWS)]
    deployment_rows = services.rollouts.deployments(name, limit=100)
    retrain_rows = Retrains(services).retrains(name, limit=100)
    alert_rows = services.monitoring.list_alerts(name, limit=100)
    moves = services.registry.alias_history(name)
    named = {}
    for move in moves:  # oldest first: the last move of each alias is where it points now
        named[move.alias] = move.version
    champion = named.get("champion")
    running = next((d for d in deployment_rows if d.status == "running"), None)
    return {
        "name": name,
        "description": model.description,
        "risk_profile": policy.risk_profile if policy is not None else None,
        "threshold": policy.accuracy_floor if policy is not None else None,
        "policy": policy.document if policy is not None else None,
        "champion": champion,
        "aliases": {alias: v for alias, v in named.items() if v is not None},
        "deployment": traffic_split(running, champion),
        "versions": versions,
        "alias_periods": [p.to_dict() for p in periods(moves)],
        "windows": windows,
        "latest_labelled": next((w for w in reversed(windows) if w["labelled_rows"]), None),
        "deployments": [_deployment(row) for row in deployment_rows],
        "retrains": [_retrain(row) for row in retrain_rows],
        "alerts": [_alert(row) for row in alert_rows],
        "open_alerts": [_alert(row) for row in alert_rows if row.state in OPEN_STATES],
        # a champion no better than a constant, called out above the alerts it is one of
        "baseline": baseline_of(alert_rows, champion),
        "events": _events(moves, deployment_rows, retrain_rows),
    }


def _versions(
    registry: Registry, name: str, verdicts: dict[int, LatestVerdict]
) -> list[dict[str, Any]]:
    out = []
    for row in registry.list_versions(name, limit=MAX_VERSIONS):
        gate = verdicts.get(row.version)
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
                "reasons": list(gate.reasons) if gate is not None else [],
                "gated_at": gate.gated_at if gate is not None else None,
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


def _pick(record: object, fields: tuple[str, ...]) -> dict[str, Any]:
    return {field: getattr(record, field) for field in fields}


def _deployment(row: Deployment) -> dict[str, Any]:
    return {
        **_pick(row, _DEPLOYMENT_FIELDS),
        "ended_at": row.finished_at,
        "split_check": _split_check(row),
    }


def _split_check(row: Deployment) -> str | None:
    """An A/B test's last sample-ratio check as the rollout wrote it: verdict, unit (keys or
    rows), counts and p-value."""
    for entry in reversed(row.analysis or []):
        found = entry.get("srm") if isinstance(entry, dict) else None
        if isinstance(found, dict) and found.get("summary"):
            return str(found["summary"])
    return None


def _retrain(row: Retrain) -> dict[str, Any]:
    return _pick(row, _RETRAIN_FIELDS)


def _alert(row: AlertRecord) -> dict[str, Any]:
    return _pick(row, _ALERT_FIELDS)


def _events(
    moves: Sequence[AliasMove],
    deployment_rows: Sequence[Deployment],
    retrain_rows: Sequence[Retrain],
) -> list[Any]:
    """Retrains, promotions and rollbacks as points on the charts' time axis, oldest first."""
    events: list[dict[str, Any]] = []
    for retrain in retrain_rows:
        text = f"retrain #{retrain.id}: {retrain.reason}"
        events.append(_event(retrain.created_at, "retrain", text))
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


def _ending_reason(row: Deployment) -> str:
    """Why a deployment ended: the reasons of its last analysis entry (the row's own reason
    says why it started)."""
    last = row.analysis[-1] if row.analysis else None
    reasons = last.get("reasons") if isinstance(last, dict) else None
    return "; ".join(str(r) for r in reasons) if reasons else str(row.reason)


def _event(at: datetime, kind: str, text: str) -> dict[str, Any]:
    return {"at": at, "kind": kind, "text": text}
