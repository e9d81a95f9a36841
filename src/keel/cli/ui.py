"""``keel ui``: the web dashboard on its own, at http://HOST:PORT/ui/ (``keel serve`` also
mounts it under ``/ui``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from keel.cli.context import PortOption, open_store
from keel.cli.serve import _settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from keel.settings import Settings


def dashboard_app(settings: Settings) -> FastAPI:
    """An app with the dashboard under ``/ui`` and ``/`` sending visitors there."""
    from fastapi import FastAPI
    from fastapi.responses import RedirectResponse

    from keel.web.dashboard import create_dashboard
    from keel.web.dashboard.state import dashboard_of

    dashboard = create_dashboard(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        dashboard_of(dashboard).close()

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.mount("/ui", dashboard)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui/")

    return app


def ui(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: PortOption = 8100,
) -> None:
    """Open the web dashboard: models, versions, drift, the audit trail, and actions."""
    import uvicorn

    settings = _settings(ctx)
    open_store(settings, create=True)  # a fresh folder gets an empty store and its dashboard
    app = dashboard_app(settings)
    typer.echo(f"keel dashboard on http://{host}:{port}/ui/ (store {settings.store_url})")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def main() -> None:
    """``python -m keel.cli.ui``: the command without the ``keel`` entry point."""
    typer.run(ui)


if __name__ == "__main__":
    main()
