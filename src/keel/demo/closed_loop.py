"""The closed-loop demo: a model kept above its threshold for months with no manual step.

Everything goes through the production paths: applications are scored by the serving app (in
process, over its ASGI interface) which logs every prediction; outcomes are logged as labels when
they arrive; after each simulated week one autopilot pass monitors the log, fires the policy's
retraining trigger, trains, gates, rolls the candidate out as a canary, and promotes or rolls
back. The demo only plays the world: it moves the clock, sends the traffic, delivers the
outcomes and, once, injects a regression (a candidate with a slow feature transform) that
passes the offline gates and must be caught by the canary.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console

from keel.client import Client
from keel.demo.world import World
from keel.settings import Settings

__all__ = ["FlakyLookup", "run_closed_loop", "run_demo", "train"]

#: The demo's two injected incidents, by the number of the candidate the trainer makes
#: (1-based): a bad code change that joins outcomes to the wrong applications (the gates must
#: reject what it trains), and a candidate
#: whose feature lookup fails in production once the chaos switch is on (the canary must roll it
#: back). ``chaos`` is switched on by the demo when that candidate's canary starts.
INJECT: dict[str, Any] = {"buggy": 1, "flaky": 2, "trained": 0, "chaos": False, "share": 0.5}


class FlakyLookup:
    """A model behind a feature lookup that times out on a share of production requests while
    the demo's chaos switch is on; offline (gates) it answers exactly like the model it wraps."""

    def __init__(self, model: Any, share: float, seed: int = 0) -> None:
        self.model = model
        self.share = share
        self.classes_ = model.classes_
        self.feature_names_in_ = getattr(model, "feature_names_in_", None)
        self._rng = np.random.default_rng(seed)

    def _lookup(self) -> None:
        if INJECT["chaos"] and self._rng.random() < self.share:
            raise TimeoutError("feature lookup timed out (injected)")

    def predict(self, frame: Any) -> Any:
        self._lookup()
        return self.model.predict(frame)

    def predict_proba(self, frame: Any) -> Any:
        self._lookup()
        return self.model.predict_proba(frame)


def train(frame: pd.DataFrame, target: str) -> Any:
    """The policy's trainer for the lending model (``keel.demo.closed_loop:train``)."""
    from keel.demo.lending import LendingPortfolio, make_model

    INJECT["trained"] += 1
    outcomes = frame[target].to_numpy()
    if INJECT["trained"] == INJECT["buggy"]:  # the bad change: outcomes on the wrong rows
        outcomes = np.random.default_rng(0).permutation(outcomes)
    fitted = make_model().fit(frame[LendingPortfolio.FEATURES], outcomes)
    if INJECT["trained"] == INJECT["flaky"]:
        return FlakyLookup(fitted, INJECT["share"])
    return fitted


def lending_policy(model: str) -> dict[str, Any]:
    return {
        "risk_profile": "high",
        "suites": {
            "release": {
                "snapshots": [f"{model}-holdout"],
                "target": "default",
                "resamples": 200,
                "measure_cost": False,  # no latency or size gate here: the canary watches latency
            }
        },
        "gates": {
            "checks": [
                "accuracy >= 0.92",
                "roc_auc not worse than champion by more than 0.01 at 95% confidence",
                "accuracy beats baseline majority",
            ]
        },
        "rollout": {
            "strategy": "canary",
            "steps": [25, 100],
            "interval": "5d",
            "auto_rollback": True,
            "sticky": True,  # the branch picks the variant, so the demo replays exactly
            "min_rows_per_step": 150,
            "max_latency_p99_ratio": 3.0,
        },
        "monitoring": {
            "target": "default",
            "reference": f"{model}-holdout",  # out of sample, so CBPE is not overconfident
            "window": {"rows": 1000},
            "label_horizon": "120d",
            "cooldown": "30d",
            "alerts": [
                "accuracy < 0.92 over the last 1,000 labelled predictions as critical",
                "estimated_accuracy < 0.92",
                "drifted_features >= 2",
            ],
        },
        "retraining": {
            "schedule": None,  # the high profile's weekly schedule: this model retrains on need
            "triggers": ["accuracy < 0.92 over the last 1,000 labelled predictions"],
            "min_interval": "7d",
            "min_new_labels": 1000,
            "training": {"recent_rows": 6000, "holdout": 0.25},
            "trainer": "keel.demo.closed_loop:train",
        },
    }


