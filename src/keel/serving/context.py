"""What a running serving app holds (``app.state.keel``), shared by the predict path, the
app's own endpoints and the management API, so none of them imports another for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from keel.errors import KeelError
from keel.serving.auth import TokenGate
from keel.serving.logging import PredictionRecorder
from keel.serving.metrics import ServingMetrics
from keel.serving.models import ModelCache
from keel.serving.router import Router
from keel.settings import Settings
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database
from keel.store.prediction_log import LogStore

if TYPE_CHECKING:
    from keel.stores import Stores

__all__ = ["ServingContext", "context"]


@dataclass
class ServingContext:
    """Everything a running app holds, on ``app.state.keel`` (management endpoints use it)."""

    settings: Settings
    db: Database
    artifacts: ArtifactStore
    cache: ModelCache
    router: Router
    gate: TokenGate
    metrics: ServingMetrics
    recorder: PredictionRecorder
    #: the prediction log (a deployment started over HTTP records its position)
    logs: LogStore | None = None
    in_flight: int = 0
    #: the app's open database, artifacts and logs as one ``Stores`` (owner: the app, which
    #: closes them), so the management API and the dashboard drive the services over the same
    #: connection pool; each request acts through ``stores.acting_as(token name)``
    stores: Stores | None = None


def context(request: Request) -> ServingContext:
    found = getattr(request.app.state, "keel", None)
    if not isinstance(found, ServingContext):
        raise KeelError("the server is still starting")
    return found
