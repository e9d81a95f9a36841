"""A model's policy as stored, with the facts a page over many models shows: its risk profile
and the accuracy it must keep. Read without validating the whole policy (half a millisecond a
policy), so a page over a thousand models stays cheap; only the alert rules are parsed.

>>> found = StoredPolicy.of("fraud", {"risk_profile": "high",
...     "monitoring": {"alerts": ["drifted_features >= 3", "accuracy < 0.92"]}})
>>> found.risk_profile, found.accuracy_floor
('high', 0.92)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from keel.domain.alert_rules import parse_alert_rule
from keel.errors import InvalidInput

__all__ = ["StoredPolicy", "accuracy_floor"]


@dataclass(frozen=True)
class StoredPolicy:
    """``document`` is the policy as recorded (what its file or ``set_policy`` gave)."""

    model: str
    risk_profile: str | None
    #: the accuracy the model must keep, when its monitoring says so
    accuracy_floor: float | None
    document: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, model: str, document: Mapping[str, Any]) -> StoredPolicy:
        profile = document.get("risk_profile")
        return cls(
            model,
            None if profile is None else str(profile),
            accuracy_floor(document),
            dict(document),
        )


def accuracy_floor(document: Mapping[str, Any] | None) -> float | None:
    """The accuracy a stored policy requires: the monitoring shorthand, else the first
    absolute ``accuracy <`` (or ``<=``) alert rule; a rule that does not parse is passed over.

    >>> accuracy_floor({"monitoring": {"accuracy_threshold": 0.85}})
    0.85
    >>> accuracy_floor({"monitoring": {"alerts": ["accuracy > 0.99"]}}) is None  # not a floor
    True
    """
    if not document:
        return None
    monitoring = document.get("monitoring") or {}
    if monitoring.get("accuracy_threshold") is not None:
        return float(monitoring["accuracy_threshold"])
    for entry in monitoring.get("alerts") or []:
        text = entry if isinstance(entry, str) else str(entry.get("rule", ""))
        try:
            rule = parse_alert_rule(text)
        except InvalidInput:
            continue
        absolute = rule.against is None and rule.threshold is not None
        if rule.metric == "accuracy" and rule.op in ("<", "<=") and absolute:
            return rule.threshold
    return None
