"""Gating a version: run the policy's gate suite on it, check every gate, record the verdict.

One path for every door: ``Client.gate`` (so ``keel gate``), and the rollout, which gates a
version again when the champion changed since its blessing (``keel.registry.promotion``).
The recorded verdict is linked to its evaluation, which names the champion it compared with.

Example::

    evaluation, outcome = gate_version(db, artifacts, "ann", ModelRef("fraud", version=4), policy)
    outcome.verdict, outcome.champion       # ("blessed", "fraud/3")
"""

from __future__ import annotations

from keel.domain.names import ModelRef
from keel.domain.policy import Policy, Suite
from keel.errors import InvalidInput
from keel.evaluation.gates import GateOutcome, run_gates
from keel.evaluation.runner import Evaluation, evaluate
from keel.registry import governance, models
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database

__all__ = ["gate_version", "suite_of"]


def suite_of(policy: Policy, model: str, name: str | None = None) -> tuple[str, Suite]:
    """The suite ``name`` of ``model``'s policy (default: its gate suite); InvalidInput names
    the suites it has when there is no such suite."""
    chosen = name or policy.gate_suite_name()
    if chosen is None or chosen not in policy.suites:
        known = ", ".join(policy.suites) or "none"
        raise InvalidInput(
            "suite", f"{chosen!r} is not a suite of {model}'s policy (suites: {known})"
        )
    return chosen, policy.suites[chosen]


def gate_version(
    db: Database,
    artifacts: ArtifactStore,
    actor: str,
    ref: ModelRef,
    policy: Policy,
    *,
    cause: str = "",
) -> tuple[Evaluation, GateOutcome]:
    """Evaluate ``ref`` on the policy's gate suite, check the gates and store the verdict
    ("blessed" or "rejected", with reasons); ``cause`` goes to the audit entry."""
    version = models.resolve(db, ref)
    exact = ModelRef(version.name, version=version.version)
    name, suite = suite_of(policy, version.name)
    evaluation = evaluate(db, artifacts, actor, exact, name, suite)
    outcome = run_gates(policy, evaluation)
    governance.record_gate_result(
        db,
        actor,
        exact,
        verdict=outcome.verdict,
        risk_profile=policy.risk_profile,
        checks=outcome.checks,
        reasons=outcome.reasons,
        evaluation_id=evaluation.id,
        cause=cause,
    )
    return evaluation, outcome
