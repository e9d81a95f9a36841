"""Checking an evaluation against a policy's gates: every check with its value, threshold and
verdict, and the version's verdict ("blessed" only when every check passes).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

from keel.domain.policy import Gate, Policy
from keel.evaluation.runner import Evaluation

_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


@dataclass
class GateOutcome:
    """A verdict with its checks; ``champion`` names the version (``NAME/N``) the comparative
    gates compared the candidate with, None when there was no champion to compare with."""

    verdict: str
    checks: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    risk_profile: str = "low"
    champion: str | None = None

    @property
    def blessed(self) -> bool:
        return self.verdict == "blessed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "risk_profile": self.risk_profile,
            "champion": self.champion,
            "reasons": self.reasons,
            "checks": self.checks,
        }


def _check(
    gate: Gate,
    snapshot: str | None,
    value: float | None,
    threshold: str,
    passed: bool,
    detail: str = "",
) -> dict[str, Any]:
    return {
        "gate": gate.text,
        "kind": gate.kind,
        "snapshot": snapshot,
        "value": value,
        "threshold": threshold,
        "passed": passed,
        "detail": detail,
    }


def _targets(gate: Gate, evaluation: Evaluation) -> list[dict[str, Any]]:
    snapshots = evaluation.results.get("snapshots", [])
    if gate.snapshot is None:
        return list(snapshots)
    return [
        s for s in snapshots if s["ref"] == gate.snapshot or s["ref"].split("/")[0] == gate.snapshot
    ]


def check_gate(gate: Gate, evaluation: Evaluation) -> list[dict[str, Any]]:
    """One check per snapshot the gate applies to (cost gates: one check)."""
    if gate.kind == "cost":
        return [_check_cost(gate, evaluation.results)]
    targets = _targets(gate, evaluation)
    if not targets:
        return [_check(gate, gate.snapshot, None, "", False, "no such snapshot in the suite")]
    return [_check_snapshot(gate, s) for s in targets]


def _check_cost(gate: Gate, results: dict[str, Any]) -> dict[str, Any]:
    """A budget on the median of the cost runs, or (``ratio``) on candidate/champion."""
    assert gate.op is not None and gate.threshold is not None
    value = results.get("cost", {}).get(gate.metric)
    detail = results.get("cost_detail") or {}
    if not gate.ratio:
        threshold = f"{gate.op} {gate.threshold:g}"
        if value is None:
            return _check(gate, None, None, threshold, False, "cost was not measured")
        passed = _OPS[gate.op](value, gate.threshold)
        return _check(gate, None, value, threshold, passed, _spread(gate.metric, detail))
    threshold = f"{gate.op} {gate.threshold:g}x champion"
    if value is None:
        return _check(gate, None, None, threshold, False, "cost was not measured")
    if detail.get("champion_error"):
        return _check(gate, None, None, threshold, False, detail["champion_error"])
    if not detail.get("champion"):
        why = "no other version is champion: nothing to compare with"
        return _check(gate, None, None, threshold, True, why)
    ratio = detail.get("ratio", {}).get(gate.metric)
    theirs = detail["champion"].get(gate.metric)
    if ratio is None:
        why = f"no ratio: the champion's {gate.metric} is {theirs}"
        return _check(gate, None, None, threshold, False, why)
    passed = _OPS[gate.op](ratio, gate.threshold)
    why = f"{value:.4g} vs champion {theirs:.4g}; {_spread(gate.metric, detail)}"
    return _check(gate, None, ratio, threshold, passed, why.rstrip("; "))


def _spread(metric: str, detail: dict[str, Any]) -> str:
    """``median of 5 runs, 1.2-3.4`` for a timed figure (empty when it was not spread)."""
    low_high = detail.get("spread", {}).get(metric)
    if not low_high:
        return ""
    return f"median of {detail.get('runs', '?')} runs, {low_high[0]:.4g}-{low_high[1]:.4g}"


def _check_snapshot(gate: Gate, snap: dict[str, Any]) -> dict[str, Any]:
    ref = snap["ref"]
    if gate.kind in ("absolute", "slice"):
        assert gate.op is not None and gate.threshold is not None
        source = (
            snap["metrics"] if gate.kind == "absolute" else snap["slices"].get(gate.slice or "", {})
        )
        threshold = f"{gate.op} {gate.threshold:g}"
        value = source.get(gate.metric)
        if value is None:
            why = (
                "the slice has no rows"
                if gate.kind == "slice" and source.get("rows") == 0
                else (f"{gate.metric} was not computed")
            )
            return _check(gate, ref, None, threshold, False, why)
        rows = f"{source.get('rows', '?')} rows"
        return _check(gate, ref, value, threshold, _OPS[gate.op](value, gate.threshold), rows)
    if gate.kind == "baseline":
        baseline = snap["baselines"].get(gate.baseline or "")
        value = snap["metrics"].get(gate.metric)
        if baseline is None:
            why = (
                "the suite is not time-ordered"
                if gate.baseline == "persistence"
                else "not computed"
            )
            return _check(
                gate,
                ref,
                value,
                f"beats {gate.baseline}",
                False,
                f"no {gate.baseline} baseline: {why}",
            )
        reference = baseline.get(gate.metric)
        if value is None or reference is None:
            return _check(
                gate, ref, value, f"beats {gate.baseline}", False, f"{gate.metric} was not computed"
            )
        if gate.higher_is_better:
            bar, passed = reference + gate.margin, value > reference + gate.margin
            threshold = f"> {bar:.4g} ({gate.baseline})"
        else:
            bar, passed = reference - gate.margin, value < reference - gate.margin
            threshold = f"< {bar:.4g} ({gate.baseline})"
        return _check(
            gate, ref, value, threshold, passed, f"{gate.baseline} scores {reference:.4g}"
        )
    return _check_comparative(gate, snap)


def _check_comparative(gate: Gate, snap: dict[str, Any]) -> dict[str, Any]:
    ref = snap["ref"]
    comparison = snap.get("comparison")
    sign = "-" if gate.higher_is_better else "+"
    relation = ">=" if gate.higher_is_better else "<="
    threshold = f"diff {relation} {sign}{gate.margin:g} at {gate.confidence:g}%"
    if comparison is None:
        return _check(
            gate,
            ref,
            None,
            threshold,
            True,
            "no other version is champion: nothing to compare with",
        )
    if "error" in comparison:
        return _check(gate, ref, None, threshold, False, comparison["error"])
    difference = comparison["differences"].get(gate.metric)
    if difference is None or "quantiles" not in difference:
        return _check(gate, ref, None, threshold, False, f"no interval for {gate.metric}")
    confidence = gate.confidence / 100
    quantiles = difference["quantiles"]
    if gate.higher_is_better:
        bound = quantiles[f"{round(1 - confidence, 3):g}"]
        passed = bound >= -gate.margin
        detail = f"difference {difference['difference']:+.4g}, one-sided lower bound {bound:+.4g}"
    else:
        bound = quantiles[f"{round(confidence, 3):g}"]
        passed = bound <= gate.margin
        detail = f"difference {difference['difference']:+.4g}, one-sided upper bound {bound:+.4g}"
    return _check(gate, ref, difference["difference"], threshold, passed, detail)


def run_gates(policy: Policy, evaluation: Evaluation) -> GateOutcome:
    """Every gate of ``policy`` on ``evaluation``; "blessed" only when each check passes."""
    champion = evaluation.results.get("champion")
    if evaluation.status != "finished":
        reason = f"the evaluation failed: {evaluation.error}"
        return GateOutcome("rejected", [], [reason], policy.risk_profile, champion)
    checks: list[dict[str, Any]] = []
    for gate in policy.gates.checks:
        checks.extend(check_gate(gate, evaluation))
    reasons = [
        f"{c['gate']}"
        + (f" on {c['snapshot']}" if c["snapshot"] else "")
        + (f": {c['value']:.4g}" if isinstance(c["value"], float) else "")
        + (f" ({c['detail']})" if c["detail"] else "")
        for c in checks
        if not c["passed"]
    ]
    verdict = "blessed" if checks and not reasons else "rejected"
    if not checks:
        reasons.append("the policy declares no gates")
    return GateOutcome(verdict, checks, reasons, policy.risk_profile, champion)
