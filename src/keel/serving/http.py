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
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError

from keel.errors import (
    Conflict,
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
    (IntegrityError, 500),
)


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    body = orjson.dumps(payload, default=_default, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status_code=status, media_type=JSON, headers=headers)


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


def install_error_handlers(app: FastAPI) -> None:
    """Map Keel's errors, request-schema errors and anything unexpected to JSON answers."""

    async def on_keel_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, KeelError)
        return keel_error_response(exc)

    async def on_schema_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = [
            {
                "field": ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body",
                "row": None,
                "value": error.get("input"),
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
    app.add_exception_handler(Exception, on_unexpected)
