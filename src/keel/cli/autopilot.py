"""``keel autopilot``, ``keel retrain``, ``keel retrains`` and ``keel pipelines``.

keel autopilot --once                    # one reconcile pass, for cron
keel autopilot --every 1m                # long-running
keel retrain credit --reason "new bureau data"
keel retrain credit --takeover           # drive on the retrain a killed process left in flight
keel retrains credit                     # what fired, what the gates said, how it ended
keel pipelines show RUN_ID               # every step's inputs, output, cache and timing
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from keel.cli.context import JsonOption, ReasonOption, client_of, limit_option
from keel.cli.output import console, print_json, print_table, short, when

if TYPE_CHECKING:
    from keel.controller.autopilot import Decision

pipelines_app = typer.Typer(help="Pipeline runs: steps, lineage, cache.", no_args_is_help=True)

ModelsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--model", "-m", help="Only this model (repeatable; default: every governed model)."
    ),
]


def _show(decision: Decision, json: bool) -> None:
    if json:
        import orjson

        typer.echo(orjson.dumps(decision.to_dict(), default=str).decode())
        return
    retrain = f" #{decision.retrain}" if decision.retrain is not None else ""
    console.print(f"{decision.model}{retrain}: {decision.action}: {decision.reason}", markup=False)


def autopilot(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One reconcile pass, then exit.")] = False,
    every: Annotated[str, typer.Option("--every", help="Time between passes, e.g. 1m.")] = "1m",
    duration: Annotated[
        str | None, typer.Option("--for", help="Stop after this long (default: never).")
    ] = None,
    model: ModelsOption = None,
    lease: Annotated[
        str | None,
        typer.Option(
            "--lease",
            help="How long a retrain's lease lasts past its newest heartbeat, so how soon "
            "another autopilot takes over from a killed one (default: 3 heartbeats of 5 s).",
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Keep every governed model healthy: monitor, retrain on the policy's triggers, gate, roll
    out, promote or roll back; every decision is printed and audited with its reason."""
    from keel.controller.autopilot import Autopilot
    from keel.domain.durations import parse_duration

    client = client_of(ctx)
    pilot = Autopilot(
        client, lease_s=parse_duration(lease, "lease").total_seconds() if lease else None
    )
    every_s = parse_duration(every, "every").total_seconds()  # checked with --once too
    duration_s = parse_duration(duration, "for").total_seconds() if duration else None
    named = None if model is None else client.registry.known_models(model, "model")
    if once:
        for decision in pilot.reconcile_all(models=named):
            _show(decision, json)
        return
    pilot.run(
        every_s=every_s, duration_s=duration_s, models=named, on_decision=lambda d: _show(d, json)
    )


def retrain(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The model.")],
    reason: ReasonOption = "",
    queue: Annotated[
        bool, typer.Option("--queue", help="Only queue it; the next autopilot pass runs it.")
    ] = False,
    takeover: Annotated[
        bool,
        typer.Option(
            "--takeover",
            help="Drive the retrain in flight from here if the process holding it stopped its "
            "heartbeat (killed); refused while that heartbeat is live.",
        ),
    ] = False,
    json: JsonOption = False,
) -> None:
    """Retrain now (no trigger needed): train, gate and roll out under the model's policy."""
    found = client_of(ctx).retrain(model, reason=reason, run=not queue, takeover=takeover)
    for decision in found:
        _show(decision, json)
    if any(d.action in FAILED_ACTIONS for d in found):  # a script must see that it did not work
        raise typer.Exit(1)


#: decisions that mean this attempt did not work (``retry``: the autopilot tries again later);
#: a rejected candidate is the gates working, not a failure
FAILED_ACTIONS = frozenset({"failed", "retry", "error"})


def retrains(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Argument(help="The model (default: all).")] = None,
    limit: Annotated[int, limit_option("--limit", "-n", help="How many, newest first.")] = 20,
    json: JsonOption = False,
) -> None:
    """Retrains, newest first: trigger, state, candidate, outcome."""
    found = client_of(ctx).retrains(model, limit=limit)
    if json:
        print_json([r.to_dict() for r in found])
        return
    print_table(
        ["id", "model", "started", "trigger", "state", "candidate", "run", "outcome"],
        (
            [
                r.id,
                r.model,
                when(r.created_at),
                r.trigger,
                r.state,
                r.candidate_version,
                short(r.pipeline_run_id, 8),
                r.outcome or r.reason,
            ]
            for r in found
        ),
    )


@pipelines_app.command("runs")
def runs(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Only this model.")] = None,
    limit: Annotated[int, limit_option("--limit", "-n", help="How many, newest first.")] = 20,
    json: JsonOption = False,
) -> None:
    """Pipeline runs, newest first."""
    found = client_of(ctx).pipeline_runs(model, limit=limit)
    if json:
        print_json([r.to_dict() for r in found])
        return
    print_table(
        ["run", "pipeline", "model", "status", "started", "steps", "error"],
        (
            [
                r.id,
                r.pipeline,
                r.model,
                r.status,
                when(r.started_at),
                " ".join(f"{s.name}:{s.status}" for s in r.steps),
                r.error,
            ]
            for r in found
        ),
    )


@pipelines_app.command("show")
def show(
    ctx: typer.Context,
    run_id: Annotated[
        str, typer.Argument(help="The run id, or its first characters (at least 4).")
    ],
    json: JsonOption = False,
) -> None:
    """One run's steps: inputs (fingerprints), output, cache hits, timing, errors."""
    run = client_of(ctx).pipeline_run(run_id)
    if json:
        print_json(run.to_dict())
        return
    console.print(f"run {run.id}: {run.pipeline} ({run.status}, {run.executor})", markup=False)
    print_table(
        ["step", "status", "inputs", "output", "from cache of", "seconds", "error"],
        (
            [
                s.name,
                s.status,
                ", ".join(f"{k}={short(v.get('fingerprint'), 8)}" for k, v in s.inputs.items()),
                (s.output or {}).get("type"),
                short(s.cached_from, 8),
                round((s.ended_at - s.started_at).total_seconds(), 2)
                if s.started_at and s.ended_at
                else None,
                s.error,
            ]
            for s in run.steps
        ),
    )
