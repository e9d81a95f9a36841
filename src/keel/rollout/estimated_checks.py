"""Canary checks on every estimated metric a monitoring rule of the policy names.

``estimated_accuracy below reference``, ``estimated_roc_auc < 0.8``: the candidate's CBPE
estimate on its step rows against the rule's typed threshold, or, for a ``below reference``
rule, against the candidate's reference limit at the step's row count
(``keel.monitoring.reference_limits``), so a step of a few hundred rows is held to the spread of
a few hundred rows. On a sticky deployment a customer's requests are alike, so the rows count
as ``rows / effect`` independent ones (``effect``: the design effect over entity keys of each
row's chance of being right, ``keel.rollout.variant_stats``): 400 rows from 20 keys are held to
a much wider limit than 400 independent rows. It breaches only while the stable version's
estimate on its own rows stays within its own limit: when both cross, the data moved, not the
candidate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keel.domain.alert_rules import AlertRule
    from keel.monitoring.references import Reference

__all__ = ["Estimates", "RuleCheck", "estimated_checks"]


@dataclass(frozen=True)
class Estimates:
    """One version's CBPE estimates on its step rows, how many rows they cover, and the
    design effect of those rows over entity keys (1: independent rows)."""

    values: Mapping[str, float]
    rows: int
    effect: float = 1.0

    @property
    def effective_rows(self) -> int:
        """The independent rows the step's rows are worth."""
        return max(1, round(self.rows / max(self.effect, 1.0))) if self.rows >= 1 else 0


@dataclass(frozen=True)
class RuleCheck:
    """A rule judged: the metric, both values, the candidate's limit, the verdict, why."""

    metric: str
    stable: float | None
    candidate: float
    limit: float
    breached: bool
    detail: str


def estimated_checks(
    rules: Sequence[AlertRule],
    stable: Estimates,
    candidate: Estimates,
    references: Mapping[str, Reference | None],
) -> list[RuleCheck]:
    """The policy's rules on estimated metrics, judged on each version's step rows."""

    def limit_of(rule: AlertRule, side: str, rows: int) -> float | None:
        """The rule's limit for ``rows`` independent rows of ``side``."""
        if rule.against != "reference":
            return rule.threshold
        reference = references[side]
        limits = reference.limits if reference is not None else None
        entry = limits.get(rule.metric) if limits is not None else None
        return None if entry is None or rows < 1 else entry.limit([rows])

    checks = []
    for rule in rules:
        if rule.family != "estimated" or rule.against not in (None, "reference"):
            continue
        metric = rule.metric.removeprefix("estimated_")
        c = candidate.values.get(metric)
        limit = limit_of(rule, "candidate", candidate.effective_rows)
        if c is None or limit is None:
            continue
        s = stable.values.get(metric)
        stable_limit = limit_of(rule, "stable", stable.effective_rows)
        stable_breaches = (
            s is not None and stable_limit is not None and rule.breached(s, stable_limit)
        )
        breached = rule.breached(c, limit) and not stable_breaches
        where = "the reference limit" if rule.against == "reference" else "the threshold"
        shown_stable = "n/a" if s is None else f"{s:.4f}"
        worth = (
            f" (worth {candidate.effective_rows:,} independent ones by key)"
            if candidate.effective_rows != candidate.rows
            else ""
        )
        detail = (
            f"{rule.metric} {c:.4f} on the candidate's {candidate.rows:,} rows{worth} against "
            f"{where} {limit:.4f} of '{rule.text}' (stable {shown_stable}"
            + (", breaching too: the data moved, not the candidate)" if stable_breaches else ")")
        )
        checks.append(RuleCheck(rule.metric, s, c, limit, breached, detail))
    return checks