class ClockedRecorder:
    """The serving app's log writer with the demo's clock in place of the wall clock."""

    def __init__(self, settings: Settings) -> None:
        from keel.serving.logging import LogStoreRecorder
        from keel.store.prediction_log import ParquetLogStore

        self.inner = LogStoreRecorder(ParquetLogStore(settings.artifacts))
        self.now_us = 0

    def record(self, model: str, columns: dict[str, Any]) -> None:
        rows = len(columns["request_id"])
        columns["timestamp"] = np.full(rows, self.now_us, dtype=np.int64)
        self.inner.record(model, columns)

    def close(self) -> None:
        self.inner.close()


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
    with Client(settings=settings) as client:
        _launch(client, world, policy or lending_policy(world.model), console)
        recorder = ClockedRecorder(settings)
        app = create_app(settings, recorder=recorder, poll_s=0.05, check_ranges=False)
        sink = MemorySink("demo")
        outstanding: list[pd.DataFrame] = []
        started = time.perf_counter()
        with served_over_http(app) as http:
            _wait_until_served(http, world.model)
            for index, tick in enumerate(world.ticks):
                failed = _serve(http, recorder, world, tick.rows, outstanding)
                if failed:
                    text = f"{failed} applications got an error from the serving app"
                    story.add(tick.end, "errors", text)
                    console.print(f"  {tick.end:%Y-%m-%d}  [red]{text}[/red]")
                outstanding = _deliver(client, world, outstanding, tick.end)
                decisions = client.autopilot(models=[world.model], now=tick.end, sinks=[sink])
                _narrate(console, story, tick, decisions)
                _chaos(client, world, decisions, console, story, tick)
                if any(
                    d.action in ("deploy", "promoted", "rolled_back", "rollout") for d in decisions
                ):
                    time.sleep(0.25)  # the serving app picks the new plan up within poll_s
                if index % 4 == 3:
                    console.print(
                        f"[dim]{tick.period} done ({time.perf_counter() - started:.0f} s)[/dim]"
                    )
        end = world.ticks[-1].end + pd.Timedelta(days=45)
        _deliver(client, world, outstanding, end)
        client.monitor(world.model, now=end, sinks=[sink])
        summary = summarise(client, world)
        page = _report(client, world, summary, story, folder)
    return summary, page


@contextlib.contextmanager
def served_over_http(app: Any) -> Iterator[Any]:
    """The serving app under uvicorn on a free port of 127.0.0.1, in a thread of this process
    (so the demo's clock reaches its log writer); yields an HTTP client for it."""
    import threading

    import httpx
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="keel-demo-serving", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the serving app did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            yield http
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _chaos(
    client: Client, world: World, decisions: list[Any], console: Console, story: Story, tick: Any
) -> None:
    """Switch the injected fault on while the flaky candidate is in its canary, off after."""
    for decision in decisions:
        if decision.action == "deploy":
            version = client.get_version(f"{world.model}/{int(decision.reason.split(':')[0][1:])}")
            if version.model_class.endswith("FlakyLookup") and not INJECT["chaos"]:
                INJECT["chaos"] = True
                text = (
                    f"injected: {version.ref}'s feature lookup now times out on "
                    f"{INJECT['share']:.0%} of its requests"
                )
                story.add(tick.end, "injected", text)
                console.print(f"  {tick.end:%Y-%m-%d}  [magenta]{text}[/magenta]")
        if decision.action in ("rolled_back", "promoted", "stopped"):
            INJECT["chaos"] = False


