"""What the moves of a deployment return: typed records, with ``to_dict`` for the faces.

- ``RolloutStep``: one controller step (``Rollouts.advance_rollout``, ``advance_all``,
  ``watch``): what it did, why, the analysis it kept, and the deployment before and after;
- ``Rollback``: what ``Rollouts.rollback`` did, a running deployment rolled back or, with none,
  the previous champion restored;
- ``DeploymentStatus`` and its ``NextStep``: what ``Rollouts.deployment_status`` sees, read
  only.

``to_dict`` gives the JSON the CLI prints and the HTTP doors answer, field for field:

>>> step = RolloutStep("fraud", "error", ("unexpected KeyError: 'p99'",))
>>> step.failed, step.to_dict()
(True, {'model': 'fraud', 'action': 'error', 'reasons': ["unexpected KeyError: 'p99'"]})
>>> list(Rollback("fraud", "champion_restored", champion=1, reason="odd", replaced=2).to_dict())
['model', 'action', 'deployment', 'champion', 'replaced', 'reason']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from keel.domain.deployments import Deployment
from keel.rollout.assessment import Action

__all__ = ["DeploymentStatus", "NextStep", "Rollback", "RolloutStep", "StepAction"]

#: what a step did: an assessment's action, or ``error``/``conflict`` when it could not be
#: taken (``advance_all`` and ``watch`` report those instead of raising)
StepAction = Action | Literal["error", "conflict"]
_NOT_TAKEN: tuple[StepAction, ...] = ("error", "conflict")


@dataclass(frozen=True)
class RolloutStep:
    """One controller step for a model's running deployment.

    ``deployment`` is the deployment as it was analysed and ``deployment_after`` where the step
    left it (None when nothing was running); ``analysis`` is the entry kept with the move. A
    step that could not be taken (``failed``) has only its reasons: nothing was analysed.
    """

    model: str
    action: StepAction
    reasons: tuple[str, ...]
    analysis: dict[str, Any] = field(default_factory=dict)
    deployment: Deployment | None = None
    deployment_after: Deployment | None = None

    @property
    def failed(self) -> bool:
        """The step could not be taken (an error, or another controller moved first)."""
        return self.action in _NOT_TAKEN

    def to_dict(self) -> dict[str, Any]:
        head: dict[str, Any] = {"model": self.model}
        if self.failed:
            return {**head, "action": self.action, "reasons": list(self.reasons)}
        return {
            **head,
            "deployment": None if self.deployment is None else self.deployment.id,
            "action": self.action,
            "reasons": list(self.reasons),
            "analysis": self.analysis,
            "deployment_after": _plain(self.deployment_after),
        }


@dataclass(frozen=True)
class Rollback:
    """What a rollback did: ``deployment_rolled_back`` (``deployment`` ended, ``champion`` the
    stable version now serving) or ``champion_restored`` (no deployment was running;
    ``champion`` moved back from ``replaced``)."""

    model: str
    action: Literal["deployment_rolled_back", "champion_restored"]
    champion: int | None
    reason: str
    deployment: Deployment | None = None
    replaced: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "action": self.action,
            "deployment": _plain(self.deployment),
            "champion": self.champion,
        }
        if self.action == "champion_restored":
            out["replaced"] = self.replaced
        out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class NextStep:
    """What the controller would do now and why; ``error`` when the analysis itself failed."""

    action: Action | Literal["error"]
    reasons: tuple[str, ...]
    analysis: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "reasons": list(self.reasons), "analysis": self.analysis}


@dataclass(frozen=True)
class DeploymentStatus:
    """A model's champion, its running deployment (if any) and the controller's next step."""

    model: str
    champion: int | None
    deployment: Deployment | None
    next: NextStep

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "champion": self.champion,
            "deployment": _plain(self.deployment),
            "next": self.next.to_dict(),
        }


def _plain(deployment: Deployment | None) -> dict[str, Any] | None:
    return None if deployment is None else deployment.to_dict()
