"""``keel token create|list|revoke``: API tokens for the serving and management endpoints.

Access control starts with the first token: until one exists the server is open, so create an
``admin`` token for yourself before handing out others.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from keel.cli.context import JsonOption, client_of
from keel.cli.output import console, print_json, print_table, when

app = typer.Typer(
    help="API tokens for `keel serve` (roles: predict < deploy < admin).", no_args_is_help=True
)


@app.command("create")
def create(
    ctx: typer.Context,
    role: Annotated[str, typer.Option("--role", help="predict, deploy or admin.")],
    name: Annotated[str, typer.Option("--name", help="Who or what holds it, e.g. ci.")] = "",
    json: JsonOption = False,
) -> None:
    """Create a token of ROLE; it is printed once and only its hash is kept."""
    token, record = client_of(ctx).tokens.create_token(role, name)
    if json:
        print_json({"token": token, **record.to_dict()})
        return
    console.print(token)
    typer.echo(
        f"{record.role} token {record.name!r} (prefix {record.prefix}); "
        "store it now: it cannot be shown again",
        err=True,
    )


@app.command("list")
def list_tokens(ctx: typer.Context, json: JsonOption = False) -> None:
    """Every token's name, role, prefix and state (never the token itself)."""
    found = client_of(ctx).tokens.list_tokens()
    if json:
        print_json(found)
        return
    rows = (
        [t.prefix, t.name, t.role, when(t.created_at), t.created_by, _revoked(t.revoked_at)]
        for t in found
    )
    print_table(["prefix", "name", "role", "created", "by", "revoked"], rows, title="API tokens")


def _revoked(moment: datetime | None) -> str:
    return when(moment) if moment is not None else ""


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    prefix: Annotated[str, typer.Argument(help="The token's prefix, from `keel token list`.")],
    json: JsonOption = False,
) -> None:
    """Revoke the token with PREFIX (servers refuse it within a few seconds)."""
    record = client_of(ctx).tokens.revoke_token(prefix)
    if json:
        print_json(record)
        return
    console.print(f"revoked {record.role} token {record.name!r} ({record.prefix})")
