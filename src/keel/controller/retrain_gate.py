"""The retraining pipeline's ``gate`` step: the policy's gates, judged on the retrain's own
holdout; a rejection is an outcome, not a failure.

A policy that declares no gate checks and requires no blessing (the ``low`` profile as it comes)
would otherwise reject every candidate ("the policy declares no gates"), so its retrains could
never promote. Its candidate is held to the least any model must show instead: beating the
trivial baselines on the holdout (``accuracy beats baseline majority`` for a classifier,
``rmse beats baseline mean`` for a regressor: the constant monitoring's baseline alert holds the
champion to; persistence is a forecaster, not a constant, and a policy asks for it by name).
The gate record lists those checks and the verdict says they were implicit. A policy that
requires a blessing but declares no checks still rejects: its owner asked for gates and has not
written them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keel.controller.handover import GateVerdict, Registered
from keel.controller.retrain_context import opened, run_policy, target_of
from keel.domain.names import ModelRef
from keel.domain.policy import Policy, Suite
from keel.pipelines.step import StepContext, step
from keel.services import Services

if TYPE_CHECKING:
    from keel.evaluation.gates import GateOutcome

__all__ = ["gate"]


@step(cache=False)
def gate(
    context: StepContext,
    registered: Registered | dict[str, Any],
    model: str,
    policy: dict[str, Any] | None = None,
) -> GateVerdict:
    candidate = Registered.of(registered)
    with opened(context) as services:
        ref = ModelRef(model, version=candidate.version)
        done = services.governance.gate_history(ref)
        if done:  # gated before a crash: keep that verdict
            return GateVerdict(done[-1].verdict, tuple(done[-1].reasons))
        rules = run_policy(services, model, policy)
        judged = _on_holdout(rules, candidate.holdout)
        if not implicit_baselines(rules):
            outcome = _gate_on_holdout(services, ref, judged)
            return GateVerdict(outcome.verdict, tuple(outcome.reasons))
        checks = _baseline_checks(services, ref)
        outcome = _gate_on_holdout(services, ref, _with_checks(judged, checks), IMPLICIT)
        return GateVerdict(outcome.verdict, (f"{IMPLICIT}: {', '.join(checks)}", *outcome.reasons))


#: why a retrain's candidate was gated on checks its policy does not declare
IMPLICIT = "the policy declares no gates, so the candidate must beat the trivial baselines"


def implicit_baselines(policy: Policy) -> bool:
    """Whether a retrain under ``policy`` is gated on the trivial baselines: it declares no gate
    checks and requires no blessing."""
    rule = policy.promotion
    return not policy.gates.checks and not (rule.require_blessing or rule.require_comparative)


def _baseline_checks(services: Services, ref: ModelRef) -> list[str]:
    """The baseline gate for the candidate's task: beat the constant (majority or mean)."""
    classifier = services.registry.load_model(ref).classes_ is not None
    metric, constant = ("accuracy", "majority") if classifier else ("rmse", "mean")
    return [f"{metric} beats baseline {constant}"]


def _with_checks(policy: Policy, checks: list[str]) -> Policy:
    data = policy.to_dict()
    data["gates"]["checks"] = checks
    return Policy.parse(data)


def _gate_on_holdout(
    services: Services, ref: ModelRef, rules: Policy, cause: str = ""
) -> GateOutcome:
    """The policy's gates on the retrain's holdout, recorded like any gate run, without storing
    the holdout-pointed policy as the model's (``Governance.gate(policy=...)`` would)."""
    from keel.evaluation.gating import gate_version

    stores = services.stores
    _, outcome = gate_version(stores.db, stores.artifacts, stores.actor, ref, rules, cause=cause)
    return outcome


def _on_holdout(policy: Policy, snapshot: str) -> Policy:
    """The policy with its gate suite pointed at the retrain's fresh holdout."""
    data = policy.to_dict()
    target = target_of(policy)
    name = policy.gate_suite_name() or "retrain"
    suite = policy.gate_suite()
    base = suite.model_dump(mode="json", by_alias=True, exclude_none=True) if suite else {}
    base.update(snapshots=[snapshot], target=target)
    data.setdefault("suites", {})[name] = Suite.model_validate(base).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    data["gates"]["suite"] = name
    return Policy.parse(data)
