"""``keel deploy``, ``keel promote``, ``keel rollback`` and ``keel rollout
status|advance|watch|history``.

    keel deploy fraud --version 4 --strategy canary --steps 5,25,50,100 --interval 10m
    keel rollout watch fraud --every 30s --for 2h
    keel promote fraud 4 --reason "the canary held for a day"
    keel rollback fraud --reason "p99 latency doubled"

Options left out of ``keel deploy`` come from the model's stored policy (its rollout section).
Every command is a door onto the ``Rollouts`` service (``client.rollouts``), the same methods
the SDK, the management API and the dashboard call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from keel.cli.context import JsonOption, ReasonOption, client_of, limit_option
from keel.cli.output import console, print_json, print_table, when
from keel.errors import InvalidInput

if TYPE_CHECKING:
    from keel.rollout.results import RolloutStep

rollout_app = typer.Typer(
    help="Deployments under way: status, analysis, the controller.", no_args_is_help=True
)

ModelArgument = Annotated[str, typer.Argument(help="The model.")]
OptionalModel = Annotated[
    str | None, typer.Argument(help="The model (default: every model with a running deployment).")
]


def _steps(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise InvalidInput(
            "steps", f"{text!r} is not a list of percentages, e.g. 5,25,50,100"
        ) from exc


def _limits(pairs: list[str] | None) -> dict[str, Any] | None:
    import yaml

    if not pairs:
        return None
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput("limit", f"{pair!r} is not KEY=VALUE, e.g. max_rows=50000")
        out[key.strip()] = yaml.safe_load(value)
    return out


def deploy(
    ctx: typer.Context,
    model: ModelArgument,
    version: Annotated[int, typer.Option("--version", help="The version to deploy.")],
    strategy: Annotated[
        str | None, typer.Option("--strategy", "-s", help="replace, canary, ab or shadow.")
    ] = None,
    steps: Annotated[
        str | None, typer.Option("--steps", help="Candidate shares in percent, e.g. 5,25,50,100.")
    ] = None,
    interval: Annotated[
        str | None, typer.Option("--interval", help="Analysis window of a step, e.g. 10m.")
    ] = None,
    sticky: Annotated[
        bool | None,
        typer.Option("--sticky/--no-sticky", help="Keep each entity key on one variant."),
    ] = None,
    limit: Annotated[
        list[str] | None,
        typer.Option("--limit", help="Override an analysis limit: KEY=VALUE (repeatable)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace past a policy that refuses the version.")
    ] = False,
    reason: Annotated[
        str, typer.Option("--reason", "-r", help="Why; goes to the audit trail.")
    ] = "",
    json: JsonOption = False,
) -> None:
    """Deploy a version: at once (replace), by canary steps, as an A/B test, or in the shadow."""
    made = client_of(ctx).deploy(
        model,
        version,
        strategy=strategy,
        steps=_steps(steps),
        interval=interval,
        sticky=sticky,
        limits=_limits(limit),
        reason=reason,
        force=force,
    )
    compared = made.baselines or {}
    if compared and not compared.get("beats"):  # under every profile, even one with no gates
        from keel.cli.output import errors

        errors.print(f"warning: {compared['summary']}", markup=False)
    if json:
        print_json(made)
        return
    if made.status == "completed":
        console.print(f"{model}/{version} is champion (deployment #{made.id}, replace)")
        return
    shares = ", ".join(f"{s:g}" for s in made.steps)
    console.print(
        f"{model}/{version}: {made.strategy} deployment #{made.id} {made.status} at "
        f"{made.candidate_weight:g}% against {model}/{made.stable_version} (steps {shares}; "
        f"every {made.interval_s:g} s). Run `keel rollout watch {model}` to drive it.",
        markup=False,
    )


def rollback(
    ctx: typer.Context,
    model: ModelArgument,
    reason: ReasonOption,
    json: JsonOption = False,
) -> None:
    """All traffic back to the stable version now; with nothing deploying, the champion goes
    back to the version that held it before."""
    result = client_of(ctx).rollback(model, reason=reason)
    if json:
        print_json(result)
        return
    deployment = result.deployment
    if deployment is not None:
        console.print(
            f"{model}: deployment #{deployment.id} of version "
            f"{deployment.candidate_version} rolled back; {model}/{result.champion} "
            "serves all traffic",
            markup=False,
        )
    else:
        console.print(
            f"{model}: champion moved back from {result.replaced} to {result.champion}",
            markup=False,
        )


def promote(
    ctx: typer.Context,
    model: ModelArgument,
    version: Annotated[int, typer.Argument(help="The version to make champion.")],
    reason: ReasonOption,
    force: Annotated[
        bool, typer.Option("--force", help="Promote past the policy's gates (needs --reason).")
    ] = False,
    json: JsonOption = False,
) -> None:
    """Make VERSION champion now: the running deployment's candidate is promoted at once; any
    other version replaces the champion (a ``replace`` deployment under the policy's gates)."""
    action, deployment = client_of(ctx).promote(model, version, reason=reason, force=force)
    if json:
        print_json({"action": action, "deployment": deployment.to_dict()})
        return
    how = (
        f"deployment #{deployment.id} promoted"
        if action == "deployment_promoted"
        else f"replaced the champion (deployment #{deployment.id})"
    )
    console.print(f"{model}/{version} is champion: {how}", markup=False)


def _line(result: RolloutStep) -> str:
    after = result.deployment_after
    where = "" if after is None else f" (#{after.id} at {after.candidate_weight:g}%)"
    return f"{result.model}: {result.action}{where}" + (
        f": {'; '.join(result.reasons)}" if result.reasons else ""
    )


@rollout_app.command("status")
def status(ctx: typer.Context, model: ModelArgument, json: JsonOption = False) -> None:
    """The running deployment, its last analyses, and what the controller would do now."""
    found = client_of(ctx).deployment_status(model)
    if json:
        print_json(found)
        return
    deployment = found.deployment
    console.print(f"{model}: champion {found.champion}", markup=False)
    if deployment is None:
        console.print("no running deployment", markup=False)
        return
    console.print(
        f"deployment #{deployment.id}: {deployment.strategy} of version "
        f"{deployment.candidate_version} against {deployment.stable_version}, step "
        f"{deployment.step + 1} of {len(deployment.steps)} at "
        f"{deployment.candidate_weight:g}% since {when(deployment.step_started_at)}",
        markup=False,
    )
    print_table(
        ["when", "step", "share", "decision", "why"],
        (
            [
                when(e.get("at")),
                e.get("step", 0) + 1,
                e.get("weight"),
                e.get("decision"),
                "; ".join(e.get("reasons", [])),
            ]
            for e in deployment.analysis
        ),
        title="decisions",
    )
    upcoming = found.next
    console.print(f"next: {upcoming.action}: {'; '.join(upcoming.reasons)}", markup=False)
    split = upcoming.analysis.get("srm")
    if split and split.get("summary"):  # an A/B test: the split check, its unit and counts
        console.print(f"split check: {split['summary']}", markup=False)


@rollout_app.command("advance")
def advance(ctx: typer.Context, model: OptionalModel = None, json: JsonOption = False) -> None:
    """One controller step: wait, next step, promote, stop or roll back."""
    rollouts = client_of(ctx).rollouts
    results = rollouts.advance_all() if model is None else [rollouts.advance_rollout(model)]
    if json:
        print_json(results)
        return
    if not results:
        console.print("no running deployments", markup=False)
    for result in results:
        console.print(_line(result), markup=False)


@rollout_app.command("watch")
def watch(
    ctx: typer.Context,
    model: OptionalModel = None,
    every: Annotated[str, typer.Option("--every", help="Time between steps, e.g. 30s.")] = "30s",
    duration: Annotated[
        str, typer.Option("--for", help="Stop after this long, e.g. 2h (or when done).")
    ] = "10m",
    json: JsonOption = False,
) -> None:
    """Advance every few seconds for a while; watching one model ends when its deployment does."""
    import orjson

    from keel.domain.durations import parse_duration

    client = client_of(ctx)

    def show(result: RolloutStep) -> None:
        if json:
            typer.echo(orjson.dumps(result.to_dict(), default=str).decode())
        else:
            console.print(_line(result), markup=False)

    client.rollouts.watch(
        model,
        every_s=parse_duration(every, "every").total_seconds(),
        duration_s=parse_duration(duration, "for").total_seconds(),
        on_result=show,
    )


@rollout_app.command("history")
def history(
    ctx: typer.Context,
    model: ModelArgument,
    limit: Annotated[int, limit_option("--limit", "-n", help="How many, newest first.")] = 20,
    json: JsonOption = False,
) -> None:
    """The model's deployments, newest first."""
    found = client_of(ctx).deployments(model, limit)
    if json:
        print_json(found)
        return
    print_table(
        ["id", "strategy", "version", "stable", "status", "share", "started", "by", "reason"],
        (
            [
                d.id,
                d.strategy,
                d.candidate_version,
                d.stable_version,
                d.status,
                d.candidate_weight,
                when(d.created_at),
                d.created_by,
                d.reason,
            ]
            for d in found
        ),
        title=f"deployments of {model}",
    )
