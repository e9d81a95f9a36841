"""The models page's data: every model with its champion, challenger, traffic split, health and
open alerts, read with one query per table (not one per model), so the page costs the same few
queries for ten models or a thousand."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.domain.deployments import Deployment
    from keel.monitoring.window_health import WindowHealth
    from keel.services import Services


def health_of(window: WindowHealth) -> dict[str, Any]:
    """A window's health as the templates and charts read it: flat, each declared health metric
    under its own name, times as datetimes (the pages format them)."""
    return {**window.to_dict(), "start_at": window.start_at, "end_at": window.end_at}


def models_overview(services: Services) -> list[dict[str, Any]]:
    """One entry per model, by name."""
    listed = services.registry.list_models()
    policies = services.governance.stored_policies()
    by_model_running = {d.model: d for d in services.rollouts.running_deployments()}
    by_model_alerts = services.monitoring.open_alert_counts()
    by_model_health = {}
    for name, latest in services.monitoring.newest_health().items():
        health = health_of(latest.newest)
        realized = latest.labelled
        if realized is not None:  # labels lag: realized accuracy is the newest labelled window's
            health["accuracy"] = realized.metrics.get("accuracy")
            health["accuracy_end_at"] = realized.end_at
        by_model_health[name] = health
    out = []
    for model in listed:
        policy = policies.get(model.name)
        named = model.aliases
        deployment = by_model_running.get(model.name)
        out.append(
            {
                "name": model.name,
                "risk_profile": policy.risk_profile if policy is not None else None,
                "threshold": policy.accuracy_floor if policy is not None else None,
                "versions": model.latest_version or 0,
                "champion": named.get("champion"),
                "challenger": named.get("challenger")
                or (deployment.candidate_version if deployment is not None else None),
                "aliases": named,
                "deployment": traffic_split(deployment, named.get("champion")),
                "health": by_model_health.get(model.name),
                "alerts": by_model_alerts.get(model.name, {}),
            }
        )
    return out


def traffic_split(deployment: Deployment | None, champion: int | None) -> dict[str, Any]:
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
