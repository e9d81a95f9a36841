"""The limits a deployment's analysis holds the candidate to.

They come from the policy's ``rollout`` section, may be overridden for one deployment, and are
frozen into the deployment record when it starts, so the record shows what the candidate was
judged by even if the policy changes half-way:

>>> from keel.domain.policy import Rollout
>>> limits = Limits.resolve(Rollout(), {"max_error_rate_increase": 0.05})
>>> limits.max_error_rate_increase, limits.min_rows_per_step
(0.05, 200)
>>> Limits.of(limits.to_dict(), Rollout(max_rows=500)).max_error_rate_increase
0.05
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from keel.domain.policy import Rollout
from keel.errors import InvalidInput

__all__ = ["LIMIT_KEYS", "Limits"]


@dataclass(frozen=True)
class Limits:
    """What a step analysis, an A/B test and a shadow are held to (see ``Rollout``)."""

    auto_rollback: bool
    max_error_rate_increase: float
    max_latency_p99_ratio: float
    max_accuracy_drop: float
    min_rows_per_step: int
    min_labelled_rows: int
    ab_metric: Literal["accuracy", "error_rate"]
    alpha: float
    minimum_effect: float
    max_rows: int
    srm_alpha: float
    promote_shadow: bool

    @classmethod
    def resolve(cls, rollout: Rollout, overrides: Mapping[str, Any] | None = None) -> Limits:
        """The policy's limits with ``overrides`` on top, validated as the policy validates them."""
        from pydantic import ValidationError

        extra = dict(overrides or {})
        unknown = sorted(set(extra) - set(LIMIT_KEYS))
        if unknown:
            raise InvalidInput(
                "limits", f"unknown limits {unknown}; known: {', '.join(sorted(LIMIT_KEYS))}"
            )
        try:
            merged = Rollout.model_validate({**rollout.model_dump(), **extra})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidInput(f"limits.{where}", str(first["msg"])) from exc
        return cls(**{key: getattr(merged, key) for key in LIMIT_KEYS})

    @classmethod
    def of(cls, stored: Mapping[str, Any], rollout: Rollout) -> Limits:
        """A deployment's stored limits; keys it lacks (older records) come from the policy."""
        return cls.resolve(rollout, {k: v for k, v in stored.items() if k in LIMIT_KEYS})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


LIMIT_KEYS: tuple[str, ...] = tuple(f.name for f in fields(Limits))
