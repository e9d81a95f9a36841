"""``keel autopilot``, ``keel retrain``, ``keel retrains`` and ``keel pipelines``.

keel autopilot --once                    # one reconcile pass, for cron
keel autopilot --every 1m                # long-running
keel autopilot --status                  # champion, retrain in flight, alerts, baseline
keel retrain credit --reason "new bureau data"
keel retrain credit --takeover           # drive on the retrain a killed process left in flight
keel retrains credit                     # what fired, what the gates said, how it ended
keel retrains credit --all-decisions     # every verdict, retrain or not, with its numbers
keel retrains show 12                    # one retrain: moves, run, gate, the setup it chose
keel pipelines show RUN_ID               # every step's inputs, output, cache and timing
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from keel.cli.context import JsonOption, ReasonOption, client_of, id_argument, limit_option
from keel.cli.output import console, pairs, print_json, print_table, short, when

if TYPE_CHECKING:
    from keel.controller.autopilot import Decision
    from keel.controller.autopilot_status import ModelStatus
    from keel.controller.decision_log import RetrainDecision
    from keel.controller.retrain_report import RetrainReport

pipelines_app = typer.Typer(help="Pipeline runs: steps, lineage, cache.", no_args_is_help=True)


class _ListByDefault(TyperGroup):
    """``keel retrains`` lists, ``keel retrains MODEL`` lists a model's, and ``keel retrains
    show ID`` shows one: arguments that do not start with a subcommand's name go to ``list``
    (so a model named ``show`` is ``keel retrains list show``)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        helps = self.get_help_option_names(ctx)
        if not args or (args[0] not in self.commands and args[0] not in helps):
            args = ["list", *args]
        return super().parse_args(ctx, args)


retrains_app = typer.Typer(
    cls=_ListByDefault,
    help="Retrains, newest first (`keel retrains [MODEL]`), the autopilot's verdicts "
    "(`--all-decisions`), and one retrain in full (`keel retrains show ID`).",
)

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
    status: Annotated[
        bool,
        typer.Option(
            "--status",
            help="Show, per governed model, the champion, the retrain in flight, the newest "
            "retrain that ended, the open alerts and whether the champion beats the trivial "
            "baselines; run no pass.",
        ),
    ] = False,
    json: JsonOption = False,
) -> None:
    """Keep every governed model healthy: monitor, retrain on the policy's triggers, gate, roll
    out, promote or roll back; every decision is printed and audited with its reason."""
    from keel.controller.autopilot import Autopilot
    from keel.domain.durations import parse_duration

    client = client_of(ctx)
    if status:
        _status(client.autopilot_status(model), json)
        return
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


def _status(found: list[ModelStatus], json: bool) -> None:
    if json:
        print_json([s.to_dict() for s in found])
        return
    if not found:
        console.print("no governed model: store a policy with `keel policy set`", markup=False)
    for s in found:
        champion = f"v{s.champion}" if s.champion is not None else "none"
        console.print(f"{s.model} ({s.risk_profile}): champion {champion}", markup=False)
        if s.baseline is not None:
            console.print(f"  baseline: {s.baseline}", markup=False)
        flight = s.in_flight
        if flight is not None:
            console.print(
                f"  in flight: retrain #{flight.id} ({flight.state}) since "
                f"{when(flight.created_at)}: {flight.trigger}",
                markup=False,
            )
        last = s.last_retrain
        if last is not None:
            console.print(
                f"  last retrain: #{last.id} {last.state} at {when(last.ended_at)}: "
                f"{last.outcome or last.reason}",
                markup=False,
            )
        for alert in s.open_alerts:
            console.print(
                f"  alert #{alert.id} ({alert.severity}, {alert.state}): {alert.rule}", markup=False
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


@retrains_app.command("list")
def retrains(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Argument(help="The model (default: all).")] = None,
    limit: Annotated[int, limit_option("--limit", "-n", help="How many, newest first.")] = 20,
    all_decisions: Annotated[
        bool,
        typer.Option(
            "--all-decisions",
            help="Every verdict of the autopilot on retraining MODEL, retrain or not (idle, "
            "hold, busy), with the trigger's numbers; a row per change of verdict.",
        ),
    ] = False,
    json: JsonOption = False,
) -> None:
    """Retrains, newest first: trigger, state, candidate, outcome."""
    if all_decisions:
        if model is None:
            from keel.errors import InvalidInput

            raise InvalidInput("model", "--all-decisions needs a MODEL")
        _decisions(client_of(ctx).decisions(model, limit=limit), json)
        return
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


