"""The dashboard's actions (JSON): promote, roll back, start a retrain, acknowledge an alert.

Each needs a token of role ``deploy`` or higher once tokens exist (as every management endpoint
does), sent as a bearer header or as the cookie ``POST /api/session`` sets, and a reason that
goes to the audit trail with the token's name as the actor. Forcing a promotion past the model's
gates needs ``admin``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field

from keel.registry import tokens
from keel.registry.tokens import TokenRecord
from keel.serving.auth import Forbidden, Unauthorized
from keel.serving.http import json_response
from keel.web.dashboard.state import dashboard_of
from keel.web.dashboard.viewer import COOKIE, needs, token_of

router = APIRouter(prefix="/api")

Reason = Annotated[str, Field(min_length=1, max_length=2000, description="Why; audited.")]
ModelName = Annotated[str, Path(min_length=1, max_length=200)]
DEPLOY = needs("deploy")


class PromoteRequest(BaseModel):
    version: int = Field(ge=1)
    reason: Reason
    force: bool = Field(False, description="Promote past the model's gates (role admin).")


class ReasonRequest(BaseModel):
    reason: Reason


def _actor(request: Request, token: TokenRecord | None) -> str:
    return token.name if token is not None else dashboard_of(request.app).client.actor


@router.post("/models/{name}/promote")
async def promote(
    name: ModelName,
    body: PromoteRequest,
    request: Request,
    token: TokenRecord | None = Depends(DEPLOY),  # noqa: B008
) -> Response:
    """Make ``version`` champion: the running deployment's candidate is promoted now; any
    other version replaces the champion through a ``replace`` deployment."""
    from keel.registry import deployments
    from keel.rollout import actions

    if body.force and token is not None and not tokens.allows(token.role, "admin"):
        raise Forbidden(
            "forcing past the model's gates needs an admin token", role="admin", held=token.role
        )
    client = dashboard_of(request.app).client
    db, artifacts = client.db, client.artifacts
    actor = _actor(request, token)

    def run() -> dict[str, Any]:
        running = deployments.running(db, name)
        if running is not None and running.candidate_version == body.version:
            done = actions.promote(
                db, actor, running, reason=body.reason, force=body.force, artifacts=artifacts
            )
            return {"action": "deployment_promoted", "deployment": done.to_dict()}
        started = actions.deploy(
            db,
            actor,
            name,
            body.version,
            strategy="replace",
            reason=body.reason,
            force=body.force,
            artifacts=artifacts,
        )
        return {"action": "champion_replaced", "deployment": started.to_dict()}

    return json_response(await asyncio.to_thread(run))


@router.post("/models/{name}/rollback")
async def rollback(
    name: ModelName,
    body: ReasonRequest,
    request: Request,
    token: TokenRecord | None = Depends(DEPLOY),  # noqa: B008
) -> Response:
    from keel.rollout.actions import rollback as roll_back

    db = dashboard_of(request.app).client.db
    outcome = await asyncio.to_thread(
        roll_back, db, _actor(request, token), name, reason=body.reason
    )
    return json_response(outcome)


@router.post("/models/{name}/retrain")
async def retrain(
    name: ModelName,
    body: ReasonRequest,
    request: Request,
    token: TokenRecord | None = Depends(DEPLOY),  # noqa: B008
) -> Response:
    """Queue a manual retrain; the autopilot (`keel autopilot`) runs it on its next pass."""
    from keel.controller.autopilot import Autopilot

    client = dashboard_of(request.app).client

    def run() -> dict[str, Any]:
        pilot = Autopilot(client, monitor=False)
        queued = pilot.request(name, reason=body.reason, actor=_actor(request, token))
        return {"action": "retrain_queued", "retrain": queued.to_dict()}

    return json_response(await asyncio.to_thread(run))


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge(
    alert_id: Annotated[int, Path(ge=1)],
    body: ReasonRequest,
    request: Request,
    token: TokenRecord | None = Depends(DEPLOY),  # noqa: B008
) -> Response:
    from keel.monitoring.alerts import acknowledge as ack

    db = dashboard_of(request.app).client.db
    record = await asyncio.to_thread(ack, db, _actor(request, token), alert_id, body.reason)
    return json_response({"action": "alert_acknowledged", "alert": record.to_dict()})


class SessionRequest(BaseModel):
    token: str = Field(min_length=1, max_length=500)


@router.post("/session")
async def sign_in(body: SessionRequest, request: Request) -> Response:
    """Check a token and keep it in an HttpOnly cookie for this dashboard's pages."""
    gate = request.app.state.keel_gate
    record = await gate.record(body.token.strip())
    if record is None:
        raise Unauthorized("the API token is unknown or revoked")
    answer = json_response({"name": record.name, "role": record.role})
    answer.set_cookie(
        COOKIE,
        body.token.strip(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=_cookie_path(request),
    )
    return answer


@router.post("/session/end")
async def sign_out(request: Request) -> Response:
    answer = json_response({"signed_in": token_of(request) is not None})
    answer.delete_cookie(COOKIE, path=_cookie_path(request))
    return answer


def _cookie_path(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/") + "/"
