"""API tokens on HTTP: once any token exists, every protected endpoint needs one.

``requires(role)`` is a FastAPI dependency. While no live token exists the server is open (a
fresh install needs no set-up); as soon as one is created (``keel token create``) every predict
endpoint needs ``Authorization: Bearer <token>`` of role ``predict`` or higher, and management
endpoints ``deploy`` or ``admin``. A missing, unknown or revoked token is a 401, a token of too
low a role a 403.

Looking a token up costs a database read, so answers are cached for ``ttl_s`` seconds (5 by
default): a new or revoked token takes effect within that time, and the predict path pays only
a dictionary lookup of the token's SHA-256.

FastAPI reads and validates a body before it runs dependencies, so a malformed body would be
answered 422 before the missing token 401, telling a stranger about the API's shapes. Routes
built with ``AuthFirstRoute`` check the token their ``requires`` dependency names first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from fastapi import Request, Response, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from keel.errors import KeelError
from keel.registry import tokens
from keel.registry.tokens import TokenRecord
from keel.store.database import Database

if TYPE_CHECKING:
    from keel.stores import Stores

#: documents the bearer scheme in OpenAPI; the gate itself decides (so 401s are ours)
_BEARER = HTTPBearer(auto_error=False, description="An API token from `keel token create`.")


class Unauthorized(KeelError):
    """No token, or one the store does not know (HTTP 401)."""

    code = "unauthorized"


class Forbidden(KeelError):
    """A valid token whose role is too low for the endpoint (HTTP 403)."""

    code = "forbidden"


class TokenGate:
    """Checks bearer tokens against the store, with answers cached for ``ttl_s`` seconds."""

    def __init__(self, db: Database, *, ttl_s: float = 5.0) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self._configured: tuple[float, bool] = (-1e18, False)
        self._known: dict[str, tuple[float, TokenRecord | None]] = {}

    @classmethod
    def over(cls, stores: Stores, *, ttl_s: float = 5.0) -> TokenGate:
        """A gate over the token table of open ``stores`` (a door holding ``Stores``)."""
        return cls(stores.db, ttl_s=ttl_s)

    async def configured(self) -> bool:
        checked, answer = self._configured
        if time.monotonic() - checked < self.ttl_s:
            return answer
        answer = await asyncio.to_thread(tokens.configured, self.db)
        self._configured = (time.monotonic(), answer)
        return answer

    async def record(self, token: str) -> TokenRecord | None:
        digest = tokens.token_hash(token)
        cached = self._known.get(digest)
        if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
            return cached[1]
        found = await asyncio.to_thread(tokens.verify, self.db, token)
        if len(self._known) > 10_000:  # unknown tokens must not grow the cache without bound
            self._known.clear()
        self._known[digest] = (time.monotonic(), found)
        return found

    async def check(self, token: str | None, role: str) -> TokenRecord | None:
        """The caller's token record (None while no token is configured), or 401/403."""
        if not await self.configured():
            return None
        if not token or not token.strip():
            raise Unauthorized(
                "this endpoint needs an API token: send 'Authorization: Bearer <token>'",
                role=role,
            )
        record = await self.record(token.strip())
        if record is None:
            raise Unauthorized("the API token is unknown or revoked", role=role)
        if not tokens.allows(record.role, role):
            raise Forbidden(
                f"a {record.role} token may not do this; it needs role {role} or higher",
                role=role,
                held=record.role,
            )
        return record


def requires(role: str) -> Callable[..., Awaitable[TokenRecord | None]]:
    """A FastAPI dependency demanding a token of ``role`` (or higher) once tokens exist.

    The gate lives on ``request.app.state.keel_gate`` (set by the app at start-up).
    """
    if role not in tokens.ROLES:
        raise ValueError(f"unknown role {role!r}")

    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Security(_BEARER),  # noqa: B008
    ) -> TokenRecord | None:
        gate: Any = getattr(request.app.state, "keel_gate", None)
        if gate is None:
            raise Unauthorized("the server is starting; try again", role=role)
        return await gate.check(credentials.credentials if credentials else None, role)

    dependency.__name__ = f"requires_{role}"
    setattr(dependency, _ROLE_ATTRIBUTE, role)  # read by AuthFirstRoute
    return dependency


_ROLE_ATTRIBUTE = "keel_role"


def admin_for_force(force: bool, token: TokenRecord | None) -> None:
    """Forcing past a model's gates overrides a governance decision: with tokens in use, only
    an ``admin`` token may (every HTTP door that takes ``force`` asks here)."""
    if force and token is not None and not tokens.allows(token.role, "admin"):
        raise Forbidden(
            "forcing past the model's gates needs an admin token", role="admin", held=token.role
        )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (None for any other scheme)."""
    scheme, _, token = (authorization or "").partition(" ")
    return token if scheme.lower() == "bearer" else None


def required_role(dependant: Dependant) -> str | None:
    """The role a route's ``requires`` dependency demands, searched through sub-dependencies."""
    for sub in dependant.dependencies:
        role = getattr(sub.call, _ROLE_ATTRIBUTE, None) or required_role(sub)
        if role is not None:
            return str(role)
    return None


class AuthFirstRoute(APIRoute):
    """A route that checks the token before FastAPI reads the body: unauthenticated callers get
    401 (or 403) whatever they send, never a 422 describing the body they should have sent."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        role = required_role(self.dependant)
        if role is None:
            return handler

        async def authenticated(request: Request) -> Response:
            gate: Any = getattr(request.app.state, "keel_gate", None)
            if gate is None:
                raise Unauthorized("the server is starting; try again", role=role)
            await gate.check(bearer_token(request.headers.get("authorization")), role)
            return await handler(request)

        return authenticated