def _decisions(found: list[RetrainDecision], json: bool) -> None:
    if json:
        print_json([d.to_dict() for d in found])
        return
    print_table(
        ["decided", "champion", "action", "trigger", "reason", "numbers", "retrain"],
        (
            [
                when(d.decided_at),
                None if d.champion_version is None else f"v{d.champion_version}",
                d.action,
                d.trigger,
                d.reason,
                pairs(_numbers(d.details)),
                d.retrain,
            ]
            for d in found
        ),
    )


def _numbers(details: dict[str, Any]) -> dict[str, Any]:
    """The numbers among a verdict's details (the observed value, counts), for a table."""
    return {
        key: value
        for key, value in details.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


@retrains_app.command("show")
def retrain_show(
    ctx: typer.Context,
    retrain_id: Annotated[int, id_argument("The retrain's id (`keel retrains` lists them).")],
    json: JsonOption = False,
) -> None:
    """One retrain in full: trigger and reason, its states with times, the pipeline run, the
    candidate and its gate verdict, and the training setup it chose with every candidate's
    score (when the training step recorded one)."""
    report = client_of(ctx).retrain_report(retrain_id)
    if json:
        print_json(report.to_dict())
        return
    _report(report)


def _report(report: RetrainReport) -> None:
    r = report.retrain
    out = console.print
    out(f"retrain #{r.id} of {r.model}: {r.state}", markup=False)
    out(f"trigger: {r.trigger}", markup=False)
    out(f"reason: {r.reason}", markup=False)
    champion = r.details.get("champion")
    if champion is not None:
        out(f"champion: v{champion}", markup=False)
    out(f"requested by {r.requested_by} at {when(r.created_at)}", markup=False)
    if r.ended_at is not None:
        out(f"ended at {when(r.ended_at)}: {r.outcome or r.state}", markup=False)
    print_table(
        ["state", "at", "by", "why"],
        ([m.state, when(m.at), m.actor, m.reason] for m in report.moves),
        title="moves",
    )
    run = report.pipeline_run
    if run is not None:
        steps = " ".join(f"{s.name}:{s.status}" for s in run.steps)
        out(f"pipeline run {run.id}: {run.pipeline} ({run.status}) {steps}", markup=False)
    elif r.pipeline_run_id is not None:
        out(f"pipeline run {r.pipeline_run_id}: its record is gone", markup=False)
    if r.candidate_version is not None:
        gated = r.details.get("gated_version")
        line = f"candidate: v{r.candidate_version}"
        if gated is not None:
            line += f" (a refit of v{gated}, which the gates judged)"
        out(line, markup=False)
    if report.gate is not None:
        reasons = "; ".join(report.gate.reasons)
        out(f"gate: {report.gate.verdict}" + (f": {reasons}" if reasons else ""), markup=False)
    chosen = report.selection
    if chosen is None:
        out("training setup: not recorded", markup=False)
        return
    facts = {
        "metric": chosen.metric,
        "validation rows": chosen.validation_rows,
        "cost": chosen.cost,
        "budget": chosen.budget,
    }
    shown = ", ".join(f"{k} {_plain(v)}" for k, v in facts.items() if v is not None)
    out(f"training setup: {chosen.chosen}" + (f" ({shown})" if shown else ""), markup=False)
    print_table(
        ["setup", "rows", "half-life", "score", "fit s", "skipped"],
        (
            [
                ("* " if c.name == chosen.chosen else "") + c.name,
                c.rows,
                c.half_life,
                c.score,
                None if c.fit_s is None else round(c.fit_s, 2),
                c.skipped,
            ]
            for c in chosen.candidates
        ),
        title="candidate setups (* chosen)",
    )
    if chosen.reason:
        out(f"why: {chosen.reason}", markup=False)


def _plain(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


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
