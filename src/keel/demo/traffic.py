"""The demo's traffic: the serving app under uvicorn in this process with its log writer on the
demo's clock, the lender's branches sending each tick's decisions, and outcomes delivered as
labels when they arrive."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from keel.client import Client
from keel.demo.world import World
from keel.settings import Settings

__all__ = ["ClockedRecorder", "deliver", "serve", "served_over_http", "wait_until_served"]


class ClockedRecorder:
    """The serving app's log writer with the demo's clock in place of the wall clock."""

    def __init__(self, settings: Settings) -> None:
        from keel.serving.logging import LogStoreRecorder
        from keel.store.prediction_log import ParquetLogStore

        self.inner = LogStoreRecorder(ParquetLogStore(settings.artifacts))
        self.now_us = 0

    def record(
        self, model: str, columns: dict[str, Any], types: dict[str, str] | None = None
    ) -> None:
        rows = len(columns["request_id"])
        columns["timestamp"] = np.full(rows, self.now_us, dtype=np.int64)
        self.inner.record(model, columns, types)

    def close(self) -> None:
        self.inner.close()


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


def wait_until_served(http: Any, client: Client, model: str, timeout_s: float = 30.0) -> None:
    """Wait until the serving app serves the registry's current plan for ``model`` with every
    version loaded, so the next traffic follows what the autopilot just decided."""
    wanted = client.registry.serving_plans()[model].to_dict()
    versions = {v for v in (wanted["stable"], wanted["candidate"]) if v is not None}
    deadline = time.monotonic() + timeout_s
    while True:
        answer = http.get(f"/v1/models/{model}")
        if answer.status_code == 200:
            served = answer.json()
            loaded = {v["version"] for v in served["versions"]}
            if all(served.get(k) == v for k, v in wanted.items()) and loaded == versions:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the serving app did not take {model}'s plan in {timeout_s:.0f} s")
        time.sleep(0.02)


#: the lender's branches: each sends its own requests, and a sticky rollout hashes the branch
BRANCHES = 4


def serve(
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


def deliver(
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
