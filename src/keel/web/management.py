"""``/v1/manage``: changing what serves over HTTP, for people and CI with an API token.

- ``POST /v1/manage/models/{name}/deploy`` (role ``deploy``): start a deployment (replace,
  canary, A/B, shadow) through ``keel.rollout.actions.deploy``;
- ``POST /v1/manage/models/{name}/rollback`` (role ``deploy``): send all traffic back;
- ``PUT /v1/manage/models/{name}/aliases/{alias}`` (role ``deploy``): point an alias at a
  version;
- ``GET /v1/manage/models/{name}/deployments`` (role ``predict``): the deployments, newest first;
- ``POST /v1/manage/models/{name}/versions`` (role ``admin``): register a version uploaded as a
  skops file.

Every change needs a ``reason`` and is recorded with the token's name as the actor (the server's
user while no token exists). Forcing past the model's policy (``force``) needs role ``admin``: it
overrides a gate, which is a governance decision, not a deployment one.

Registering over HTTP accepts skops files only, loaded with the registry's trust rules
(scikit-learn's own types and skops' defaults; anything else is refused with 422): a cloudpickle
upload would run code on load, which would turn a token into a way to run code on every serving
host. Other models are registered with the SDK or ``keel`` from a trusted pipeline.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from keel.registry import tokens
from keel.registry.tokens import TokenRecord
from keel.serving.app import ServingContext, context
from keel.serving.auth import Forbidden, requires
from keel.serving.http import json_response

router = APIRouter(prefix="/v1/manage", tags=["manage"])

Reason = Annotated[str, Field(min_length=1, max_length=2000, description="Why; audited.")]
ModelName = Annotated[str, Path(min_length=1, max_length=200)]


class DeployRequest(BaseModel):
    version: int = Field(ge=1)
    strategy: str = Field(description="replace, canary, ab or shadow")
    steps: list[float] | None = Field(None, description="Candidate traffic shares in percent.")
    interval_s: float = Field(600.0, gt=0)
    sticky: bool = False
    limits: dict[str, Any] | None = None
    reason: Reason
    force: bool = Field(False, description="Replace past the policy (role admin).")


class RollbackRequest(BaseModel):
    reason: Reason


class AliasRequest(BaseModel):
    version: int = Field(ge=1)
    reason: Reason
    force: bool = Field(False, description="Promote past the policy's gates (role admin).")


def _actor(ctx: ServingContext, token: TokenRecord | None) -> str:
    return token.name if token is not None else ctx.settings.actor


def _admin_for_force(force: bool, token: TokenRecord | None) -> None:
    if force and token is not None and not tokens.allows(token.role, "admin"):
        raise Forbidden(
            "forcing past the model's policy needs an admin token", role="admin", held=token.role
        )


async def _run(function: Any, *args: Any, **kwargs: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(function, *args, **kwargs)


@router.post("/models/{name}/deploy", summary="Start a deployment")
async def deploy(
    name: ModelName,
    body: DeployRequest,
    request: Request,
    token: TokenRecord | None = Depends(requires("deploy")),  # noqa: B008
) -> Response:
    from keel.rollout.actions import deploy as start

    _admin_for_force(body.force, token)
    ctx = context(request)
    deployment = await _run(
        start,
        ctx.db,
        _actor(ctx, token),
        name,
        body.version,
        strategy=body.strategy,
        steps=body.steps,
        interval_s=body.interval_s,
        sticky=body.sticky,
        limits=body.limits,
        reason=body.reason,
        force=body.force,
    )
    return json_response(deployment.to_dict())


@router.post("/models/{name}/rollback", summary="Send all traffic back to the stable version")
async def rollback(
    name: ModelName,
    body: RollbackRequest,
    request: Request,
    token: TokenRecord | None = Depends(requires("deploy")),  # noqa: B008
) -> Response:
    from keel.rollout.actions import rollback as roll_back

    ctx = context(request)
    outcome = await _run(roll_back, ctx.db, _actor(ctx, token), name, reason=body.reason)
    return json_response(outcome)


@router.put("/models/{name}/aliases/{alias}", summary="Point an alias at a version")
async def set_alias(
    name: ModelName,
    alias: Annotated[str, Path(min_length=1, max_length=200)],
    body: AliasRequest,
    request: Request,
    token: TokenRecord | None = Depends(requires("deploy")),  # noqa: B008
) -> Response:
    from keel.registry import aliases

    _admin_for_force(body.force, token)
    ctx = context(request)
    target = await _run(
        aliases.set_alias,
        ctx.db,
        _actor(ctx, token),
        name,
        alias,
        body.version,
        body.reason,
        force=body.force,
    )
    return json_response({"model": name, "alias": alias, "version": target.to_dict()})


@router.get("/models/{name}/deployments", summary="Deployments of a model, newest first")
async def list_deployments(
    name: ModelName,
    request: Request,
    limit: int = 50,
    token: TokenRecord | None = Depends(requires("predict")),  # noqa: B008
) -> Response:
    from keel.registry import deployments

    ctx = context(request)
    found = await _run(deployments.history, ctx.db, name, min(max(limit, 1), 500))
    return json_response({"model": name, "deployments": [d.to_dict() for d in found]})


#: the largest model file accepted over HTTP
MAX_UPLOAD_BYTES = 512 * 1024 * 1024


@router.post(
    "/models/{name}/versions",
    summary="Register a version from a skops file (role admin)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
            "required": True,
        }
    },
)
async def register_version(
    name: ModelName,
    request: Request,
    reason: Annotated[str, Query(min_length=1, max_length=2000)],
    training_data: Annotated[str | None, Query(description="A snapshot reference.")] = None,
    target: Annotated[str | None, Query(description="The label column of the snapshot.")] = None,
    description: Annotated[str, Query(max_length=2000)] = "",
    token: TokenRecord | None = Depends(requires("admin")),  # noqa: B008
) -> Response:
    from keel.client import Client
    from keel.errors import InvalidInput, UntrustedArtifact
    from keel.registry.serialization import SKOPS, load
    from keel.store.artifacts import sha256_hex

    data = await request.body()
    if not data:
        raise InvalidInput("body", "send the model as a skops file (application/octet-stream)")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput("body", f"the model file is larger than {MAX_UPLOAD_BYTES:,} bytes")
    try:
        model = load(data, SKOPS, sha256=sha256_hex(data))
    except UntrustedArtifact as exc:
        raise InvalidInput("body", exc.message, types=exc.fields.get("types")) from exc
    except Exception as exc:  # skops raises many kinds of error on a file that is not its own
        raise InvalidInput("body", f"not a readable skops file: {exc}") from exc
    ctx = context(request)
    settings = ctx.settings.model_copy(update={"actor": _actor(ctx, token)})

    def register() -> Any:
        with Client(settings=settings) as client:
            return client.register_model(
                name,
                model,
                training_data=training_data,
                target=target,
                description=description,
                tags={"registered_over": "http", "reason": reason},
            )

    version = await _run(register)
    return json_response(version.to_dict())
