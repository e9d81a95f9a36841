"""Who is looking: the dashboard's API token, from the ``Authorization`` header or from the
``keel_token`` cookie that signing in on a page sets.

While no token exists the dashboard is open, as every endpoint is. Once one does, reading a page
needs a token of role ``predict`` or higher (the role that may already read ``/v1/models``), and
an action ``deploy`` or higher. The cookie is ``HttpOnly`` (page scripts never see the token)
and ``SameSite=Strict`` (another site cannot make a browser send it along with a request).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from keel.errors import KeelError
from keel.registry.tokens import TokenRecord
from keel.serving.auth import Forbidden, TokenGate, Unauthorized
from keel.web.dashboard.state import dashboard_of

COOKIE = "keel_token"
READ_ROLE = "predict"


class SignInNeeded(KeelError):
    """A page asked for without a token good enough to read it (answered with the sign-in
    page, 401 or 403)."""

    code = "sign_in_needed"

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE) or None


def _gate(request: Request) -> TokenGate:
    """The token gate; StoreUnavailable (503) while the server lending it is starting."""
    return dashboard_of(request.app).gate()


def needs(role: str) -> Callable[[Request], Awaitable[TokenRecord | None]]:
    """A FastAPI dependency for the JSON actions: a token of ``role`` (401/403 JSON)."""

    async def dependency(request: Request) -> TokenRecord | None:
        return await _gate(request).check(token_of(request), role)

    dependency.__name__ = f"needs_{role}"
    return dependency


async def page_viewer(request: Request) -> TokenRecord | None:
    """A FastAPI dependency for pages: the viewer's token record (None while the dashboard is
    open); without a readable token, the sign-in page."""
    token = token_of(request)
    try:
        viewer = await _gate(request).check(token, READ_ROLE)
    except Unauthorized as exc:
        message = str(exc) if token else "this dashboard needs an API token to be read"
        raise SignInNeeded(message, status=401) from None
    except Forbidden as exc:
        raise SignInNeeded(str(exc), status=403) from None
    request.state.viewer = viewer
    return viewer
