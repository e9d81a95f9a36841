"""What the autopilot decides and from what: a ``Decision`` per move, with its reason (each is
also in the audit trail), and the ``PassFacts`` one pass over one model reads once.

>>> Decision("risk", "idle", "no trigger fired").to_dict()["action"]
'idle'
>>> controller_moment(datetime(2026, 1, 1)).tzinfo
datetime.timezone.utc
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from keel.domain.policy import Policy
from keel.errors import InvalidInput

if TYPE_CHECKING:
    from keel.monitoring.model_reads import ModelReads

__all__ = ["Decision", "PassFacts", "controller_moment"]


def controller_moment(now: object) -> datetime | None:
    """The pass's clock as given by a caller: None (the wall clock), or a datetime; one without
    a zone is taken as UTC, as the prediction log takes timestamps."""
    if now is None:
        return None
    if not isinstance(now, datetime):
        raise InvalidInput("now", f"a datetime, not {type(now).__name__}")
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


@dataclass(frozen=True)
class PassFacts:
    """What one pass over one model reads once and every step of it shares."""

    policy: Policy
    reads: ModelReads


@dataclass(frozen=True)
class Decision:
    model: str
    action: str
    reason: str
    retrain: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "action": self.action,
            "reason": self.reason,
            "retrain": self.retrain,
            "details": self.details,
        }
