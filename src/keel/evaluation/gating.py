"""Gating a version: run the policy's gate suite on it, check every gate, record the verdict.

One path for every door: ``Client.gate`` (so ``keel gate``), and the rollout, which gates a
version again when the champion changed since its blessing (``keel.registry.promotion``).
The recorded verdict is linked to its evaluation, which names the champion it compared with.

Gating does not evaluate twice: a finished evaluation of the same version by the same suite
(same fields, same number of cost runs), on snapshots with the same content hashes, compared
with the same champion and younger than the policy's ``gates.reuse_evaluation`` is reused, so
``keel evaluate`` then ``keel gate`` judge one set of figures (a second latency measurement on a
busy machine could reject what the first one passed).

Example::

    evaluation, outcome = gate_version(db, artifacts, "ann", ModelRef("fraud", version=4), policy)
    outcome.verdict, outcome.champion       # ("blessed", "fraud/3")
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from keel.domain.entities import Snapshot
from keel.domain.names import ModelRef
from keel.domain.policy import Policy, Suite
from keel.errors import InvalidInput, NotFound
from keel.evaluation.gates import GateOutcome, run_gates
from keel.evaluation.runner import Evaluation, evaluate, suite_digest
from keel.registry import governance, models, snapshots
from keel.registry.clock import utcnow
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database

__all__ = ["gate_version", "reusable_evaluation", "suite_of"]


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
    reuse: bool = True,
) -> tuple[Evaluation, GateOutcome]:
    """Evaluate ``ref`` on the policy's gate suite (or, with ``reuse``, take a stored
    evaluation that ``reusable_evaluation`` finds; ``evaluation.reused`` says so), check the
    gates and store the verdict ("blessed" or "rejected", with reasons); ``cause`` goes to the
    audit entry."""
    version = models.resolve(db, ref)
    exact = ModelRef(version.name, version=version.version)
    name, suite = suite_of(policy, version.name)
    evaluation = reusable_evaluation(db, exact, name, suite, policy) if reuse else None
    if evaluation is None:
        runs = policy.gates.cost_runs
        evaluation = evaluate(db, artifacts, actor, exact, name, suite, cost_runs=runs)
    else:
        cause = "; ".join(c for c in (cause, f"reused evaluation {evaluation.id}") if c)
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


def reusable_evaluation(
    db: Database,
    ref: ModelRef,
    suite_name: str,
    suite: Suite,
    policy: Policy,
    *,
    now: datetime | None = None,
) -> Evaluation | None:
    """The newest stored evaluation ``gate_version`` may judge instead of evaluating again:
    finished, of version ``ref`` by the same suite and number of cost runs, on snapshots with
    the content hashes the suite's snapshots have now, compared with the version its
    ``compare_with`` alias points at now, and younger than ``gates.reuse_evaluation``."""
    age = policy.gates.reuse_age
    if age is None:
        return None
    current = [(found.ref, found.sha256) for found in map(_snapshot(db), suite.snapshots)]
    champion = _compared_now(db, ref, suite)
    digest = suite_digest(suite, policy.gates.cost_runs)
    since = (now or utcnow()) - age
    for past in governance.recent_evaluations(db, ref, suite_name, since):
        if past.results.get("suite_digest") != digest:
            continue
        if past.snapshot_hashes != current:
            continue
        if past.champion_version != champion:
            continue
        return Evaluation(
            str(ref), suite_name, past.status, past.results, past.error, past.id, True
        )
    return None


def _snapshot(db: Database) -> Callable[[str], Snapshot]:
    return lambda name: snapshots.get(db, name)


def _compared_now(db: Database, ref: ModelRef, suite: Suite) -> int | None:
    """The number of the version an evaluation of ``ref`` would compare with now (as the
    runner resolves it), or None."""
    if not suite.compare_with:
        return None
    try:
        found = models.resolve(db, ModelRef(ref.name, alias=suite.compare_with))
    except NotFound:
        return None
    return None if found.version == ref.version else found.version
