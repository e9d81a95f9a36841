"""``keel alerts list|ack|notifications``: what is firing, who is on it, what was sent."""

from __future__ import annotations

from typing import Annotated

import typer

from keel.cli.context import (
    JsonOption,
    ReasonOption,
    client_of,
    id_argument,
    limit_option,
    stored_int,
)
from keel.cli.output import console, print_json, print_table, when

app = typer.Typer(help="Alerts raised by monitoring and their notifications.", no_args_is_help=True)

LimitOption = Annotated[int, limit_option("--limit", "-n", help="Show at most this many.")]


@app.command("list")
def list_alerts(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Argument(help="Only this model's alerts.")] = None,
    state: Annotated[
        str | None,
        typer.Option("--state", help="firing, acknowledged, resolved, or open (not resolved)."),
    ] = None,
    limit: LimitOption = 100,
    json: JsonOption = False,
) -> None:
    """Alerts, newest first."""
    found = client_of(ctx).list_alerts(model, state=state, limit=limit)
    if json:
        print_json(found)
        return
    print_table(
        ["id", "model", "severity", "state", "rule", "value", "seen", "since", "by"],
        (
            [
                a.id,
                a.model,
                a.severity,
                a.state,
                a.rule,
                a.value,
                a.occurrences,
                when(a.fired_at),
                a.acknowledged_by or "",
            ]
            for a in found
        ),
        title="alerts" + (f" of {model}" if model else ""),
    )


@app.command("ack")
def ack(
    ctx: typer.Context,
    alert_id: Annotated[int, id_argument("Id from `keel alerts list`.")],
    reason: ReasonOption,
    json: JsonOption = False,
) -> None:
    """Acknowledge an open alert: reminders stop until it resolves."""
    record = client_of(ctx).acknowledge_alert(alert_id, reason=reason)
    if json:
        print_json(record)
        return
    console.print(
        f"alert {record.id} ({record.model}: {record.rule}) acknowledged by "
        f"{record.acknowledged_by}",
        markup=False,
    )


@app.command("notifications")
def notifications(
    ctx: typer.Context,
    alert_id: Annotated[
        int | None,
        typer.Option("--alert", help="Only this alert's.", callback=stored_int),
    ] = None,
    limit: LimitOption = 100,
    json: JsonOption = False,
) -> None:
    """Queued events (sink *) and their deliveries per sink, newest first."""
    from keel.monitoring import alerts

    found = alerts.list_notifications(client_of(ctx).db, alert_id, limit)
    if json:
        print_json(found)
        return
    print_table(
        ["id", "alert", "event", "sink", "status", "attempts", "error", "at"],
        (
            [
                n["id"],
                n["alert_id"],
                n["event"],
                n["sink"],
                n["status"],
                n["attempts"],
                n["error"] or "",
                when(n["created_at"]),
            ]
            for n in found
        ),
        title="notifications",
    )
