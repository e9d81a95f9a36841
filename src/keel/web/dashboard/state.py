"""What the dashboard's routes share, kept on ``app.state.dashboard`` by ``create_dashboard``:
the services its pages read and its actions act through, the token gate, the page renderer and
the audit chain's watcher.

The stores under the services are either the dashboard's own (``keel ui``: a ``Client`` it
opened and closes) or lent by the serving app it is mounted in (``keel serve``: that app's
open stores and token gate, looked up once the app has started; closing the dashboard closes
nothing of them), so one process holds one connection pool.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from keel.services import Services
from keel.web.dashboard.audit_view import ChainWatcher
from keel.web.dashboard.render import Renderer

if TYPE_CHECKING:
    from keel.client import Client
    from keel.serving.auth import TokenGate
    from keel.stores import Stores

__all__ = ["Dashboard", "dashboard_of"]


class Dashboard:
    """What the dashboard's routes share (on ``app.state.dashboard``)."""

    def __init__(
        self,
        stores: Callable[[], Stores],
        gate: Callable[[], TokenGate],
        *,
        client: Client | None = None,
        owns_client: bool = False,
    ) -> None:
        """``stores`` and ``gate`` answer the open stores and the token gate when a request
        needs them (raising ``StoreUnavailable`` while whoever lends them is starting); ``client``:
        the client the stores are, which ``close`` closes when ``owns_client``."""
        self._stores = stores
        self.gate = gate
        self.client = client
        self.owns_client = owns_client
        self.renderer = Renderer()
        self.chain = ChainWatcher(lambda: self.services.audit.verify_chain())
        self._services: Services | None = client.services if client is not None else None

    @property
    def services(self) -> Services:
        """The services over the open stores, acting as the stores' own actor."""
        stores = self._stores()
        built = self._services
        if built is None or built.stores is not stores:
            built = self._services = Services.over(stores)
        return built

    @property
    def client_class(self) -> type | None:
        """What a custom pipeline step's ``context.client()`` opens for a queued retrain."""
        return type(self.client) if self.client is not None else None

    def close(self) -> None:
        """Close what the dashboard opened itself (lent stores stay open)."""
        if self.client is not None and self.owns_client:
            self.client.close()


def dashboard_of(app: Any) -> Dashboard:
    found = getattr(app.state, "dashboard", None)
    if not isinstance(found, Dashboard):
        raise RuntimeError("the dashboard app was not created by create_dashboard")
    return found
