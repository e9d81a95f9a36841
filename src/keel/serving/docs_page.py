"""``/docs`` that works without the internet: Swagger UI served from the installed package.

FastAPI's own ``/docs`` and ``/redoc`` load their JavaScript and CSS from a CDN, so on a server
with no way out (the usual place for a model server) they show a blank page. Here the Swagger UI
files come from the ``swagger-ui-bundle-v2`` package and are served under ``/docs/assets``; the
page names nothing outside the server. ``/redoc`` is left out: it has no offline bundle.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

#: where the page and its files are served
DOCS_PATH = "/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"
OAUTH2_REDIRECT_PATH = f"{DOCS_PATH}/oauth2-redirect"


def swagger_ui_files() -> Path:
    """The folder of the installed Swagger UI distribution."""
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))


def install_offline_docs(app: FastAPI, title: str) -> None:
    """Serve Swagger UI for ``app``'s OpenAPI schema at ``/docs``, every file from this server.

    ``app`` must be created with ``docs_url=None`` and ``redoc_url=None`` (FastAPI's CDN pages).
    Paths are prefixed with the request's ``root_path``, so the page works where the app is
    mounted under a prefix too."""
    openapi_url = app.openapi_url or "/openapi.json"

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{title} - API",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_PATH}",
            # no call to the online validator either
            swagger_ui_parameters={"validatorUrl": None},
        )

    async def oauth2_redirect(request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_route(DOCS_PATH, swagger_ui, include_in_schema=False)
    app.add_route(OAUTH2_REDIRECT_PATH, oauth2_redirect, include_in_schema=False)
    app.mount(ASSETS_PATH, StaticFiles(directory=swagger_ui_files()), name="docs-assets")
