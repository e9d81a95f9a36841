"""``Services``: the services over one ``Stores`` that the autopilot and every door drive.

Each depends only on the stores and the services listed before it: ``Registry`` (versions,
aliases, snapshots, lineage), ``AuditTrail`` (reading and proving the audit trail every service
writes), ``Governance`` (policies, evaluations, gates, approvals),
``Monitoring`` (logs, windows, references, alerts), ``Rollouts`` (deployments) and ``Tokens``
(the API tokens the HTTP doors check). ``Retrains`` (``keel.controller.service``) sits on top of
them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from keel.evaluation.service import Governance
from keel.monitoring.service import Monitoring
from keel.registry.audit_service import AuditTrail
from keel.registry.service import Registry
from keel.registry.token_service import Tokens
from keel.rollout.service import Rollouts
from keel.stores import Stores

__all__ = ["HasServices", "Services"]


@dataclass(frozen=True)
class Services:
    """The services a retrain drives, over one ``Stores``: each depends only on the stores and
    the services listed before it."""

    stores: Stores
    registry: Registry
    audit: AuditTrail
    governance: Governance
    monitoring: Monitoring
    rollouts: Rollouts
    tokens: Tokens

    @classmethod
    def over(cls, stores: Stores) -> Services:
        governance = Governance(stores)
        return cls(
            stores,
            Registry(stores),
            AuditTrail(stores),
            governance,
            Monitoring(stores, governance),
            Rollouts(stores, governance),
            Tokens(stores),
        )

    def acting_as(self, actor: str) -> Services:
        """The same services recording ``actor`` as who acts (a door's signed-in user)."""
        return Services.over(self.stores.acting_as(actor))


class HasServices(Protocol):
    """What holds services over its stores, as ``keel.Client`` does."""

    @property
    def services(self) -> Services: ...
