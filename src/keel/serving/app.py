"""The serving app: ``create_app(settings)`` returns a FastAPI application for uvicorn.

Endpoints:

- ``POST /v1/models/{name}/predict``: one record, ``{"records": [...]}`` or ``{"columns": [...],
  "data": [[...]]}``; answers the prediction(s), score(s), the serving version, its variant and a
  request id (``X-Request-Id`` is honoured when sent; batch rows get ``<id>-<row>`` row ids, which
  are the request ids in the prediction log that labels refer to);
- ``GET /v1/models`` and ``GET /v1/models/{name}``: what serves each model, with signatures;
- ``GET /healthz`` (the process answers), ``GET /readyz`` (every planned version is loaded);
- ``GET /metrics``: Prometheus text (serving counters, and model quality read from the store:
  ``keel.serving.quality_metrics``); ``/docs`` (Swagger UI, every file served from here, so it
  works offline: ``keel.serving.docs_page``) and ``/openapi.json``: the API's documentation.

The predict path reads the raw body with orjson instead of a pydantic model (the models in
``schemas`` document it in OpenAPI only), because per-request validation is the signature's job
and pydantic's would cost more than the model. Management endpoints (deploy, roll back, move an
alias) live in ``keel.web.management`` and are mounted by ``keel serve``: serving applies plans,
it does not change them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from keel.domain.names import NAME_PATTERN
from keel.errors import NotFound
from keel.registry.tokens import TokenRecord
from keel.serving import schemas
from keel.serving.auth import AuthFirstRoute, TokenGate, requires
from keel.serving.context import ServingContext, context
from keel.serving.docs_page import install_offline_docs
from keel.serving.http import install_error_handlers, json_response
from keel.serving.logging import LogStoreRecorder, NullRecorder, PredictionRecorder
from keel.serving.metrics import CONTENT_TYPE, ServingMetrics
from keel.serving.models import BatchSettings, ModelCache
from keel.serving.predict import asgi_predict, predict_bytes, predict_target
from keel.serving.quality_metrics import REFRESH_S, QualityCollector, QualityReader
from keel.serving.router import Router
from keel.serving.served import quiet_feature_name_warning
from keel.settings import Settings
from keel.store.database import Database

log = logging.getLogger("keel.serving")

#: a model name in a path, documented with the registry's rule
ModelName = Annotated[str, Path(pattern=NAME_PATTERN, description="A registered model's name.")]


class ServingApp(FastAPI):
    """FastAPI with one shortcut: predict requests go straight to ``asgi_predict``, skipping
    the middleware stack, routing and dependency solving (see ``keel.serving.predict``)."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            name = predict_target(scope["path"])
            if name is not None:
                found = getattr(self.state, "keel", None)
                ctx = found if isinstance(found, ServingContext) else None
                await asgi_predict(ctx, name, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings,
    *,
    log_predictions: bool = True,
    poll_s: float = 1.0,
    check_ranges: bool = True,
    recorder: PredictionRecorder | None = None,
    linger_s: float = 30.0,
    token_ttl_s: float = 5.0,
    batching: BatchSettings | None = None,
    wal: str | None = None,
    private_metrics: bool = False,
    quality_refresh_s: float = REFRESH_S,
) -> FastAPI:
    """The serving app for the store and artifacts in ``settings``.

    ``log_predictions=False`` answers without writing the prediction log (benchmarks);
    ``recorder`` replaces the default log writer; ``poll_s`` is how often the serving plans and
    the models' input policies are checked for changes. What happens to a value never seen in
    training is each model's policy (``inputs``: flag, the default, or reject);
    ``check_ranges=False`` overrides it for numbers: they are not compared with the training
    range at all (nothing is flagged or rejected for it).
    ``wal`` (a local folder) logs through the write-ahead log (``keel.serving.wal``): one shared
    fsync per batch instead of a Parquet part per batch, rows moved to the prediction log every
    second. The app closes whichever recorder it uses when it stops.

    ``/healthz``, ``/readyz`` and ``/metrics`` answer without a token (load balancers and
    Prometheus need them), although they name the models and versions served;
    ``private_metrics=True`` puts them behind the predict role once tokens exist. The model
    quality gauges of ``/metrics`` are read from the store at most every ``quality_refresh_s``
    seconds (``keel.serving.quality_metrics``).
    """
    metrics = ServingMetrics()
    started: dict[str, Database] = {}
    metrics.attach(QualityCollector(QualityReader(lambda: started.get("db"), quality_refresh_s)))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from keel.registry.audit_checkpoint import install_for
        from keel.store.artifacts import FsspecArtifactStore
        from keel.store.prediction_log import ParquetLogStore
        from keel.stores import Stores

        quiet_feature_name_warning()
        db = Database(settings.store_url)
        # audited changes over HTTP keep the audit checkpoint too
        checkpoints = install_for(db, settings)
        artifacts = FsspecArtifactStore(settings.artifacts, **settings.artifact_options)
        logs = ParquetLogStore(settings.artifacts, **settings.artifact_options)
        writer: PredictionRecorder
        if recorder is not None:
            writer = recorder
        elif log_predictions and wal is not None:
            from keel.serving.wal import WriteAheadRecorder

            ahead = WriteAheadRecorder(logs, wal)
            ahead.start()
            writer = ahead
        elif log_predictions:
            writer = LogStoreRecorder(logs)
        else:
            writer = NullRecorder()
        holder: dict[str, ServingContext] = {}
        cache = ModelCache(
            db,
            artifacts,
            writer,
            poll_s=poll_s,
            linger_s=linger_s,
            check_ranges=check_ranges,
            batching=batching,
            arriving=lambda: holder["context"].in_flight,
            observer=metrics,
            on_load=metrics.loaded,
        )
        gate = TokenGate(db, ttl_s=token_ttl_s)
        router = Router(cache, metrics)
        # the app owns and closes what it opened: the shared Stores only lends them
        stores = Stores(settings, db, artifacts, logs, settings.actor, checkpoints, owner=False)
        ctx = ServingContext(
            settings, db, artifacts, cache, router, gate, metrics, writer, logs, stores=stores
        )
        holder["context"] = ctx
        app.state.keel = ctx
        app.state.keel_gate = gate
        started["db"] = db
        await cache.start()
        try:
            yield
        finally:
            started.clear()
            await cache.close()
            writer.close()
            artifacts.close()
            db.close()

    app = ServingApp(
        title="Keel serving",
        summary="Predictions from every deployed model, logged and measured.",
        version=_version(),
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load from a CDN: install_offline_docs serves its own
        redoc_url=None,
    )
    install_offline_docs(app, "Keel serving")
    app.router.route_class = AuthFirstRoute
    install_error_handlers(app)
    _routes(app, metrics)
    _operations(app, metrics, private=private_metrics)
    return app


