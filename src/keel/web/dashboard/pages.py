"""The dashboard's pages (HTML). Each page reads what it shows through the services' read
methods, a few bounded queries each: monitoring windows for every series, never the raw
prediction log."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from keel.errors import InvalidInput, KeelError
from keel.evaluation.report import to_html
from keel.serving.http import status_of
from keel.web.dashboard import audit_view, drift_view, model_view, overview, version_view
from keel.web.dashboard.state import dashboard_of
from keel.web.dashboard.viewer import page_viewer

router = APIRouter(dependencies=[Depends(page_viewer)])

ModelName = Annotated[str, Path(min_length=1, max_length=200)]


def _html(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    board = dashboard_of(request.app)
    base = request.scope.get("root_path", "").rstrip("/")
    viewer = getattr(request.state, "viewer", None)
    text = board.renderer.page(template, base=base, viewer=viewer, **context)
    return HTMLResponse(text, status_code=status)


def _error_page(request: Request, error: KeelError) -> HTMLResponse:
    status = status_of(error)
    return _html(request, "error.html", status=status, error=error, status_code=status)


def _page(
    request: Request, template: str, read: Callable[..., Any], *args: Any, **context: Any
) -> HTMLResponse:
    """``template`` showing ``read(services, *args)`` as ``page``, or the error page of what
    ``read`` refused (an unknown model is a 404 page, not a traceback)."""
    board = dashboard_of(request.app)
    try:
        page = read(board.services, *args)
    except KeelError as exc:
        return _error_page(request, exc)
    return _html(request, template, page=page, **context)


@router.get("/", response_class=HTMLResponse)
def models_page(request: Request) -> HTMLResponse:
    board = dashboard_of(request.app)
    return _html(request, "models.html", models=overview.models_overview(board.services))


@router.get("/models/{name}", response_class=HTMLResponse)
def model_page(request: Request, name: ModelName) -> HTMLResponse:
    return _page(request, "model.html", model_view.model_page, name)


@router.get("/models/{name}/versions/{version}", response_class=HTMLResponse)
def version_page(request: Request, name: ModelName, version: int) -> HTMLResponse:
    return _page(request, "version.html", version_view.version_page, name, version)


@router.get("/models/{name}/windows/{window_id}", response_class=HTMLResponse)
def window_page(request: Request, name: ModelName, window_id: int) -> HTMLResponse:
    return _page(request, "window.html", drift_view.window_page, name, window_id)


@router.get("/evaluations/{evaluation_id}", response_class=HTMLResponse)
def evaluation_report(request: Request, evaluation_id: Annotated[int, Path(ge=1)]) -> HTMLResponse:
    """The stored evaluation's full report, rebuilt from the store (as `keel evaluations
    report` does)."""
    board = dashboard_of(request.app)
    try:
        evaluation, outcome = board.services.governance.get_evaluation(evaluation_id)
    except KeelError as exc:
        return _error_page(request, exc)
    return HTMLResponse(to_html(evaluation, outcome))


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    model: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=256)] = None,
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    board = dashboard_of(request.app)
    try:
        page = audit_view.audit_page(
            board.services,
            model=model or None,
            action=action or None,
            actor=actor or None,
            since=_moment(since, "since"),
            until=_moment(until, "until"),
            before_seq=before,
        )
    except KeelError as exc:
        return _error_page(request, exc)
    verified, verifying = board.chain.current()
    age = "" if verified is None else _age(time.monotonic() - verified.at)
    return _html(
        request,
        "audit.html",
        page=page,
        verified=verified,
        verifying=verifying,
        verified_age=age,
    )


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _moment(text: str | None, field: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(field, f"{text!r} is not a date or time (YYYY-MM-DD[THH:MM])") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
