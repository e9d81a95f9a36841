"""What the dashboard's routes share, kept on ``app.state.dashboard`` by ``create_dashboard``:
the client, the page renderer and the audit chain's watcher."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keel.web.dashboard.audit_view import ChainWatcher
from keel.web.dashboard.render import Renderer

if TYPE_CHECKING:
    from keel.client import Client

__all__ = ["Dashboard", "dashboard_of"]


@dataclass
class Dashboard:
    """What the dashboard's routes share (on ``app.state.dashboard``)."""

    client: Client
    renderer: Renderer
    chain: ChainWatcher
    owns_client: bool

    def close(self) -> None:
        if self.owns_client:
            self.client.close()


def dashboard_of(app: Any) -> Dashboard:
    found = getattr(app.state, "dashboard", None)
    if not isinstance(found, Dashboard):
        raise RuntimeError("the dashboard app was not created by create_dashboard")
    return found
