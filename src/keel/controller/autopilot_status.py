"""What the autopilot is doing about each governed model, read from the store: the champion, the
retrain in flight, the newest one that ended, the open alerts, and, called out on its own line,
whether the champion fails to beat a trivial baseline (``keel autopilot --status``; the
dashboard's model page shows the same sentence).

A champion that scores below "always the most frequent class" (or "always the mean") on its
labelled predictions is worse than no model; ``monitoring.baseline_alerts`` raises an alert for
it, but an alert among others is easy to miss. So the status names it: the open alert of a
baseline rule becomes ``baseline``, a sentence with the figures the alert observed.

>>> from types import SimpleNamespace as S
>>> alert = S(id=3, rule="accuracy beats baseline majority as warning", severity="warning",
...     value=-0.12, details={"model": 0.7, "baseline": "majority", "baseline_value": 0.82})
>>> baseline_line(alert, 1).split(": ")  # doctest: +NORMALIZE_WHITESPACE
['the champion v1 does not beat the majority baseline on its labelled predictions',
 'accuracy 0.7 against 0.82 (-0.12; alert #3, warning)']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keel.domain.alert_rules import AlertRule, parse_alert_rule
from keel.errors import InvalidInput
from keel.monitoring.alert_counts import OPEN_STATES

if TYPE_CHECKING:
    from collections.abc import Sequence

    from keel.controller.retrains import Retrain
    from keel.domain.policy import Policy
    from keel.monitoring.alerts import AlertRecord
    from keel.services import Services

__all__ = ["ModelStatus", "autopilot_status", "baseline_line", "baseline_of"]


@dataclass(frozen=True)
class ModelStatus:
    """One governed model as the autopilot sees it between passes."""

    model: str
    risk_profile: str
    #: the champion's version number, None when nothing is champion
    champion: int | None
    #: the retrain the autopilot is driving, None when none is in flight
    in_flight: Retrain | None = None
    #: the newest retrain that ended (promoted, rejected, held, ...), None when none did
    last_retrain: Retrain | None = None
    open_alerts: tuple[AlertRecord, ...] = field(default_factory=tuple)
    #: why the champion does not beat a trivial baseline (from its open baseline alert)
    baseline: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "risk_profile": self.risk_profile,
            "champion": self.champion,
            "in_flight": None if self.in_flight is None else self.in_flight.to_dict(),
            "last_retrain": None if self.last_retrain is None else self.last_retrain.to_dict(),
            "open_alerts": [a.to_dict() for a in self.open_alerts],
            "baseline": self.baseline,
        }


def autopilot_status(services: Services, models: list[str] | None = None) -> list[ModelStatus]:
    """The status of ``models`` (which must exist; default: every model with a stored policy),
    in name order."""
    governance = services.governance
    if models is None:
        names = sorted(m.name for m in services.registry.list_models())
    else:
        names = sorted(services.registry.known_models(models, "model"))
    out: list[ModelStatus] = []
    for name in names:
        policy = governance.get_policy(name)
        if policy is None and models is None:
            continue  # not governed: the autopilot leaves it alone
        champion = _champion(services, name)
        alerts = tuple(services.monitoring.list_alerts(name, state="open", limit=100))
        in_flight, ended = _retrains(services, name)
        out.append(
            ModelStatus(
                name,
                policy.risk_profile if policy is not None else "none",
                champion,
                in_flight,
                ended,
                alerts,
                baseline_of(alerts, champion, policy),
            )
        )
    return out


def baseline_line(alert: AlertRecord, champion: int | None) -> str:
    """The sentence a status shows for an open baseline alert."""
    details = alert.details or {}
    rule = _rule(alert.rule)
    metric = rule.metric if rule is not None else "the metric"
    name = details.get("baseline") or (rule.baseline if rule is not None else "a")
    who = f"the champion v{champion}" if champion is not None else "the model"
    figures = ""
    if details.get("model") is not None and details.get("baseline_value") is not None:
        figures = f": {metric} {details['model']:.4g} against {details['baseline_value']:.4g}"
    margin = f"{alert.value:+.4g}; " if alert.value is not None else ""
    return (
        f"{who} does not beat the {name} baseline on its labelled predictions{figures} "
        f"({margin}alert #{alert.id}, {alert.severity})"
    )


def baseline_of(
    alerts: Sequence[AlertRecord], champion: int | None, policy: Policy | None = None
) -> str | None:
    """The sentence for the first open alert among ``alerts`` whose rule compares the model with
    a baseline (the policy's rule of that text, else the text parsed), None when there is none."""
    rules = {r.text: r for r in policy.monitoring.alerts} if policy is not None else {}
    for alert in alerts:
        rule = rules.get(alert.rule) or _rule(alert.rule)
        if alert.state in OPEN_STATES and rule is not None and rule.baseline is not None:
            return baseline_line(alert, champion)
    return None


def _rule(text: str) -> AlertRule | None:
    try:
        return parse_alert_rule(text)
    except InvalidInput:  # a rule written by a newer or older Keel: not ours to judge
        return None


def _champion(services: Services, model: str) -> int | None:
    from keel.registry.deployments import champion_in

    with services.stores.db.read() as conn:
        return champion_in(conn, model)


def _retrains(services: Services, model: str) -> tuple[Retrain | None, Retrain | None]:
    """The retrain in flight and the newest one that ended."""
    from keel.controller import retrains

    recent = retrains.history(services.stores.db, model, 20)
    in_flight = next((r for r in recent if r.active), None)
    ended = next((r for r in recent if not r.active), None)
    return in_flight, ended
