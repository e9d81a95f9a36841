"""``keel lineage MODEL/VERSION`` and ``keel audit ...``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.tree import Tree

from keel.cli.context import JsonOption, client_of
from keel.cli.output import console, pairs, print_json, print_table, short, when

audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)


def lineage(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="MODEL/VERSION or MODEL@ALIAS")],
    json: JsonOption = False,
) -> None:
    """The graph from data snapshots through the training run to the version and its aliases."""
    graph = client_of(ctx).lineage(ref)
    if json:
        print_json(graph)
        return
    v = graph.version
    root = Tree(
        f"[bold]{v.ref}[/bold]  {v.model_class.rsplit('.', 1)[-1]}  {v.format}  "
        f"sha256:{short(v.artifact_sha256)}  by {v.author} at {when(v.created_at)}"
    )
    data = root.add("[bold]data[/bold]")
    for s in graph.snapshots:
        data.add(
            f"{escape(s['ref'])} \\[{escape(s['role'])}]  sha256:{short(s['sha256'])}  "
            f"{s['rows']:,} rows x {s['columns']} columns  ({s['source']})"
        )
    if not graph.snapshots:
        data.add("[dim]no training data recorded[/dim]")
    run = graph.run
    if run is not None:
        code = run.code_version
        commit = short(code.get("commit")) or "no git"
        dirty = " (dirty)" if code.get("dirty") else ""
        node = root.add(
            f"[bold]run[/bold] {escape(run.name)} ({short(run.id, 8)})  {run.status}"
            + (f" in {run.duration_s:.2f} s" if run.duration_s is not None else "")
            + f"  commit {commit}{dirty}"
        )
        if run.params:
            node.add(escape(f"params: {pairs(run.params, 8)}"))
        if run.metrics:
            node.add(escape(f"metrics: {pairs(run.metrics, 8)}"))
    elif pipeline_run := (v.tags or {}).get("pipeline_run"):
        retrain = (v.tags or {}).get("retrain")
        root.add(
            f"[bold]run[/bold] retrain #{escape(str(retrain))}, pipeline run "
            f"{escape(str(pipeline_run))}  (keel pipelines show {escape(str(pipeline_run)[:8])})"
        )
    else:
        root.add("[bold]run[/bold] [dim]none recorded[/dim]")
    family = root.add("[bold]family[/bold]")
    family.add("parents: " + (" <- ".join(p.ref for p in graph.parents) or "none"))
    family.add("children: " + (", ".join(f"{v.name}/{c}" for c in graph.children) or "none"))
    if graph.gates or graph.approvals:
        checks = root.add("[bold]gates and approvals[/bold]")
        for g in graph.gates:
            colour = "green" if g["verdict"] == "blessed" else "red"
            reasons = "; ".join(g["reasons"])
            checks.add(
                f"[{colour}]{g['verdict']}[/{colour}] ({g['risk_profile']} profile) at "
                f"{when(g['created_at'])} by {escape(g['author'])}"
                + (f": {escape(reasons)}" if reasons else "")
            )
        for a in graph.approvals:
            checks.add(
                f"approved by {escape(a['approver'])} at {when(a['created_at'])}: "
                f"{escape(a['reason'])}"
            )
    aliases = root.add("[bold]alias periods[/bold]")
    for p in graph.alias_periods:
        aliases.add(
            f"{p.alias}: {when(p.start)} -> {when(p.end)}  by {p.moved_by}"
            + (f"  ({escape(p.reason)})" if p.reason else "")
        )
    if not graph.alias_periods:
        aliases.add("[dim]never held an alias[/dim]")
    console.print(root)


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    subject: Annotated[str | None, typer.Option(help="e.g. model:fraud or model:fraud/3")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. alias or version.register")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    json: JsonOption = False,
) -> None:
    """Audit entries, newest first."""
    found = client_of(ctx).audit_log(subject=subject, action=action, limit=limit)
    if json:
        print_json(found)
        return
    print_table(
        ["seq", "at", "actor", "action", "subject", "details"],
        ([e.seq, when(e.at), e.actor, e.action, e.subject, pairs(e.details, 4)] for e in found),
        title="audit trail",
    )


@audit_app.command("verify")
def audit_verify(ctx: typer.Context, json: JsonOption = False) -> None:
    """Check the hash chain; exits 5 and names the first tampered entry if it is broken."""
    result = client_of(ctx).verify_audit()
    if json:
        print_json(
            {
                "intact": result.intact,
                "checked": result.checked,
                "first_bad_seq": result.first_bad_seq,
                "reason": result.reason,
            }
        )
    elif result.intact:
        console.print(f"audit chain intact: {result.checked} entries verified")
    else:
        console.print(
            f"[bold red]audit chain broken[/bold red] at entry {result.first_bad_seq}: "
            f"{result.reason} ({result.checked} entries before it verified)"
        )
    if not result.intact:
        raise typer.Exit(5)
