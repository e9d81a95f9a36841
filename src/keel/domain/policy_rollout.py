"""The rollout section of a policy: how a new version reaches traffic, and its limits.

Kept apart from the policy's other sections so each stays small; the control plane that applies
it is ``keel.rollout``. Its steps obey the rules ``keel deploy`` applies, so a policy that checks
is one that deploys.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from keel.domain.deployments import validate_shares, validate_steps
from keel.domain.durations import parse_duration
from keel.errors import InvalidInput

__all__ = ["Rollout"]


class Rollout(BaseModel):
    """How a new version reaches traffic, and the limits its analysis holds it to.

    Canary steps (and A/B tests) compare the candidate with the stable version on the rows logged
    since the step started: a breach needs the difference to exceed the limit and to be
    significant (``keel.rollout.analysis``). A/B tests stop on an always-valid sequential test of
    ``ab_metric`` at level ``alpha`` (``keel.rollout.sequential``), for futility when the effect is
    surely smaller than ``minimum_effect``, or after ``max_rows``; shadows finish after
    ``max_rows`` and are promoted only with ``promote_shadow``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    strategy: Literal["replace", "canary", "ab", "shadow"] = "replace"
    steps: list[float] = Field(default_factory=lambda: [100.0])
    interval: str = "10m"
    auto_rollback: bool = False
    sticky: bool = False
    max_error_rate_increase: float = Field(default=0.02, ge=0, le=1)
    max_latency_p99_ratio: float = Field(default=1.5, ge=1)
    max_accuracy_drop: float = Field(default=0.02, ge=0, le=1)
    min_rows_per_step: int = Field(default=200, ge=1)
    min_labelled_rows: int = Field(default=100, ge=1)
    ab_metric: Literal["accuracy", "error_rate"] = "accuracy"
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    minimum_effect: float = Field(default=0.01, gt=0, lt=1)
    max_rows: int = Field(default=100_000, ge=100)
    srm_alpha: float = Field(default=0.001, gt=0, lt=0.5)
    promote_shadow: bool = False

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: list[float], info: ValidationInfo) -> list[float]:
        """The rules ``keel deploy`` applies, so a policy that checks is one that deploys."""
        strategy = info.data.get("strategy", "replace")
        try:
            validate_shares(value)
            if strategy in ("canary", "ab"):
                validate_steps(strategy, value)
        except InvalidInput as exc:
            raise ValueError(exc.problem) from exc
        return value

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        try:
            parse_duration(value, "rollout.interval")
        except InvalidInput as exc:
            raise ValueError(exc.problem) from exc
        return value
