"""The closed-loop demo: a model kept above its threshold for months with no manual step.

Everything goes through the production paths: applications are scored by the serving app (over
HTTP, in this process) which logs every prediction; outcomes are logged as labels when they
arrive; after each simulated week one autopilot pass monitors the log, fires the policy's
retraining trigger, trains, gates, rolls the candidate out as a canary, and promotes or rolls
back. The demo only plays the world: it moves the clock, sends the traffic, delivers the
outcomes and injects two incidents (``keel.demo.incidents``) for the gates and the canary.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from keel.client import Client
from keel.demo.incidents import INJECT, switch_chaos
from keel.demo.policies import launch_accuracy, lending_policy, table_policy
from keel.demo.summary import summarise
from keel.demo.traffic import ClockedRecorder, deliver, serve, served_over_http, wait_until_served
from keel.demo.world import World
from keel.registry.clock import replayed
from keel.settings import Settings

__all__ = ["run_closed_loop", "run_demo"]


@dataclass
class Story:
    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, at: datetime, kind: str, text: str) -> None:
        self.events.append({"at": at.isoformat(), "kind": kind, "text": text})


def run_closed_loop(
    world: World, folder: Path, console: Console, *, policy: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], Path]:
    """Replay ``world`` against a fresh store in ``folder``; returns the monthly summary and the
    path of the HTML report."""
    import logging

    from keel.monitoring.sinks import MemorySink
    from keel.serving.app import create_app

    _clear(folder)
    # the model failures the demo injects are narrated; the server's own warning would repeat them
    logging.getLogger("keel.serving").setLevel(logging.ERROR)
    settings = Settings(
        store_url=f"sqlite:///{folder / 'keel.db'}",
        artifacts=str(folder / "artifacts"),
        actor="autopilot",
    )
    INJECT.update(trained=0, chaos=False)
    story = Story()
    clock = ReplayClock(world.ticks[0].start)
    with replayed(clock), Client(settings=settings) as client:
        _launch(client, world, policy or lending_policy(world.model), console)
        recorder = ClockedRecorder(settings)
        app = create_app(settings, recorder=recorder, poll_s=0.05, check_ranges=False)
        sink = MemorySink("demo")
        outstanding: list[pd.DataFrame] = []
        started = time.perf_counter()
        with served_over_http(app) as http:
            wait_until_served(http, client, world.model)
            for index, tick in enumerate(world.ticks):
                failed = serve(http, recorder, world, tick.rows, outstanding)
                if failed:
                    text = f"{failed} applications got an error from the serving app"
                    story.add(tick.end, "errors", text)
                    console.print(f"  {tick.end:%Y-%m-%d}  [red]{text}[/red]")
                outstanding = deliver(client, world, outstanding, tick.end)
                clock.set(tick.end)
                decisions = client.autopilot(models=[world.model], now=tick.end, sinks=[sink])
                _narrate(console, story, tick, decisions)
                switch_chaos(client, world.model, decisions, console, story, tick)
                if any(
                    d.action in ("deploy", "promoted", "rolled_back", "rollout") for d in decisions
                ):
                    wait_until_served(http, client, world.model)
                if index % 4 == 3:
                    console.print(
                        f"[dim]{tick.period} done ({time.perf_counter() - started:.0f} s)[/dim]"
                    )
        end = world.ticks[-1].end + pd.Timedelta(days=45)
        clock.set(end)
        deliver(client, world, outstanding, end)
        client.monitor(world.model, now=end, sinks=[sink])
        summary = summarise(client, world)
        page = _report(client, world, summary, story, folder)
    return summary, page


class ReplayClock:
    """The registry's clock during the replay: the moment being replayed, plus the wall time
    spent since it was set, so records written within one pass keep their order and versions,
    alias moves and the audit trail share the monitoring windows' dates."""

    def __init__(self, start: datetime) -> None:
        self.set(start)

    def set(self, moment: datetime) -> None:
        stamp = pd.Timestamp(moment)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        self.base, self.reference = stamp.to_pydatetime(), time.monotonic()

    def __call__(self) -> datetime:
        return self.base + timedelta(seconds=time.monotonic() - self.reference)


def _clear(folder: Path) -> None:
    """Start from an empty store, deleting only what an earlier demo left in ``folder``."""
    from keel.errors import InvalidInput

    if not folder.exists():
        return
    ours = {"keel.db", "keel.db-wal", "keel.db-shm", "artifacts"}
    foreign = [
        p.name
        for p in folder.iterdir()
        if p.name not in ours and not (p.name.startswith("closed-loop-") and p.suffix == ".html")
    ]
    if foreign:
        raise InvalidInput(
            "folder",
            f"{folder} holds files the demo did not write ({', '.join(sorted(foreign)[:5])}); "
            "choose a new or empty folder",
        )
    shutil.rmtree(folder)


