"""``keel alias ...`` and ``keel history MODEL``."""

from __future__ import annotations

from typing import Annotated

import typer

from keel.cli.context import JsonOption, ReasonOption, client_of
from keel.cli.output import console, print_json, print_table, when

app = typer.Typer(
    help="Move, remove and list aliases (champion, challenger, ...).", no_args_is_help=True
)


@app.command("set")
def set_alias(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name.")],
    alias: Annotated[str, typer.Argument(help="Alias, e.g. champion.")],
    version: Annotated[int, typer.Argument(help="Version number.")],
    reason: ReasonOption = "",
    force: Annotated[
        bool, typer.Option("--force", help="Promote past the policy's gates (needs --reason).")
    ] = False,
    json: JsonOption = False,
) -> None:
    """Point ALIAS of MODEL at VERSION (one transaction, recorded in the history and audit)."""
    target = client_of(ctx).set_alias(model, alias, version, reason=reason, force=force)
    if json:
        print_json(target)
        return
    console.print(f"{model}@{alias} -> {target.ref}")


@app.command("delete")
def delete_alias(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name.")],
    alias: Annotated[str, typer.Argument(help="Alias to remove.")],
    reason: ReasonOption = "",
) -> None:
    """Remove ALIAS from MODEL."""
    client_of(ctx).delete_alias(model, alias, reason=reason)
    console.print(f"removed {model}@{alias}")


@app.command("list")
def list_aliases(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name.")],
    json: JsonOption = False,
) -> None:
    """The aliases MODEL has now."""
    client = client_of(ctx)
    current = [p for p in client.alias_periods(model) if p.end is None]
    if json:
        print_json(current)
        return
    print_table(
        ["alias", "version", "since", "by", "reason"],
        ([p.alias, p.version, when(p.start), p.moved_by, p.reason] for p in current),
        title=f"aliases of {model}",
    )


def history(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name.")],
    alias: Annotated[str | None, typer.Option("--alias", "-a", help="Only this alias.")] = None,
    json: JsonOption = False,
) -> None:
    """Which version held each alias, from when to when, moved by whom and why."""
    client = client_of(ctx)
    moves = client.alias_history(model, alias)
    from keel.registry.aliases import periods

    spans = periods(moves)
    if json:
        print_json({"periods": spans, "moves": moves})
        return
    print_table(
        ["alias", "version", "from", "to", "moved by", "reason"],
        ([p.alias, p.version, when(p.start), when(p.end), p.moved_by, p.reason] for p in spans),
        title=f"alias history of {model}",
    )
    removed = [m for m in moves if m.version is None]
    if removed:
        print_table(
            ["alias", "removed from version", "at", "by", "reason"],
            (
                [m.alias, m.previous_version, when(m.moved_at), m.moved_by, m.reason]
                for m in removed
            ),
            title="removals",
        )
