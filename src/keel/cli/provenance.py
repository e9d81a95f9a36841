"""``keel lineage MODEL/VERSION``, ``keel reproduce MODEL/VERSION`` and ``keel audit ...``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.tree import Tree

from keel.cli.context import JsonOption, client_of, limit_option
from keel.cli.output import console, errors, pairs, print_json, print_table, short, when
from keel.domain.audit import AuditVerification
from keel.domain.reproduction import FAILED, REPRODUCED, Reproduction

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
            colour = "green" if g.blessed else "red"
            reasons = "; ".join(g.reasons)
            checks.add(
                f"[{colour}]{g.verdict}[/{colour}] ({g.risk_profile} profile) at "
                f"{when(g.created_at)} by {escape(g.author)}"
                + (f": {escape(reasons)}" if reasons else "")
            )
        for a in graph.approvals:
            checks.add(
                f"approved by {escape(a.approver)} at {when(a.created_at)}: {escape(a.reason)}"
            )
    _add_reproduction(root, graph.reproduction, v.ref)
    aliases = root.add("[bold]alias periods[/bold]")
    for p in graph.alias_periods:
        aliases.add(
            f"{p.alias}: {when(p.start)} -> {when(p.end)}  by {p.moved_by}"
            + (f"  ({escape(p.reason)})" if p.reason else "")
        )
    if not graph.alias_periods:
        aliases.add("[dim]never held an alias[/dim]")
    console.print(root)


def _add_reproduction(root: Tree, found: dict[str, object] | None, ref: str) -> None:
    """The newest ``keel reproduce`` of the version, from its audit entry."""
    node = root.add("[bold]reproduced[/bold]")
    if found is None:
        node.add(f"[dim]never recreated (keel reproduce {escape(ref)})[/dim]")
        return
    verdict = str(found.get("verdict"))
    colour = "green" if verdict == REPRODUCED else "red"
    node.add(
        f"[{colour}]{escape(verdict)}[/{colour}] at {when(str(found.get('at')))} by "
        f"{escape(str(found.get('actor')))}: {escape(_comparison(found))}"
    )


def _comparison(found: dict[str, object]) -> str:
    """One line saying how a recreation was made and how close it came (or why it failed)."""
    if found.get("verdict") == FAILED:
        commit = short(str(found.get("commit") or ""))
        return f"{found.get('method')} fit at commit {commit} failed: {found.get('error')}"
    parts = [
        f"{found.get('method')} fit at commit {short(str(found.get('commit') or ''))}",
        f"on {found.get('holdout')} ({found.get('rows')} rows, {found.get('compared')})",
    ]
    if found.get("max_abs_diff") is not None:
        parts.append(f"max |diff| {found['max_abs_diff']} (tolerance {found.get('tolerance')})")
    if found.get("label_agreement") is not None:
        share = float(str(found["label_agreement"]))
        parts.append(f"labels agree on {share:.2%}")
    return ", ".join(parts)


def reproduce(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="MODEL/VERSION (or MODEL@ALIAS)")],
    tolerance: Annotated[
        float | None,
        typer.Option(
            help="The largest difference of a probability that still counts as the same model "
            "(default 1e-9, for deterministic learners)."
        ),
    ] = None,
    repo: Annotated[
        str | None,
        typer.Option(
            "--repo",
            help="The git clone holding the recorded commit, if not the one "
            "the version was built in.",
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Fit a version again with its recorded code (a clean checkout of its commit), data and
    parameters, and compare it with the stored model on its holdout. Exits 1 when it differs,
    4 when it cannot be re-run (a dirty tree, a missing commit), saying why."""
    result = client_of(ctx).reproduce(ref, tolerance=tolerance, repository=repo)
    if json:
        print_json(result)
    else:
        _print_reproduction(result)
    if not result.reproduced:
        raise typer.Exit(1)


def _print_reproduction(result: Reproduction) -> None:
    colour = "green" if result.reproduced else "red"
    console.print(
        f"{escape(result.version)}: [bold {colour}]{result.verdict}[/bold {colour}] "
        f"(audit entry {result.audit_seq})"
    )
    console.print(escape(_comparison(result.to_dict())))
    if result.pipeline_run:
        console.print(f"pipeline run {escape(result.pipeline_run)}")
    console.print(f"recreated model: {escape(result.model_class)}")


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    subject: Annotated[str | None, typer.Option(help="e.g. model:fraud or model:fraud/3")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. alias or version.register")] = None,
    limit: Annotated[int, limit_option()] = 50,
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
def audit_verify(
    ctx: typer.Context,
    artifacts: Annotated[
        bool | None,
        typer.Option(
            "--artifacts/--no-artifacts",
            help="Hash every artifact file a version names (default: when they total < 10 GB).",
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Prove the store from its audit trail: the hash chain, the head against the keyed
    checkpoint, every alias, version, deployment and token against the replayed trail, and the
    artifact files. Exits 5 and names each table and row that disagrees."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    client = client_of(ctx)
    with Progress(
        TextColumn("hashing artifacts"),
        BarColumn(),
        DownloadColumn(),
        console=errors,
        transient=True,
        disable=not errors.is_terminal,
    ) as bar:
        task = bar.add_task("artifacts", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = client.verify_audit(artifacts=artifacts, progress=progress)
    if json:
        print_json(result)
    else:
        _print_verification(result)
    if not result.intact:
        raise typer.Exit(5)


def _print_verification(result: AuditVerification) -> None:
    chain = result.chain
    if chain.intact:
        console.print(f"audit chain intact: {chain.checked} entries verified")
    else:
        console.print(
            f"[bold red]audit chain broken[/bold red] at entry {chain.first_bad_seq}: "
            f"{escape(chain.reason or '')} ({chain.checked} entries before it verified)"
        )
    if result.checkpoint_seq is not None:
        console.print(
            f"checkpoint: the head is held against the keyed checkpoint at entry "
            f"{result.checkpoint_seq}"
        )
    if result.artifacts_checked is not None:
        console.print(f"artifacts: {result.artifacts_checked} files hashed")
    for note in result.notes:
        console.print(f"[dim]{escape(note)}[/dim]")
    if result.findings:
        console.print(
            f"[bold red]{len(result.findings)} finding(s): the store does not match its "
            "audit trail[/bold red]"
        )
        print_table(
            ["table", "row", "the store holds", "the trail says"],
            ([f.table, f.row, f.found, f.expected] for f in result.findings),
            title="findings",
        )
    elif chain.intact:
        console.print("state: every alias, version, deployment and token matches the trail")
