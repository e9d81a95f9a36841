"""``/v1/manage``: changing what serves over HTTP, for people and CI with an API token.

- ``POST /v1/manage/models/{name}/deploy`` (role ``deploy``): start a deployment (replace,
  canary, A/B, shadow);
- ``POST /v1/manage/models/{name}/promote`` (role ``deploy``): make a version champion now (the
  running deployment's candidate is promoted; any other version replaces the champion);
- ``POST /v1/manage/models/{name}/rollback`` (role ``deploy``): send all traffic back;
- ``PUT /v1/manage/models/{name}/aliases/{alias}`` (role ``deploy``): point an alias at a
  version;
- ``GET /v1/manage/models/{name}/deployments`` (role ``predict``): the deployments, newest first;
- ``POST /v1/manage/models/{name}/versions`` (role ``admin``): register a version uploaded as a
  skops file.

Each endpoint is a door onto a service method (``Rollouts.deploy``, ``promote``, ``rollback``,
``deployments``; ``Registry.set_alias``, ``register_model``), the same the SDK, the CLI and the
dashboard call, over the app's open stores. Every change needs a ``reason`` and is recorded with
the token's name as the actor (the server's user while no token exists). Forcing past the
model's policy (``force``) needs role ``admin``: it overrides a gate, which is a governance
decision, not a deployment one.

Registering over HTTP needs an admin token (403 while the server has none) and accepts skops files
only. The file's types are read from its schema and checked before anything is built from it:
skops' safe types and the tree structures Keel reviewed load; any other type must be named in
``trust`` by the admin, a decision recorded with the version and audited. A cloudpickle upload
would run code on load, turning a token into a way to run code on every serving host, so it is
never accepted here; such models are registered with the SDK or ``keel models register
--trust-code`` by someone who can run code anyway.
"""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from keel.domain.deployments import Strategy
from keel.domain.names import NAME_PATTERN
from keel.errors import KeelError
from keel.registry.tokens import TokenRecord
from keel.services import Services
from keel.serving.auth import AuthFirstRoute, Forbidden, admin_for_force, requires
from keel.serving.context import ServingContext, context
from keel.serving.http import json_response
from keel.serving.schemas import error_responses
from keel.web.bodies import AliasName, AliasRequest, PromoteRequest, Reason, ReasonRequest, Version

#: every route checks the token before it reads the body (see ``AuthFirstRoute``)
router = APIRouter(prefix="/v1/manage", tags=["manage"], route_class=AuthFirstRoute)

ModelName = Annotated[str, Path(pattern=NAME_PATTERN, description="A registered model's name.")]
#: what every change can answer besides 200 (400: a body that cannot be parsed at all)
CHANGE_ERRORS = error_responses(400, 401, 403, 404, 409, 422, 503)


class DeployRequest(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)

    version: Version
    # left out (or null): the policy's; the schema lists the strategies a client may send
    strategy: Annotated[
        Strategy | None,
        WithJsonSchema({"type": "string", "enum": list(get_args(Strategy))}),
    ] = Field(None, description="How the candidate reaches traffic (left out: the policy's).")
    steps: list[float] | None = Field(
        None, description="Candidate traffic shares in percent (default: the policy's)."
    )
    interval_s: float | None = Field(
        None, gt=0, description="Seconds per step (default: the policy's interval)."
    )
    sticky: bool | None = Field(
        None, description="Keep each entity key on one variant (default: the policy's)."
    )
    limits: dict[str, Any] | None = None
    reason: Reason
    force: bool = Field(False, description="Replace past the policy (role admin).")


def _actor(ctx: ServingContext, token: TokenRecord | None) -> str:
    return token.name if token is not None else ctx.settings.actor


def _services(request: Request, token: TokenRecord | None) -> Services:
    """The services over the app's open stores, acting as the token's holder (no new
    connection: ``acting_as`` shares the app's pool)."""
    ctx = context(request)
    if ctx.stores is None:
        raise KeelError("the server is still starting")
    return Services.over(ctx.stores.acting_as(_actor(ctx, token)))


