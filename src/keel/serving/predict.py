"""The predict path, from raw bytes to raw bytes, and the ASGI shortcut that reaches it first.

FastAPI's routing, dependency solving, middleware and Request/Response objects cost about twice
what Keel's own work on a request costs (parse, validate, route, answer). So ``ServingApp`` (in
``app``) hands ``POST /v1/models/{name}/predict`` straight to ``asgi_predict`` before the
middleware stack; every other path, ``/docs`` included, goes through FastAPI as usual, and the
FastAPI route of the same path (kept for OpenAPI, and used when the app is mounted under
another) calls the same ``predict_bytes``. Both give the same answers, errors and metrics.

What the input policy found is part of the answer (``schemas`` documents the shapes): one record
has ``warnings`` (null or its flagged values), and a rejected record is a 422 listing why (after
it is logged); records and columns have ``warnings`` and ``rejected``, each null when no row has
any, else one entry per row (null or a list), and a rejected row's prediction and score are null.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from keel.errors import KeelError, SignatureMismatch
from keel.serving.auth import bearer_token
from keel.serving.http import encode, error_body, status_of
from keel.serving.inputs import parse_body

if TYPE_CHECKING:
    from keel.serving.context import ServingContext

log = logging.getLogger("keel.serving")

#: a client's X-Request-Id is used when it is at most this long
MAX_REQUEST_ID = 128
#: bodies larger than this are refused (413) before they are parsed
MAX_BODY_BYTES = 32 * 1024 * 1024
_PREFIX = "/v1/models/"
_SUFFIX = "/predict"
_JSON_HEADERS = [(b"content-type", b"application/json")]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class _Ids:
    """Request ids: 16 random hex digits per process, then a counter (a uuid4 per request costs
    a system call; a counter does not). Re-seeded in a forked child."""

    def __init__(self) -> None:
        self._pid = -1
        self._prefix = ""
        self._count = itertools.count()

    def new(self) -> str:
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._prefix = os.urandom(8).hex()
            self._count = itertools.count()
        return f"{self._prefix}{next(self._count):016x}"


new_request_id = _Ids().new


def request_id_from(given: str | None) -> str:
    if given and len(given) <= MAX_REQUEST_ID and given.isprintable():
        return given
    return new_request_id()


def predict_target(path: str) -> str | None:
    """The model name in ``/v1/models/{name}/predict``, or None for any other path."""
    if path.startswith(_PREFIX) and path.endswith(_SUFFIX):
        name = path[len(_PREFIX) : -len(_SUFFIX)]
        if name and "/" not in name:
            return name
    return None


async def predict_bytes(
    ctx: ServingContext,
    name: str,
    body: bytes,
    headers: Mapping[str, str],
    started: float,
    arrival_ns: int,
) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """Answer one predict request: status, JSON body and extra headers. Never raises."""
    import orjson

    request_id = request_id_from(headers.get("x-request-id"))
    extra = [(b"x-request-id", request_id.encode())]
    ctx.in_flight += 1
    try:
        payload = await _answer(ctx, name, body, headers, request_id, started, arrival_ns)
        return 200, orjson.dumps(payload), extra
    except KeelError as exc:
        status = status_of(exc)
        if status == 401:
            extra.append((b"www-authenticate", b"Bearer"))
        return status, encode(error_body(exc)), extra
    except Exception as exc:
        log.error("unexpected error predicting with %s", name, exc_info=exc)
        failure = {"error": "internal", "message": f"unexpected {type(exc).__name__}"}
        return 500, orjson.dumps(failure), extra
    finally:
        ctx.in_flight -= 1


async def _answer(
    ctx: ServingContext,
    name: str,
    body: bytes,
    headers: Mapping[str, str],
    request_id: str,
    started: float,
    arrival_ns: int,
) -> dict[str, Any]:
    await ctx.gate.check(bearer_token(headers.get("authorization")), "predict")
    routed = None
    try:
        parsed = parse_body(body)
        routed = ctx.router.route(
            name,
            parsed,
            key=headers.get("x-entity-key") or parsed.key,
            request_id=request_id,
            arrival_ns=arrival_ns,
            started=started,
        )
        scored = await routed.future
        checked = routed.checked
        if parsed.form == "record" and checked is not None and checked.rejected:
            raise SignatureMismatch(checked.rejected[0], model=f"{name}/{routed.version}")
    except KeelError as exc:
        if routed is not None and routed.checked is not None and exc.code == "model_error":
            # the model may have raised on the very values the policy flagged: say which
            flagged = [
                e for row in sorted(routed.checked.warnings) for e in routed.checked.warnings[row]
            ]
            if flagged:
                exc.fields["warnings"] = flagged
        if routed is not None:
            ctx.metrics.failed(name, routed.version, exc.code)
            elapsed = time.perf_counter() - started
            ctx.metrics.answered(name, routed.version, routed.variant, status_of(exc), elapsed)
        elif exc.code != "signature_mismatch" and name in ctx.cache.state.plans:
            ctx.metrics.failed(name, None, exc.code)  # the router counts signature problems
        raise
    payload: dict[str, Any] = {
        "request_id": request_id,
        "model": name,
        "version": routed.version,
        "variant": routed.variant,
    }
    if parsed.form == "record":
        payload["prediction"] = scored.predictions[0]
        payload["score"] = scored.scores[0] if scored.scores is not None else None
        payload["warnings"] = checked.warnings.get(0) if checked is not None else None
    else:
        payload["predictions"] = scored.predictions
        payload["scores"] = scored.scores
        payload["row_ids"] = routed.row_ids
        payload["warnings"] = _per_row(checked.warnings, parsed.rows) if checked else None
        payload["rejected"] = _per_row(checked.rejected, parsed.rows) if checked else None
    ctx.metrics.answered(name, routed.version, routed.variant, 200, time.perf_counter() - started)
    return payload


def _per_row(found: dict[int, Any], rows: int) -> list[Any] | None:
    """One entry per row (None where there is nothing), or None when no row has any."""
    if not found:
        return None
    return [found.get(row) for row in range(rows)]


async def asgi_predict(
    ctx: ServingContext | None, name: str, scope: Scope, receive: Receive, send: Send
) -> None:
    """Serve one predict request on raw ASGI messages."""
    started = time.perf_counter()
    arrival_ns = time.time_ns()
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    chunks = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            await _send(send, 413, b'{"error":"too_large","message":"the body is too large"}', [])
            return
        chunks.append(chunk)
        more = message.get("more_body", False)
    if ctx is None:
        await _send(send, 503, b'{"error":"unavailable","message":"the server is starting"}', [])
        return
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    status, answer, extra = await predict_bytes(ctx, name, body, headers, started, arrival_ns)
    await _send(send, status, answer, extra)


async def _send(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
