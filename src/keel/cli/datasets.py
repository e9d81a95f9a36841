"""``keel datasets ...``: data snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from keel.cli.context import JsonOption, client_of
from keel.cli.output import console, listed, print_json, print_table, short, when

app = typer.Typer(help="Data snapshots.", no_args_is_help=True)


@app.command("list")
def list_snapshots(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only snapshots of this name.")] = None,
    json: JsonOption = False,
) -> None:
    """Registered snapshots, newest version first within each name."""
    found = client_of(ctx).list_snapshots(name)
    if json:
        print_json(found)
        return
    print_table(
        ["snapshot", "sha256", "rows", "columns", "source", "author", "created"],
        (
            [
                s.ref,
                short(s.sha256),
                f"{s.rows:,}",
                s.columns,
                s.source,
                s.author,
                when(s.created_at),
            ]
            for s in found
        ),
        title="snapshots",
    )


@app.command("register")
def register(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A .parquet or .csv file.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Snapshot name.")],
    description: Annotated[str, typer.Option(help="What this data is.")] = "",
    json: JsonOption = False,
) -> None:
    """Register a file as a snapshot (the same content under the same name is not stored twice)."""
    snapshot = client_of(ctx, create=True).register_snapshot(
        str(path), name, description=description
    )
    if json:
        print_json(snapshot)
        return
    console.print(
        f"snapshot {snapshot.ref}  sha256:{short(snapshot.sha256)}  "
        f"{snapshot.rows:,} rows x {snapshot.columns} columns"
    )


@app.command("show")
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME, NAME/VERSION or sha256:PREFIX")],
    json: JsonOption = False,
) -> None:
    """A snapshot's schema and column profile."""
    snapshot = client_of(ctx).get_snapshot(ref)
    if json:
        print_json(snapshot)
        return
    console.print(
        f"snapshot {snapshot.ref}  sha256:{snapshot.sha256}\n"
        f"{snapshot.rows:,} rows x {snapshot.columns} columns from {snapshot.source}, "
        f"by {snapshot.author} at {when(snapshot.created_at)}"
    )
    rows = []
    for column, prof in snapshot.profile["columns"].items():
        if prof["kind"] in ("number", "integer") and "min" in prof:
            summary = (
                f"min {prof['min']:.4g}  median {prof['quantiles']['0.5']:.4g}  "
                f"max {prof['max']:.4g}  mean {prof['mean']:.4g}"
            )
        elif prof["kind"] == "category":
            top = listed(
                (f"{t['value']} {t['share']:.0%}" for t in prof["top"]), 4, prof["n_unique"]
            )
            summary = f"{prof['n_unique']} values: {top}"
        elif prof["kind"] == "boolean":
            summary = f"true {prof['true_share']:.1%}" if prof.get("true_share") is not None else ""
        else:
            summary = f"{prof.get('min', '')} .. {prof.get('max', '')}"
        rows.append([column, prof["kind"], f"{prof['missing_share']:.1%}", summary])
    print_table(["column", "kind", "missing", "profile"], rows, title="profile")
