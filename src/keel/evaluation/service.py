"""``Governance``: the service that owns policies, evaluations, gates and approvals, over one
``Stores``: what a version must show before it may serve, and the record that it did."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keel.domain.names import ModelRef
from keel.domain.policy import Policy, Suite
from keel.errors import InvalidInput
from keel.registry.service import model_ref

if TYPE_CHECKING:
    from keel.domain.stored_policy import StoredPolicy
    from keel.evaluation.gates import GateOutcome
    from keel.evaluation.latest_verdicts import LatestVerdict
    from keel.evaluation.runner import Evaluation
    from keel.registry.evaluation_records import EvaluationSummary, GateRecord
    from keel.stores import Stores

__all__ = ["Governance"]


class Governance:
    """Policies and the gates they declare; every verdict and approval audited."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    def set_policy(self, name: str, policy: Policy | dict[str, Any], *, source: str = "") -> Policy:
        """Record the policy in force for ``name`` (the registry enforces its promotion rules)."""
        from keel.registry import governance

        parsed = policy if isinstance(policy, Policy) else Policy.parse(policy, source or "policy")
        governance.set_policy(self.stores.db, self.stores.actor, name, parsed, source)
        return parsed

    def get_policy(self, name: str) -> Policy | None:
        from keel.registry import governance

        return governance.get_policy(self.stores.db, name)

    def policy_for(self, name: str, policy: Policy | dict[str, Any] | None = None) -> Policy:
        """``policy`` recorded as ``name``'s when given, else the stored one (InvalidInput with
        none)."""
        if policy is not None:
            return self.set_policy(name, policy)
        stored = self.get_policy(name)
        if stored is None:
            raise InvalidInput(
                "policy",
                f"model {name!r} has no policy; declare one in policies/{name}.yaml or keel.yaml "
                "and run `keel policy apply`, or pass policy=...",
            )
        return stored

    def evaluate(
        self,
        ref: str | ModelRef,
        suite: str | Suite | None = None,
        *,
        policy: Policy | dict[str, Any] | None = None,
    ) -> Evaluation:
        """Run an evaluation suite (by name from the model's policy, or given) and record it."""
        from keel.evaluation.runner import evaluate

        target = model_ref(ref)
        name, chosen = self._suite(target.name, suite, policy)
        rules = self.get_policy(target.name)
        runs = rules.gates.cost_runs if rules is not None else 5
        return evaluate(
            self.stores.db,
            self.stores.artifacts,
            self.stores.actor,
            target,
            name,
            chosen,
            cost_runs=runs,
        )

    def _suite(
        self, model: str, suite: str | Suite | None, policy: Policy | dict[str, Any] | None
    ) -> tuple[str, Suite]:
        from keel.evaluation.gating import suite_of

        if isinstance(suite, Suite):
            return "adhoc", suite
        return suite_of(self.policy_for(model, policy), model, suite)

    def gate(
        self, ref: str | ModelRef, *, policy: Policy | dict[str, Any] | None = None
    ) -> tuple[Evaluation, GateOutcome]:
        """Run the policy's gate suite and gates; store "blessed" or "rejected" with reasons and
        the champion the version was compared with (``outcome.champion``). An evaluation of the
        same version, suite, snapshots and champion younger than ``gates.reuse_evaluation`` is
        judged instead of evaluating again (``evaluation.reused``)."""
        from keel.evaluation.gating import gate_version

        target = model_ref(ref)
        rules = self.policy_for(target.name, policy)
        return gate_version(self.stores.db, self.stores.artifacts, self.stores.actor, target, rules)

    def list_evaluations(self, name: str, version: int | None = None) -> list[EvaluationSummary]:
        """Stored evaluations of a model (or one version), newest first, with gate verdicts."""
        from keel.registry import governance

        return governance.list_evaluations(self.stores.db, name, version)

    def get_evaluation(self, evaluation_id: int) -> tuple[Evaluation, GateOutcome | None]:
        """A stored evaluation, and the gate outcome recorded with it, ready for a report."""
        from keel.evaluation.gates import GateOutcome
        from keel.evaluation.runner import Evaluation
        from keel.registry import governance

        record = governance.get_evaluation(self.stores.db, evaluation_id)
        evaluation = Evaluation(
            record.ref, record.suite, record.status, record.results, record.error, record.id
        )
        gate = record.gate
        outcome = None
        if gate is not None:
            outcome = GateOutcome(
                gate.verdict,
                gate.checks,
                gate.reasons,
                gate.risk_profile,
                record.results.get("champion"),
            )
        return evaluation, outcome

    def gate_history(self, ref: str | ModelRef) -> list[GateRecord]:
        """The version's stored gate verdicts, oldest first."""
        from keel.registry import governance

        return governance.gate_history(self.stores.db, model_ref(ref))

    def approve(self, ref: str | ModelRef, *, reason: str) -> None:
        """Record this actor's approval of a version for promotion, with a reason."""
        from keel.registry import governance

        governance.approve(self.stores.db, self.stores.actor, model_ref(ref), reason)

    # -- reads for pages over many models or versions -------------------------------------------
    def stored_policies(self, names: list[str] | None = None) -> dict[str, StoredPolicy]:
        """Each model's policy as stored (of every model, or of ``names``), with its risk
        profile and accuracy floor, in one query; models without a policy are left out."""
        from keel.evaluation.stored_policies import stored_policies

        return stored_policies(self.stores.db, names)

    def newest_evaluation(self, name: str, version: int) -> Evaluation | None:
        """The newest stored evaluation of ``name``/``version`` (None when it has none)."""
        from keel.evaluation.newest_evaluation import newest_evaluation_id

        found = newest_evaluation_id(self.stores.db, name, version)
        return None if found is None else self.get_evaluation(found)[0]

    def latest_verdicts(self, name: str) -> dict[int, LatestVerdict]:
        """Version number -> the newest gate verdict of each gated version of ``name``."""
        from keel.evaluation.latest_verdicts import latest_verdicts

        return latest_verdicts(self.stores.db, name)
