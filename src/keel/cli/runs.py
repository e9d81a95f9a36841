"""``keel runs ...``: training runs."""

from __future__ import annotations

from typing import Annotated

import typer

from keel.cli.context import JsonOption, client_of, limit_option
from keel.cli.output import pairs, print_json, print_table, short, when

app = typer.Typer(help="Training runs.", no_args_is_help=True)


@app.command("list")
def list_runs(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", help="Only runs of this name.")] = None,
    limit: Annotated[int, limit_option()] = 20,
    json: JsonOption = False,
) -> None:
    """Recent runs with their status, duration and latest metrics."""
    found = client_of(ctx).list_runs(name, limit)
    if json:
        print_json(found)
        return
    print_table(
        ["run", "name", "status", "started", "duration s", "metrics", "inputs"],
        (
            [
                short(r.id, 8),
                r.name,
                r.status,
                when(r.started_at),
                f"{r.duration_s:.2f}" if r.duration_s is not None else "",
                pairs(r.metrics),
                ", ".join(i["snapshot"] for i in r.inputs),
            ]
            for r in found
        ),
        title="runs",
    )


@app.command("show")
def show_run(
    ctx: typer.Context,
    run_id: Annotated[
        str, typer.Argument(help="Run id, or its first characters (at least 4; the list shows 8).")
    ],
    json: JsonOption = False,
) -> None:
    """One run: parameters, metrics, inputs, code version and outcome."""
    run = client_of(ctx).get_run(run_id)
    if json:
        print_json(run)
        return
    rows = [
        ("run", f"{run.name} ({run.id})"),
        ("status", run.status + (f": {run.error}" if run.error else "")),
        ("started", when(run.started_at)),
        ("duration", f"{run.duration_s:.2f} s" if run.duration_s is not None else "running"),
        ("author", run.author),
        ("commit", short(run.code_version.get("commit")) or "-"),
        ("params", pairs(run.params, 10) or "-"),
        ("metrics", pairs(run.metrics, 10) or "-"),
        ("inputs", ", ".join(f"{i['snapshot']} [{i['role']}]" for i in run.inputs) or "-"),
    ]
    print_table(["field", "value"], rows, title="run")
