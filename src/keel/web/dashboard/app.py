"""The dashboard app: server-rendered pages over the registry and the monitoring windows, with
charts drawn in the browser by the uPlot copy shipped in the package (nothing loads from the
network), and a few actions for holders of a ``deploy`` or ``admin`` token.

``create_dashboard(settings)`` returns an ASGI app meant to be mounted under ``/ui``: by
``keel ui`` on its own, and by ``keel serve`` beside the serving endpoints. Every answer carries
``Server-Timing: app;dur=<ms>``, the time spent in the app, which the benchmark reads.
"""

from __future__ import annotations

import time
from importlib import resources
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from keel.errors import StoreUnavailable
from keel.serving.auth import TokenGate
from keel.serving.http import install_error_handlers
from keel.web.dashboard.state import Dashboard, dashboard_of

if TYPE_CHECKING:
    from keel.client import Client
    from keel.settings import Settings
    from keel.stores import Stores


class ServerTiming:
    """ASGI middleware adding ``Server-Timing: app;dur=<ms>`` to every answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()

        async def timed_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - began) * 1000.0
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={took:.1f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)


def create_dashboard(
    settings: Settings,
    *,
    client: Client | None = None,
    serving: FastAPI | None = None,
    token_ttl_s: float = 5.0,
) -> FastAPI:
    """The dashboard over the store and artifacts of ``settings`` (or of ``client``).

    ``serving``: the serving app the dashboard is mounted in (``keel serve``); the dashboard
    then borrows that app's open stores and token gate once it has started, and opens (and
    closes) no connection of its own."""
    from keel.web.dashboard import actions, pages

    app = FastAPI(title="Keel dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.dashboard = (
        _borrowing(serving) if serving is not None else _opening(settings, client, token_ttl_s)
    )
    install_error_handlers(app)
    _pages_answer_bad_urls_in_html(app)
    _pages_ask_to_sign_in(app)
    app.add_middleware(ServerTiming)
    static = resources.files("keel.web.dashboard").joinpath("static")
    charts = resources.files("keel").joinpath("_assets", "uplot")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.mount("/charts", StaticFiles(directory=str(charts)), name="charts")
    app.include_router(pages.router)
    app.include_router(actions.router)
    return app


def _opening(settings: Settings, client: Client | None, token_ttl_s: float) -> Dashboard:
    """A dashboard over ``client``'s stores, or over a client of its own that it closes."""
    from keel.client import Client

    shared = client if client is not None else Client(settings=settings)
    gate = TokenGate.over(shared.stores, ttl_s=token_ttl_s)
    return Dashboard(lambda: shared.stores, lambda: gate, client=shared, owns_client=client is None)


def _borrowing(serving: FastAPI) -> Dashboard:
    """A dashboard over the open stores and token gate of the serving app ``serving``."""
    from keel.serving.context import ServingContext  # the serving app has imported it

    def lent() -> tuple[Stores, TokenGate]:
        found = getattr(serving.state, "keel", None)
        if not isinstance(found, ServingContext) or found.stores is None:
            raise StoreUnavailable("the server is still starting; try again in a moment")
        return found.stores, found.gate

    return Dashboard(lambda: lent()[0], lambda: lent()[1])


def _pages_answer_bad_urls_in_html(app: FastAPI) -> None:
    """A malformed page URL (``/models/m/versions/abc``) gets an HTML page; the JSON actions
    under ``/api`` keep their JSON 422 naming each problem."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, Response

    from keel.errors import InvalidInput

    json_handler = app.exception_handlers[RequestValidationError]

    async def on_bad_request(request: Request, exc: Exception) -> Response:
        if request.scope.get("path", "").startswith(f"{request.scope.get('root_path', '')}/api"):
            answer = json_handler(request, exc)
            return answer if isinstance(answer, Response) else await answer
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ()) if p not in ("path", "query"))
        error = InvalidInput(field or "url", str(first.get("msg", "invalid")))
        board = dashboard_of(request.app)
        base = request.scope.get("root_path", "").rstrip("/")
        text = board.renderer.page("error.html", base=base, error=error, status_code=422)
        return HTMLResponse(text, status_code=422)

    app.add_exception_handler(RequestValidationError, on_bad_request)


def _pages_ask_to_sign_in(app: FastAPI) -> None:
    """A page asked for without a good enough token answers the sign-in page (401 or 403)."""
    from fastapi import Request
    from fastapi.responses import HTMLResponse

    from keel.web.dashboard.viewer import SignInNeeded

    async def on_sign_in(request: Request, exc: Exception) -> HTMLResponse:
        assert isinstance(exc, SignInNeeded)
        board = dashboard_of(request.app)
        base = request.scope.get("root_path", "").rstrip("/")
        text = board.renderer.page(
            "sign_in.html", base=base, error=exc, status_code=exc.status, viewer=None
        )
        return HTMLResponse(text, status_code=exc.status)

    app.add_exception_handler(SignInNeeded, on_sign_in)