async def _run(function: Any, *args: Any, **kwargs: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(function, *args, **kwargs)


@router.post("/models/{name}/deploy", summary="Start a deployment", responses=CHANGE_ERRORS)
async def deploy(
    name: ModelName,
    body: DeployRequest,
    request: Request,
    token: TokenRecord | None = Depends(requires("deploy")),  # noqa: B008
) -> Response:
    admin_for_force(body.force, token)
    rollouts = _services(request, token).rollouts
    deployment = await _run(
        rollouts.deploy,
        name,
        body.version,
        strategy=body.strategy,
        steps=body.steps,
        interval=body.interval_s,
        sticky=body.sticky,
        limits=body.limits,
        reason=body.reason,
        force=body.force,
    )
    return json_response(deployment.to_dict())


@router.post(
    "/models/{name}/promote",
    summary="Make a version champion now",
    description="The running deployment's candidate is promoted at once; any other version "
    "replaces the champion through a `replace` deployment under the model's gates. "
    "`force` (role admin) promotes past them; the override is audited.",
    responses=CHANGE_ERRORS,
)
async def promote(
    name: ModelName,
    body: PromoteRequest,
    request: Request,
    token: TokenRecord | None = Depends(requires("deploy")),  # noqa: B008
) -> Response:
    admin_for_force(body.force, token)
    rollouts = _services(request, token).rollouts
    action, deployment = await _run(
        rollouts.promote, name, body.version, reason=body.reason, force=body.force
    )
    return json_response({"action": action, "deployment": deployment.to_dict()})


@router.post(
    "/models/{name}/rollback",
    summary="Send all traffic back to the stable version",
    responses=CHANGE_ERRORS,
)
async def rollback(
    name: ModelName,
    body: ReasonRequest,
    request: Request,
    token: TokenRecord | None = Depends(requires("deploy")),  # noqa: B008
) -> Response:
    rollouts = _services(request, token).rollouts
    outcome = await _run(rollouts.rollback, name, reason=body.reason)
    return json_response(outcome.to_dict())


@router.put(
    "/models/{name}/aliases/{alias}",
    summary="Point an alias at a version",
    responses=CHANGE_ERRORS,
)
async def set_alias(
    name: ModelName,
    alias: AliasName,
    body: AliasRequest,
    request: Request,
    token: TokenRecord | None = Depends(requires("deploy")),  # noqa: B008
) -> Response:
    admin_for_force(body.force, token)
    registry = _services(request, token).registry
    target = await _run(
        registry.set_alias, name, alias, body.version, reason=body.reason, force=body.force
    )
    return json_response({"model": name, "alias": alias, "version": target.to_dict()})


@router.get(
    "/models/{name}/deployments",
    summary="Deployments of a model, newest first",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def list_deployments(
    name: ModelName,
    request: Request,
    limit: int = 50,
    token: TokenRecord | None = Depends(requires("predict")),  # noqa: B008
) -> Response:
    rollouts = _services(request, token).rollouts
    found = await _run(rollouts.deployments, name, min(max(limit, 1), 500))
    return json_response({"model": name, "deployments": [d.to_dict() for d in found]})


#: the largest model file accepted over HTTP
MAX_UPLOAD_BYTES = 512 * 1024 * 1024


@router.post(
    "/models/{name}/versions",
    summary="Register a version from a skops file (role admin)",
    responses=error_responses(401, 403, 404, 409, 422, 503),
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
    trust: Annotated[
        list[str] | None,
        Query(
            description="Exact type names the file needs beyond the default trusted types, "
            "trusted by this token's holder (recorded and audited)."
        ),
    ] = None,
    token: TokenRecord | None = Depends(requires("admin")),  # noqa: B008
) -> Response:
    from keel.domain.trust import parse_trust
    from keel.errors import InvalidInput, UntrustedArtifact
    from keel.registry.serialization import SKOPS, load
    from keel.store.artifacts import sha256_hex

    if token is None:  # no token exists yet: an open server must not take models from anyone
        raise Forbidden(
            "registering a model over HTTP needs an admin token, and this server has none yet; "
            "create one with `keel token create NAME --role admin`",
            role="admin",
            held=None,
        )
    request_trust = parse_trust(trust or [], "trust")
    data = await request.body()
    if not data:
        raise InvalidInput("body", "send the model as a skops file (application/octet-stream)")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput("body", f"the model file is larger than {MAX_UPLOAD_BYTES:,} bytes")
    try:  # the file's types are checked against the trust before anything is built from it
        model = await _run(load, data, SKOPS, sha256=sha256_hex(data), trust=request_trust)
    except UntrustedArtifact as exc:
        raise InvalidInput(
            "body",
            f"{exc.fields['types']} are not trusted; if you trust them, repeat the request with "
            "trust=TYPE for each (an admin's recorded decision)",
            types=exc.fields.get("types"),
        ) from exc
    except InvalidInput as exc:
        raise InvalidInput("body", exc.fields.get("problem", exc.message)) from exc
    registry = _services(request, token).registry
    version = await _run(
        registry.register_model,
        name,
        model,
        training_data=training_data,
        target=target,
        description=description,
        tags={"registered_over": "http", "reason": reason},
        trust=list(request_trust.types) or None,
    )
    return json_response(version.to_dict())
