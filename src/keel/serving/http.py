"""Keel's errors as HTTP answers: a status code and a JSON body, never a 500 for bad input.

Every error body is ``{"error": code, "message": ..., **fields}``; every 422 also carries
``problems``, one entry per problem (``field``, ``row``, ``value``, ``expected``, ``problem``),
whether it came from a signature check, a malformed body or a management request's schema.

Status codes: InvalidInput and SignatureMismatch 422; Unauthorized 401 (with
``WWW-Authenticate: Bearer``); Forbidden 403; NotFound 404; Conflict 409; GateFailed 409 too (the
request is well-formed and allowed, but the version's state refuses it until it is blessed);
a model that raises on valid input 500 (``model_error``); an unwritable prediction log, a store
that cannot be reached or a version not loaded yet 503. Anything unexpected is a 500 whose body
says only what kind of error it was; the traceback goes to the server's log.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from keel.errors import (
    Conflict,
    FrameworkMissing,
    GateFailed,
    IntegrityError,
    InvalidInput,
    KeelError,
    NotFound,
    StoreError,
)
from keel.serving.auth import Forbidden, Unauthorized
from keel.serving.batching import LogUnavailable, ModelFailed, Retired

log = logging.getLogger("keel.serving")

JSON = "application/json"

_STATUS: tuple[tuple[type[KeelError], int], ...] = (
    (InvalidInput, 422),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (GateFailed, 409),
    (ModelFailed, 500),
    (LogUnavailable, 503),
    (Retired, 503),
    (StoreError, 503),
    (FrameworkMissing, 503),
    (IntegrityError, 500),
)


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(encode(payload), status_code=status, media_type=JSON, headers=headers)


def encode(payload: Any) -> bytes:
    """``payload`` as JSON; never raises. orjson refuses integers beyond 64 bits and nesting
    deeper than 255 levels, both of which a client can send and an error body may echo: such a
    payload is encoded again with those values made safe (``echo(..., cut=False)``)."""
    try:
        return orjson.dumps(payload, default=_default, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        safe = echo(payload, depth=_ENCODABLE_DEPTH, cut=False)
        return orjson.dumps(safe, default=_default, option=orjson.OPT_SERIALIZE_NUMPY)


#: what an error body echoes of a client's value at most: characters, items and levels
ECHO_CHARS = 200
ECHO_ITEMS = 20
ECHO_DEPTH = 8
_ENCODABLE_DEPTH = 200  # orjson's own limit is 255


def echo(value: Any, depth: int = ECHO_DEPTH, *, cut: bool = True) -> Any:
    """A copy of a value a client sent that any JSON encoder takes: integers beyond 64 bits
    become text and nesting below ``depth`` becomes ``"..."``; with ``cut``, long strings and
    lists are shortened too (an error body should not mirror a 30 MB request)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float):  # JSON has no infinity or NaN: say which it was
        return value if math.isfinite(value) else str(value)
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, str):
        text = value[:ECHO_CHARS] + "..." if cut and len(value) > ECHO_CHARS else value
        return text if text.isascii() else utf8_text(text)
    if isinstance(value, bytes | bytearray):
        return echo(bytes(value).decode("utf-8", "replace"), depth, cut=cut)
    if isinstance(value, dict | list | tuple):
        if depth <= 0:
            return "..."
        items = list(value.items() if isinstance(value, dict) else value)
        if cut:
            items = items[:ECHO_ITEMS]
        if isinstance(value, dict):
            return {str(echo(k, 0, cut=cut)): echo(v, depth - 1, cut=cut) for k, v in items}
        return [echo(v, depth - 1, cut=cut) for v in items]
    if hasattr(value, "__array__") or hasattr(value, "to_dict") or hasattr(value, "isoformat"):
        return value  # numpy values, Keel's records and dates: orjson or _default handle them
    return echo(str(value), depth, cut=cut)


def utf8_text(text: str) -> str:
    """``text`` with lone surrogates (which JSON's ``\\ud800`` escapes can carry but UTF-8
    cannot) written as escapes, so it can be encoded, stored and echoed."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _default(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def status_of(error: KeelError) -> int:
    if error.code == "unavailable":  # the router's and the batcher's "try again"
        return 503
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 400


def error_body(error: KeelError) -> dict[str, Any]:
    body = error.to_dict()
    if isinstance(error, InvalidInput) and "problems" not in body:
        body["problems"] = [{"field": error.field, "problem": error.problem}]
    return body


def keel_error_response(error: KeelError) -> Response:
    status = status_of(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return json_response(error_body(error), status, headers)


def _field(location: Any) -> str:
    """``body.steps.1`` as ``steps.1``, ``path.name`` as ``name``: the field a client sent."""
    parts = [str(p) for p in location]
    if len(parts) > 1 and parts[0] in ("body", "path", "query", "header", "cookie"):
        parts = parts[1:]
    return str(echo(".".join(parts))) or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Map Keel's errors, request-schema errors and anything unexpected to JSON answers."""

    async def on_keel_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, KeelError)
        return keel_error_response(exc)

    async def on_schema_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = [
            {
                "field": _field(error.get("loc", ())),
                "row": None,
                "value": echo(error.get("input")),
                "expected": error.get("type"),
                "problem": error.get("msg", "invalid"),
            }
            for error in exc.errors()
        ]
        shown = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:5])
        return json_response(
            {
                "error": "invalid_input",
                "message": f"invalid request: {shown}",
                "problems": problems,
            },
            422,
        )

    async def on_http_error(_: Request, exc: Exception) -> Response:
        """Starlette's own refusals (an unknown path, a body it cannot parse, a wrong method)
        in the same body shape as every other error."""
        assert isinstance(exc, StarletteHTTPException)
        body = {"error": _HTTP_CODES.get(exc.status_code, "http_error"), "message": exc.detail}
        return json_response(body, exc.status_code, dict(exc.headers or {}) or None)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return json_response(
            {
                "error": "internal",
                "message": f"unexpected {type(exc).__name__}; see the server log",
            },
            500,
        )

    app.add_exception_handler(KeelError, on_keel_error)
    app.add_exception_handler(RequestValidationError, on_schema_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