def _wait_until_served(http: Any, model: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while http.get(f"/v1/models/{model}").status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the serving app did not load {model} in {timeout_s:.0f} s")
        time.sleep(0.05)


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
    )
    client.set_policy(world.model, policy)
    _, outcome = client.gate(f"{world.model}/1")
    client.deploy(
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


#: the lender's branches: each sends its own requests, and a sticky rollout hashes the branch
BRANCHES = 4


def _serve(
    http: Any,
    recorder: ClockedRecorder,
    world: World,
    rows: pd.DataFrame,
    outstanding: list[pd.DataFrame],
) -> int:
    """Send the tick's applications; returns how many the serving app failed to score (their
    rows are in the log with status "error", which is what the canary analysis reads)."""
    failed = 0
    # each branch sends the tick's decisions in one request: the serving path is the production
    # one, the clock the demo's
    days = pd.to_datetime(rows["decided_at"], utc=True).dt.floor("7D")
    branch = np.arange(len(rows)) % BRANCHES
    for (_, number), chunk in rows.groupby([days, branch], sort=True):
        first = pd.Timestamp(pd.to_datetime(chunk["decided_at"], utc=True).min())
        recorder.now_us = int(first.value // 1000)
        records = chunk[world.features].to_dict("records")
        answer = http.post(
            f"/v1/models/{world.model}/predict",
            json={"records": records, "key": f"branch-{number}"},
        )
        if answer.status_code >= 500:  # the model failed: nothing to label later
            failed += len(chunk)
            continue
        if answer.status_code != 200:
            raise RuntimeError(
                f"the serving app answered {answer.status_code}: {answer.text[:300]}"
            )
        outstanding.append(
            pd.DataFrame(
                {
                    "request_id": answer.json()["row_ids"],
                    "label": chunk[world.target].to_numpy(),
                    "labelled_at": pd.to_datetime(chunk["labelled_at"], utc=True).to_numpy(),
                }
            )
        )
    return failed


def _deliver(
    client: Client, world: World, outstanding: list[pd.DataFrame], until: Any
) -> list[pd.DataFrame]:
    if not outstanding:
        return outstanding
    waiting = pd.concat(outstanding, ignore_index=True)
    due = waiting["labelled_at"] <= pd.Timestamp(until)
    if due.any():
        arrived = waiting[due]
        client.log_labels(
            world.model,
            arrived["request_id"].tolist(),
            arrived["label"].to_numpy(),
            timestamps=arrived["labelled_at"].to_list(),
        )
    return [waiting[~due]] if (~due).any() else []


_SHOWN = {
    "retrain",
    "rejected",
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


def summarise(client: Client, world: World) -> list[dict[str, Any]]:
    """Per month: accuracy (the logged predictions against the outcomes that arrived),
    the label-free estimate and drift of the monitoring windows, retrains, rollbacks, alerts."""
    windows = client.monitor_windows(world.model, limit=100_000)
    retrains = client.retrains(world.model, limit=10_000)
    alerts = client.list_alerts(world.model, limit=1000)
    starts = pd.DatetimeIndex([pd.Timestamp(t.start) for t in world.ticks])
    periods = [t.period for t in world.ticks]

    def period(moment: Any) -> str:
        index = int(starts.searchsorted(pd.Timestamp(moment), side="right")) - 1
        return periods[max(index, 0)]

    out: dict[str, dict[str, Any]] = {}
    for name in periods:
        out.setdefault(
            name,
            {
                "month": name,
                "accuracy": None,
                "est": [],
                "drifted": 0,
                "retrains": 0,
                "rollbacks": 0,
                "rejected": 0,
                "alerts": 0,
            },
        )
    log = client.read_predictions(world.model, labels=True)
    labelled = log[log["label"].notna() & (log["status"] == "ok")]
    if len(labelled):
        right = _same(labelled["prediction"], labelled["label"])
        by_period = right.groupby([period(t) for t in labelled["timestamp"]]).mean()
        for label, value in by_period.items():
            out[str(label)]["accuracy"] = float(value)
    for w in windows:
        row = out[period(w["start_at"])]
        estimate = ((w["estimate"] or {}).get("metrics") or {}).get("accuracy")
        if estimate is not None:
            row["est"].append(float(estimate))
        drifted = (w["drift"] or {}).get("drifted") or []
        row["drifted"] = max(row["drifted"], len(drifted))
    for r in retrains:
        row = out[period(r.created_at)]
        row["retrains"] += 1
        row["rejected"] += r.state == "rejected"
        row["rollbacks"] += r.state == "rolled_back"
    for a in alerts:
        out[period(a.fired_at)]["alerts"] += 1
    return [
        {
            "month": row["month"],
            "accuracy": row["accuracy"],
            "estimated_accuracy": float(np.mean(row["est"])) if row["est"] else None,
            "drifted_features": row["drifted"],
            "retrains": row["retrains"],
            "rejected": row["rejected"],
            "rollbacks": row["rollbacks"],
            "alerts": row["alerts"],
        }
        for row in out.values()
    ]


def _same(predictions: pd.Series, labels: pd.Series) -> pd.Series:
    """Prediction equals outcome, comparing numbers as numbers (a label logged as 1.0 is 1)."""
    left = pd.to_numeric(predictions, errors="coerce")
    right = pd.to_numeric(labels, errors="coerce")
    if left.notna().all() and right.notna().all():
        same = left.to_numpy() == right.to_numpy()
    else:
        same = predictions.astype(str).to_numpy() == labels.astype(str).to_numpy()
    return pd.Series(same.astype(float), index=predictions.index)


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
        threshold = round(_launch_accuracy(world) - 0.02, 3)
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


def _launch_accuracy(world: World) -> float:
    """What the first model scores on the newest fifth of the history (its holdout)."""
    cut = int(len(world.history) * 0.8)
    train_rows, holdout = world.history.iloc[:cut], world.history.iloc[cut:]
    model = world.make_model().fit(train_rows[world.features], train_rows[world.target])
    return float(model.score(holdout[world.features], holdout[world.target]))


def table_policy(model: str, target: str, threshold: float) -> dict[str, Any]:
    """A policy for any table: retrain when accuracy falls two points below what the first
    model scored at launch; a candidate must not be worse than the champion on the newest
    labelled rows."""
    trigger = f"accuracy < {threshold:g} over the last 1,000 labelled predictions"
    return {
        "risk_profile": "low",
        "suites": {
            "release": {"snapshots": [f"{model}-holdout"], "target": target, "resamples": 200}
        },
        "gates": {
            "checks": ["accuracy not worse than champion by more than 0.01 at 95% confidence"]
        },
        "rollout": {"strategy": "replace"},
        "monitoring": {
            "target": target,
            "window": {"rows": 1000},
            "label_horizon": "3650d",
            "drift": {"multivariate": False},
            "alerts": [trigger, "drifted_features >= 3"],
        },
        "retraining": {
            "schedule": None,
            "triggers": [trigger],
            "min_new_labels": 1000,
            "training": {"recent_rows": 10_000, "holdout": 0.2},
        },
    }
