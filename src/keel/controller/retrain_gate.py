"""The retraining pipeline's ``gate`` step: the policy's gates, judged on the retrain's own
holdout; a rejection is an outcome, not a failure."""

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
        outcome = _gate_on_holdout(services, ref, _on_holdout(rules, candidate.holdout))
        return GateVerdict(outcome.verdict, tuple(outcome.reasons))


def _gate_on_holdout(services: Services, ref: ModelRef, rules: Policy) -> GateOutcome:
    """The policy's gates on the retrain's holdout, recorded like any gate run, without storing
    the holdout-pointed policy as the model's (``Governance.gate(policy=...)`` would)."""
    from keel.evaluation.gating import gate_version

    stores = services.stores
    _, outcome = gate_version(stores.db, stores.artifacts, stores.actor, ref, rules)
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
