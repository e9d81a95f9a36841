"""``Rollouts``: the service that owns deployments, over one ``Stores``: start one under the
model's policy, advance it step by step, promote it or roll it back.

rollouts.deploy("fraud", 4, strategy="canary", steps=[5, 25, 50, 100], interval="10m")
rollouts.advance_rollout("fraud")          # what `keel rollout watch` does every few seconds
rollouts.rollback("fraud", reason="p99 latency doubled")
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from keel.domain.deployments import Deployment
from keel.domain.policy import Policy

if TYPE_CHECKING:
    from collections.abc import Callable

    from keel.evaluation.service import Governance
    from keel.monitoring.model_reads import ModelReads
    from keel.rollout.results import DeploymentStatus, Rollback, RolloutStep
    from keel.stores import Stores

__all__ = ["Rollouts"]


class Rollouts:
    """Deployments of every strategy; each move one audited transaction."""

    def __init__(self, stores: Stores, governance: Governance) -> None:
        self.stores = stores
        self.governance = governance

    def deploy(
        self,
        model: str,
        version: int,
        *,
        strategy: str | None = None,
        steps: list[float] | None = None,
        interval: str | float | None = None,
        sticky: bool | None = None,
        limits: dict[str, Any] | None = None,
        reason: str = "",
        force: bool = False,
        now: datetime | None = None,
        policy: Policy | None = None,
    ) -> Deployment:
        """Deploy ``model/version``; what is not given comes from the policy's rollout section.

        ``interval`` is a duration (``"10m"``) or seconds; A/B tests are sticky unless told
        otherwise. ``replace`` returns a completed deployment (the champion moved); the other
        strategies return it running, to be advanced by ``advance_rollout`` or ``keel rollout
        watch``. ``force`` (with a reason) lets a replace pass a policy that would refuse it.
        A blessing that compared the version with another champion than the current one is
        earned again first: the gates run against the current champion. ``policy`` is where
        the defaults come from: the stored policy unless the caller already read it. The checks
        (blessing, promotability, the champion move) always follow the stored policy.
        """
        from keel.rollout.actions import deploy_with_policy

        return deploy_with_policy(
            self.stores.db,
            self.stores.actor,
            model,
            version,
            strategy=strategy,
            steps=steps,
            interval=interval,
            sticky=sticky,
            limits=limits,
            reason=reason,
            force=force,
            now=now,
            logs=self.stores.logs,
            artifacts=self.stores.artifacts,
            policy=policy,
        )

    def rollback(self, model: str, *, reason: str) -> Rollback:
        """All traffic back to the stable version of a running deployment, or, with none, the
        champion back to the version that held it before; one step, audited."""
        from keel.rollout.actions import rollback

        return rollback(self.stores.db, self.stores.actor, model, reason=reason)

    def promote(
        self, model: str, version: int, *, reason: str, force: bool = False
    ) -> tuple[str, Deployment]:
        """Make ``version`` champion now: the running deployment's candidate is promoted at
        once; any other version replaces the champion through a ``replace`` deployment.
        Returns what was done (``deployment_promoted`` or ``champion_replaced``) and the
        deployment. A replace is a ``deploy`` like any other (the policy's defaults, the log's
        position), so ``keel deploy --strategy replace`` and a promotion record the same."""
        from keel.registry import deployments
        from keel.rollout import actions

        stores = self.stores
        running = deployments.running(stores.db, model)
        if running is not None and running.candidate_version == version:
            done = actions.promote(
                stores.db, stores.actor, running, reason=reason, force=force,
                artifacts=stores.artifacts,
            )  # fmt: skip
            return "deployment_promoted", done
        started = self.deploy(model, version, strategy="replace", reason=reason, force=force)
        return "champion_replaced", started

    def advance_rollout(
        self,
        model: str,
        now: datetime | None = None,
        *,
        policy: Policy | None = None,
        reads: ModelReads | None = None,
    ) -> RolloutStep:
        """One controller step for ``model``'s running deployment under its stored policy:
        wait, move to the next step, promote, stop or roll back; returns what it did and why.
        A caller that already read the ``policy``, the labels and the references for its pass
        (``reads``) hands them over rather than have them read again."""
        from keel.rollout.controller import advance

        if policy is None:
            policy = self.governance.get_policy(model) or Policy()
        return advance(
            self.stores.db,
            self.stores.artifacts,
            self.stores.logs,
            self.stores.actor,
            model,
            policy,
            now=now,
            reads=reads,
        )

    def advance_all(self, now: datetime | None = None) -> list[RolloutStep]:
        """``advance_rollout`` for every model with a running deployment, each under its stored
        policy; a model that fails reports its error (``action`` ``error`` or ``conflict``) and
        the others still advance."""
        from keel.rollout.controller import advance_all

        stores = self.stores
        return advance_all(stores.db, stores.artifacts, stores.logs, stores.actor, now=now)

    def watch(
        self,
        model: str | None = None,
        *,
        every_s: float = 30.0,
        duration_s: float = 600.0,
        on_result: Callable[[RolloutStep], None] | None = None,
    ) -> list[RolloutStep]:
        """Advance ``model``'s deployment (or every running one) every ``every_s`` seconds for
        at most ``duration_s``; watching one model ends as soon as its deployment has finished.
        ``on_result`` sees each step's result as it happens."""
        from keel.rollout.controller import watch

        stores = self.stores
        return watch(
            stores.db,
            stores.artifacts,
            stores.logs,
            stores.actor,
            model=model,
            every_s=every_s,
            duration_s=duration_s,
            on_result=on_result,
        )

    def deployment_status(self, model: str, now: datetime | None = None) -> DeploymentStatus:
        """The running deployment (if any), the champion, and what the controller would do now
        and why (read only: nothing moves)."""
        from keel.rollout.controller import status

        policy = self.governance.get_policy(model) or Policy()
        return status(
            self.stores.db, self.stores.artifacts, self.stores.logs, model, policy, now=now
        )

    def deployments(self, model: str, limit: int = 50) -> list[Deployment]:
        """The deployments of ``model``, newest first."""
        from keel.registry import deployments

        return deployments.history(self.stores.db, model, limit)

    def running_deployments(self) -> list[Deployment]:
        """Every model's running deployment, in one query (a page over the fleet)."""
        from keel.registry import deployments

        return deployments.all_running(self.stores.db)

    def version_deployments(self, model: str, version: int, limit: int = 50) -> list[Deployment]:
        """The deployments ``version`` of ``model`` took part in, as candidate or as stable
        version, newest first."""
        from keel.registry import deployments

        return deployments.of_version(self.stores.db, model, version, limit)