def _launch(client: Client, world: World, policy: dict[str, Any], console: Console) -> None:
    from keel.registry.signatures import infer_signature

    history = world.history
    cut = int(len(history) * 0.8)
    train_rows, holdout = history.iloc[:cut], history.iloc[cut:]
    snapshot = client.register_snapshot(
        train_rows[[*world.features, world.target]], f"{world.model}-train"
    )
    client.register_snapshot(holdout[[*world.features, world.target]], f"{world.model}-holdout")
    model = world.make_model().fit(train_rows[world.features], train_rows[world.target])
    signature = infer_signature(train_rows, world.features)

    signature = replace(
        signature,
        inputs=tuple(
            replace(s, categories=None) if s.name in world.open_categories else s
            for s in signature.inputs
        ),
    )
    client.register_model(
        world.model,
        model,
        training_data=snapshot,
        target=world.target,
        signature=signature,
        description="trained on the pre-launch history",
        format="cloudpickle",
        trust="code",  # the demo's own model class (a feature lookup around the classifier)
    )
    client.set_policy(world.model, policy)
    _, outcome = client.gate(f"{world.model}/1")
    launched = client.deploy(
        world.model,
        1,
        strategy="replace",
        reason="launch",
        force=outcome.verdict != "blessed",
        now=world.ticks[0].start,
    )
    console.print(
        f"launched {world.model} v1 (gate: {outcome.verdict}); "
        f"{len(world.ticks)} periods of traffic to replay"
    )
    compared = launched.baselines or {}
    if compared.get("beats") is False:
        console.print(f"warning: {compared['summary']}", markup=False)


_SHOWN = {
    "retrain",
    "rejected",
    "held",
    "blessed",
    "deploy",
    "promoted",
    "rolled_back",
    "stopped",
    "failed",
}


def _narrate(console: Console, story: Story, tick: Any, decisions: list[Any]) -> None:
    for decision in decisions:
        if decision.action == "monitor":
            for alert in decision.details.get("alerts", []):
                if alert.get("transition") == "fired":
                    text = f"alert: {alert['message']}"
                    story.add(tick.end, "alert", text)
                    console.print(f"  {tick.end:%Y-%m-%d}  [yellow]{text}[/yellow]")
        elif decision.action in _SHOWN:
            colour = {"rejected": "red", "rolled_back": "red", "promoted": "green"}.get(
                decision.action, "cyan"
            )
            text = f"{decision.action}: {decision.reason}"
            story.add(tick.end, decision.action, text)
            console.print(f"  {tick.end:%Y-%m-%d}  [{colour}]{text}[/{colour}]", highlight=False)


def _report(
    client: Client, world: World, summary: list[dict[str, Any]], story: Story, folder: Path
) -> Path:
    from keel.demo.timeline import to_html

    page = folder / f"closed-loop-{world.model}.html"
    page.write_text(
        to_html(
            world.model,
            world.threshold,
            summary,
            story.events,
            [r.to_dict() for r in client.retrains(world.model, limit=1000)],
            world.story,
        ),
        encoding="utf-8",
    )
    return page


def run_demo(
    data: str | None = None,
    target: str | None = None,
    time_column: str | None = None,
    folder: str = "keel-demo",
    drop: list[str] | None = None,
) -> None:
    """``keel demo``: the lending portfolio, or any time-ordered table, through the closed loop."""
    import sys

    from rich.table import Table

    from keel.demo.world import lending_world, table_world
    from keel.errors import InvalidInput

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    if data is not None:
        if not target or not time_column:
            raise InvalidInput("target", "--data needs --target COL and --time COL")
        world = table_world(data, target, time_column, drop=drop)
        threshold = round(launch_accuracy(world) - 0.02, 3)
        world = replace(world, threshold=threshold)
        policy = table_policy(world.model, target, threshold)
    else:
        world = lending_world()
        policy = None
    _clear(Path(folder))  # refuse a folder with foreign files before anything is printed
    console.rule(f"[bold]Keel closed loop: {world.model}")
    for line in world.story:
        console.print(f"[dim]{line}[/dim]")
    began = time.perf_counter()
    summary, page = run_closed_loop(world, Path(folder), console, policy=policy)
    table = Table(header_style="bold", title="month by month", title_justify="left")
    for column in (
        "month",
        "accuracy",
        "estimated",
        "drifted features",
        "retrains",
        "rejected",
        "rollbacks",
        "alerts",
    ):
        table.add_column(column, justify="right")
    for row in summary:
        cells = [
            row["month"],
            row["accuracy"],
            row["estimated_accuracy"],
            row["drifted_features"],
            row["retrains"],
            row["rejected"],
            row["rollbacks"],
            row["alerts"],
        ]
        table.add_row(
            *("-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v) for v in cells)
        )
    console.print(table)
    console.print(f"report: {page}  ({time.perf_counter() - began:.0f} s)")
    console.print(
        f"explore: KEEL_STORE_URL=sqlite:///{folder}/keel.db KEEL_ARTIFACTS={folder}/artifacts "
        f"keel retrains {world.model}"
    )
