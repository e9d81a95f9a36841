"""``AuditTrail``: the service that reads and proves the audit trail every other service writes
to, over one ``Stores``. The trail is appended to inside each service's own transactions
(``keel.registry.audit.append``); this service only reads it: entries, a searchable page, the
hash chain's check and the full proof of the store against the replayed trail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keel.domain.audit import AuditVerification, ChainVerification
    from keel.domain.entities import AuditEntry
    from keel.registry.audit_search import AuditPage
    from keel.stores import Stores

__all__ = ["AuditTrail"]


class AuditTrail:
    """Who did what, when and why, as the hash-chained trail recorded it."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    def audit_log(
        self,
        *,
        subject: str | None = None,
        action: str | None = None,
        actor: str | None = None,
        limit: int | None = 100,
    ) -> list[AuditEntry]:
        """Newest first."""
        from keel.registry import audit

        return audit.entries(
            self.stores.db, subject=subject, action=action, actor=actor, limit=limit
        )

    def search_audit(
        self,
        *,
        model: str | None = None,
        action: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_seq: int | None = None,
        limit: int = 200,
    ) -> AuditPage:
        """A page of the trail, newest first: a model's entries and its versions', an action
        prefix, an actor, a time range; ``before_seq`` pages back (``AuditPage.older``)."""
        from keel.registry import audit_search

        return audit_search.search(
            self.stores.db,
            model=model,
            action=action,
            actor=actor,
            since=since,
            until=until,
            before_seq=before_seq,
            limit=limit,
        )

    def audit_actions(self) -> list[str]:
        """Every action in the trail, sorted."""
        from keel.registry import audit_search

        return audit_search.actions(self.stores.db)

    def verify_chain(self) -> ChainVerification:
        """Only the hash chain, end to end (``verify_audit`` also replays the tables)."""
        from keel.registry import audit

        return audit.verify(self.stores.db)

    def verify_audit(
        self,
        *,
        artifacts: bool | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> AuditVerification:
        """Prove the store from its audit trail: the hash chain, the head against the newest
        keyed checkpoint, every alias, version, deployment and token against the replayed trail,
        and (``artifacts``; by default when they total under 10 GB) every artifact file against
        its hash. ``progress`` gets (bytes hashed, bytes to hash). ``intact`` only when all hold;
        ``findings`` name each table and row that disagrees and what the trail says instead."""
        from keel.registry import audit_proof

        return audit_proof.verify(
            self.stores.db,
            self.stores.artifacts,
            self.stores.checkpoints,
            check_artifacts=artifacts,
            progress=progress,
        )
