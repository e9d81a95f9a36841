"""The dashboard's actions (JSON): deploy, promote, roll back, move an alias, start a retrain,
acknowledge an alert.

Each needs a token of role ``deploy`` or higher once tokens exist (as every management endpoint
does), sent as a bearer header or as the cookie ``POST /api/session`` sets, and a reason that
goes to the audit trail with the token's name as the actor. Forcing past the model's gates (a
deployment, a promotion or a champion move) needs ``admin``.

Each action is a door onto a service method (``Rollouts.deploy``, ``promote``, ``rollback``;
``Registry.set_alias``; ``Monitoring.acknowledge_alert``; the autopilot's ``request``), the same
the SDK, the CLI and the management API call, over the dashboard's services (its own stores,
or those of the serving app it is mounted in) acting as the token's holder.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field, WithJsonSchema

from keel.domain.deployments import Strategy
from keel.registry.tokens import TokenRecord
from keel.services import Services
from keel.serving.auth import Unauthorized, admin_for_force
from keel.serving.http import json_response
from keel.web.bodies import AliasName, AliasRequest, PromoteRequest, Reason, ReasonRequest, Version
from keel.web.dashboard.state import dashboard_of
from keel.web.dashboard.viewer import COOKIE, needs, token_of

router = APIRouter(prefix="/api")

ModelName = Annotated[str, Path(min_length=1, max_length=200)]
DEPLOY = needs("deploy")


class DeployRequest(BaseModel):
    version: Version
    # left out (or null): the policy's; the schema lists the strategies a client may send
    strategy: Annotated[
        Strategy | None,
        WithJsonSchema({"type": "string", "enum": list(get_args(Strategy))}),
    ] = Field(None, description="How the candidate reaches traffic (left out: the policy's).")
    reason: Reason
    force: bool = Field(False, description="Replace past the model's gates (role admin).")


def _services(request: Request, token: TokenRecord | None) -> Services:
    """The dashboard's services acting as the token's holder (the same open stores); with no
    token, as the stores' own actor."""
    services = dashboard_of(request.app).services
    return services.acting_as(token.name) if token is not None else services


@router.post("/models/{name}/deploy")
async def deploy(
    name: ModelName,
    body: DeployRequest,
    request: Request,
    token: TokenRecord | None = Depends(DEPLOY),  # noqa: B008
) -> Response:
    """Start a deployment of ``version``; what the body leaves out (the strategy, its steps,
    interval and stickiness) comes from the model's policy."""
    admin_for_force(body.force, token)
    rollouts = _services(request, token).rollouts
    deployment = await asyncio.to_thread(
        rollouts.deploy,
        name,
        body.version,
        strategy=body.strategy,
        reason=body.reason,
        force=body.force,
    )
    return json_response({"action": "deployment_started", "deployment": deployment.to_dict()})


@router.post("/models/{name}/promote")
async def promote(
    name: ModelName,
    body: PromoteRequest,
    request: Request,
    token: TokenRecord | None = Depends(DEPLOY),  # noqa: B008
) -> Response:
    """Make ``version`` champion: the running deployment's candidate is promoted now; any
    other version replaces the champion through a ``replace`` deployment."""
    admin_for_force(body.force, token)
    rollouts = _services(request, token).rollouts
    action, deployment = await asyncio.to_thread(
        rollouts.promote, name, body.version, reason=body.reason, force=body.force
    )
    return json_response({"action": action, "deployment": deployment.to_dict()})


@router.post("/models/{name}/rollback")
async def rollback(
    name: ModelName,
    body: ReasonRequest,
    request: Request,
    token: TokenRecord | None = Depends(DEPLOY),  # noqa: B008
) -> Response:
    rollouts = _services(request, token).rollouts
    outcome = await asyncio.to_thread(rollouts.rollback, name, reason=body.reason)
    return json_response(outcome.to_dict())


@router.put("/models/{name}/aliases/{alias}")
async def set_alias(
    name: ModelName,
    alias: AliasName,
    body: AliasRequest,
    request: Request,
    token: TokenRecord | None = Depends(DEPLOY),  # noqa: B008
) -> Response:
    """Point ``alias`` at ``version``; moving ``champion`` obeys the model's policy unless
    forced (role admin), and the move is in the alias history and the audit trail."""
    admin_for_force(body.force, token)
    registry = _services(request, token).registry
    target = await asyncio.to_thread(
        registry.set_alias, name, alias, body.version, reason=body.reason, force=body.force
    )
    return json_response({"model": name, "alias": alias, "version": target.to_dict()})


@router.post("/models/{name}/retrain")
async def retrain(
    name: ModelName,
    body: ReasonRequest,
    request: Request,
    token: TokenRecord | None = Depends(DEPLOY),  # noqa: B008
) -> Response:
    """Queue a manual retrain; the autopilot (`keel autopilot`) runs it on its next pass."""
    from keel.controller.autopilot import Autopilot

    services = _services(request, token)
    client_class = dashboard_of(request.app).client_class

    def run() -> dict[str, Any]:
        pilot = Autopilot(services, client_class=client_class, monitor=False)
        queued = pilot.request(name, reason=body.reason)
        return {"action": "retrain_queued", "retrain": queued.to_dict()}

    return json_response(await asyncio.to_thread(run))


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge(
    alert_id: Annotated[int, Path(ge=1)],
    body: ReasonRequest,
    request: Request,
    token: TokenRecord | None = Depends(DEPLOY),  # noqa: B008
) -> Response:
    monitoring = _services(request, token).monitoring
    record = await asyncio.to_thread(monitoring.acknowledge_alert, alert_id, reason=body.reason)
    return json_response({"action": "alert_acknowledged", "alert": record.to_dict()})


class SessionRequest(BaseModel):
    token: str = Field(min_length=1, max_length=500)


@router.post("/session")
async def sign_in(body: SessionRequest, request: Request) -> Response:
    """Check a token and keep it in an HttpOnly cookie for this dashboard's pages."""
    gate = dashboard_of(request.app).gate()
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
