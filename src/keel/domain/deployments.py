"""Deployments: what serves a model, and how traffic is split between its stable version and a
candidate. Pure rules; the registry stores them, serving applies them, rollout moves them.

Strategies:

- ``replace``: the candidate takes all traffic at once (it becomes champion);
- ``canary``: the candidate takes the share of the current step (``steps``, in percent); each
  step is analysed before the next; passing the last step promotes it, a breach rolls it back;
- ``ab``: a fixed split (the first step's share), sticky by an entity key so a customer always
  sees the same variant;
- ``shadow``: the stable version answers every request; the candidate scores the same requests
  and its answers are logged, never returned.

Sticky assignment hashes the key with the deployment id, so one customer lands in the same
variant for the whole deployment and in independent variants across deployments:

>>> bucket("customer-42", 7) == bucket("customer-42", 7)
True
>>> 0.0 <= bucket("customer-42", 7) < 100.0
True
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Any, Literal

from keel.errors import InvalidInput

Strategy = Literal["replace", "canary", "ab", "shadow"]
STRATEGIES: tuple[Strategy, ...] = ("replace", "canary", "ab", "shadow")
Status = Literal["running", "promoted", "rolled_back", "stopped", "completed"]
ACTIVE: tuple[Status, ...] = ("running",)


def bucket(key: str, salt: int) -> float:
    """A stable position in [0, 100) for ``key``: the first 8 bytes of SHA-256(salt:key)."""
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100.0


def validate_steps(strategy: str, steps: list[float] | None) -> list[float]:
    """Check a strategy's traffic steps (percentages for the candidate). ``keel deploy``, the
    management API and a policy's ``rollout`` section all go through here."""
    if strategy not in STRATEGIES:
        raise InvalidInput("strategy", f"{strategy!r} is not one of {', '.join(STRATEGIES)}")
    if strategy in ("replace", "shadow"):
        return [100.0]
    if not steps:
        raise InvalidInput("steps", f"a {strategy} deployment needs at least one traffic share")
    clean = validate_shares(steps)
    if strategy == "canary" and any(b <= a for a, b in itertools.pairwise(clean)):
        raise InvalidInput("steps", "canary steps must increase, e.g. 5,25,50,100")
    if strategy == "ab" and len(clean) != 1:
        raise InvalidInput("steps", "an A/B test has one split: the candidate's share, e.g. 50")
    if strategy == "ab" and clean[0] >= 100.0:
        raise InvalidInput("steps", "an A/B test keeps some traffic on the stable version")
    return clean


def validate_shares(steps: list[Any]) -> list[float]:
    """Each step a percentage in (0, 100] (which also refuses NaN and infinity)."""
    clean = []
    for value in steps:
        if isinstance(value, bool):
            raise InvalidInput("steps", f"{value!r} is not a percentage")
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidInput("steps", f"{value!r} is not a percentage") from exc
        if not 0.0 < number <= 100.0:
            raise InvalidInput("steps", f"{value!r} must lie in (0, 100]")
        clean.append(number)
    return clean


@dataclass(frozen=True)
class ServingPlan:
    """How one model's requests are served right now.

    ``candidate_weight`` is the candidate's share in percent (for ``shadow``: the share of
    requests it also scores). With no running deployment, the champion serves everything.
    """

    model: str
    stable: int | None
    candidate: int | None = None
    strategy: Strategy | None = None
    candidate_weight: float = 0.0
    sticky: bool = False
    deployment_id: int | None = None

    def choose(self, key: str | None, draw: float) -> tuple[int, str]:
        """The version that answers and its variant name (``stable`` or ``candidate``).

        ``key`` is the request's entity key, hashed to a bucket when the plan is sticky (the
        same key always lands on the same variant); ``draw`` a uniform number in [0, 100) used
        when there is no key or the plan is not sticky (each request routed on its own).
        """
        if self.candidate is None or self.strategy in (None, "shadow"):
            if self.stable is None:
                raise InvalidInput("model", f"{self.model} has no champion to serve")
            return self.stable, "stable"
        position = draw
        if self.sticky and key is not None:
            position = bucket(key, self.deployment_id or 0)
        if position < self.candidate_weight or self.stable is None:
            return self.candidate, "candidate"
        return self.stable, "stable"

    @property
    def shadow(self) -> int | None:
        """The version scoring requests in the shadow, if any."""
        return self.candidate if self.strategy == "shadow" else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "stable": self.stable,
            "candidate": self.candidate,
            "strategy": self.strategy,
            "candidate_weight": self.candidate_weight,
            "sticky": self.sticky,
            "deployment_id": self.deployment_id,
        }


@dataclass(frozen=True)
class Deployment:
    """One stored deployment and where it stands."""

    id: int
    model: str
    strategy: Strategy
    stable_version: int | None
    candidate_version: int
    steps: list[float]
    step: int
    candidate_weight: float
    interval_s: float
    sticky: bool
    limits: dict[str, Any]
    status: Status
    reason: str
    analysis: list[dict[str, Any]] = field(default_factory=list)
    created_by: str = ""
    created_at: Any = None
    updated_at: Any = None
    step_started_at: Any = None
    finished_at: Any = None
    #: how the version compared with the naive baselines when this call deployed it
    #: (``keel.evaluation.baseline_comparison``; kept in the audit trail, not on the row)
    baselines: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items()}
        for key in ("created_at", "updated_at", "step_started_at", "finished_at"):
            value = out[key]
            out[key] = value.isoformat() if value is not None else None
        return out