def _version() -> str:
    from keel._version import __version__

    return __version__


def _routes(app: FastAPI, metrics: ServingMetrics) -> None:
    predict_role = Depends(requires("predict"))

    @app.post(
        "/v1/models/{name}/predict",
        summary="Predict with the model's serving version",
        openapi_extra=schemas.PREDICT_REQUEST,
        responses=schemas.PREDICT_RESPONSES,
        response_model=None,
        tags=["predict"],
    )
    async def predict(
        name: ModelName, request: Request, token: TokenRecord | None = predict_role
    ) -> Response:
        """One record, ``records`` or ``columns``; every row is checked against the serving
        version's signature and logged before the answer is sent. (``ServingApp`` answers this
        path before FastAPI's routing; this route documents it and serves mounted apps.)"""
        started = time.perf_counter()
        arrival_ns = time.time_ns()
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        status, answer, extra = await predict_bytes(
            context(request), name, body, headers, started, arrival_ns
        )
        response = Response(answer, status_code=status, media_type="application/json")
        for key, value in extra:
            response.headers[key.decode()] = value.decode()
        return response

    @app.get(
        "/v1/models",
        tags=["models"],
        summary="What serves each model",
        responses=schemas.error_responses(401, 403),
    )
    async def list_models(request: Request, token: TokenRecord | None = predict_role) -> Response:
        state = context(request).cache.state
        return json_response({"models": [_describe(state, name) for name in sorted(state.plans)]})

    @app.get(
        "/v1/models/{name}",
        tags=["models"],
        summary="What serves one model",
        responses=schemas.error_responses(
            401, 403, 404, 422, described={404: "No such model is served."}
        ),
    )
    async def get_model(
        name: ModelName, request: Request, token: TokenRecord | None = predict_role
    ) -> Response:
        state = context(request).cache.state
        if name not in state.plans:
            raise NotFound("model", name, hint="it has no champion and no running deployment")
        return json_response(_describe(state, name))


def _operations(app: FastAPI, metrics: ServingMetrics, *, private: bool) -> None:
    """Health, readiness and metrics: open, or behind the predict role when ``private``."""
    guard = [Depends(requires("predict"))] if private else []
    refusals = schemas.error_responses(401, 403) if private else {}

    @app.get(
        "/healthz",
        tags=["operations"],
        summary="The process answers",
        dependencies=guard,
        responses=refusals,
    )
    async def healthz() -> Response:
        return json_response({"status": "ok", "worker": os.getpid()})

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Every planned version is loaded",
        dependencies=guard,
        responses={**refusals, **schemas.error_responses(503, described={503: "Not ready."})},
    )
    async def readyz(request: Request) -> Response:
        found = getattr(request.app.state, "keel", None)
        if not isinstance(found, ServingContext):
            return json_response({"ready": False, "models": {}, "failures": {}}, 503)
        readiness = {**found.cache.readiness(), "worker": os.getpid()}
        return json_response(readiness, 200 if readiness["ready"] else 503)

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        dependencies=guard,
        responses=refusals,
    )
    async def prometheus() -> Response:
        # in a thread: the quality gauges may read the store, which must not stall predictions
        body = await run_in_threadpool(metrics.exposition)
        return Response(body, media_type=CONTENT_TYPE)


def _describe(state: Any, name: str) -> dict[str, Any]:
    plan = state.plans[name]
    versions = []
    for version in sorted({v for v in (plan.stable, plan.candidate) if v is not None}):
        live = state.live.get((name, version))
        if live is None:
            continue
        signature = live.served.loaded.signature
        versions.append(
            {
                "version": version,
                "sha256": live.served.sha256,
                "model_class": live.served.loaded.version.model_class,
                "input": live.served.input_kind,
                "signature": signature.to_dict() if signature is not None else None,
            }
        )
    return {**plan.to_dict(), "shadow": plan.shadow, "versions": versions}
