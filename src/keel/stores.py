"""``Stores``: everything Keel keeps state in, opened once at the edge and handed down.

The metadata database, the artifact store, the prediction and label logs, the clock that stamps
what is written and the acting user. A door (the SDK's ``Client``, the CLI, the management API,
the dashboard) opens one ``Stores`` from the settings; the services (``Registry``,
``Governance``, ``Monitoring``, ``Rollouts``, ``Retrains``) are built over it and never open a
store themselves. A door that acts for someone else (a token's name on an HTTP request) uses
``acting_as``, which shares the open stores.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from keel.registry.clock import utcnow
from keel.settings import Settings

if TYPE_CHECKING:
    from keel.registry.audit_checkpoint import Checkpoints
    from keel.store.artifacts import FsspecArtifactStore
    from keel.store.database import Database
    from keel.store.prediction_log import ParquetLogStore

__all__ = ["HasStores", "Stores"]


@dataclass(frozen=True)
class Stores:
    settings: Settings
    db: Database
    artifacts: FsspecArtifactStore
    #: the prediction and label logs, beside the artifacts (``<artifacts>/log``)
    logs: ParquetLogStore
    #: who the audit trail names for what these stores record
    actor: str
    #: the keyed audit checkpoints, when the settings keep them
    checkpoints: Checkpoints | None = None
    #: stamps what the registry writes; the registry's clock (replayable) by default
    clock: Callable[[], datetime] = utcnow
    #: only the ``Stores`` that opened the connections closes them
    owner: bool = True

    @classmethod
    def open(cls, settings: Settings, *, create: bool = True) -> Stores:
        """``create=False`` opens only stores that exist: a SQLite file or local artifact
        folder that is not there raises StoreNotFound instead of starting an empty store."""
        from keel.registry.audit_checkpoint import install_for
        from keel.store.artifacts import FsspecArtifactStore
        from keel.store.database import Database
        from keel.store.prediction_log import ParquetLogStore

        db = Database(settings.store_url, create=create)
        try:
            artifacts = FsspecArtifactStore(
                settings.artifacts, create=create, **settings.artifact_options
            )
            checkpoints = install_for(db, settings)
            logs = ParquetLogStore(settings.artifacts, **settings.artifact_options)
        except BaseException:
            db.close()
            raise
        return cls(settings, db, artifacts, logs, settings.actor, checkpoints)

    def acting_as(self, actor: str) -> Stores:
        """The same open stores, recording ``actor`` as who acts (closing it closes nothing)."""
        return dataclasses.replace(self, actor=actor, owner=False)

    def close(self) -> None:
        if not self.owner:
            return
        self.db.close()
        self.artifacts.close()
        self.logs.close()


class HasStores(Protocol):
    """What holds open stores, as ``keel.Client`` does."""

    @property
    def stores(self) -> Stores: ...
