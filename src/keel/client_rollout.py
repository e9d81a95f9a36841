"""The Client's rollout methods: deploy, roll back, advance and inspect deployments (mixed into
``keel.Client``).

client.deploy("fraud", 4, strategy="canary", steps=[5, 25, 50, 100], interval="10m")
client.advance_rollout("fraud")            # what `keel rollout watch` does every few seconds
client.rollback("fraud", reason="p99 latency doubled")
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from keel.domain.deployments import Deployment
from keel.domain.policy import Policy

if TYPE_CHECKING:
    from keel.settings import Settings
    from keel.store.artifacts import FsspecArtifactStore
    from keel.store.database import Database
    from keel.store.prediction_log import ParquetLogStore


class RolloutMethods:
    """Needs ``db``, ``artifacts``, ``settings``, ``actor``, the ``logs`` of the monitoring
    methods and the policy methods of Client."""

    db: Database
    artifacts: FsspecArtifactStore
    settings: Settings
    actor: str

    if TYPE_CHECKING:  # provided by Client

        @property
        def logs(self) -> ParquetLogStore: ...

        def get_policy(self, name: str) -> Policy | None: ...

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
    ) -> Deployment:
        """Deploy ``model/version``; what is not given comes from the policy's rollout section.

        ``interval`` is a duration (``"10m"``) or seconds; A/B tests are sticky unless told
        otherwise. ``replace`` returns a completed deployment (the champion moved); the other
        strategies return it running, to be advanced by ``advance_rollout`` or ``keel rollout
        watch``. ``force`` (with a reason) lets a replace pass a policy that would refuse it.
        A blessing that compared the version with another champion than the current one is
        earned again first: the gates run against the current champion.
        """
        from keel.rollout.actions import deploy_with_policy

        return deploy_with_policy(
            self.db,
            self.actor,
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
            logs=self.logs,
            artifacts=self.artifacts,
        )

    def rollback(self, model: str, *, reason: str) -> dict[str, Any]:
        """All traffic back to the stable version of a running deployment, or, with none, the
        champion back to the version that held it before; one step, audited."""
        from keel.rollout.actions import rollback

        return rollback(self.db, self.actor, model, reason=reason)

    def advance_rollout(self, model: str, now: datetime | None = None) -> dict[str, Any]:
        """One controller step for ``model``'s running deployment under its stored policy:
        wait, move to the next step, promote, stop or roll back; returns what it did and why."""
        from keel.rollout.controller import advance

        policy = self.get_policy(model) or Policy()
        return advance(self.db, self.artifacts, self.logs, self.actor, model, policy, now=now)

    def deployment_status(self, model: str, now: datetime | None = None) -> dict[str, Any]:
        """The running deployment (if any), the champion, and what the controller would do now
        and why (read only: nothing moves)."""
        from keel.rollout.controller import status

        policy = self.get_policy(model) or Policy()
        return status(self.db, self.artifacts, self.logs, model, policy, now=now)

    def deployments(self, model: str, limit: int = 50) -> list[Deployment]:
        """The deployments of ``model``, newest first."""
        from keel.registry import deployments

        return deployments.history(self.db, model, limit)
