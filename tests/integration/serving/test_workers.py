"""Two uvicorn workers: both pick up a new champion without a restart, and ``/metrics`` sums the
requests of both (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pandas as pd
import pytest

from keel.client import Client
from keel.settings import Settings
from tests.integration.serving.conftest import (
    Server,
    assert_clean,
    post_many,
    start_server,
    stop_server,
)
from tests.integration.serving.test_predict import _sample

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_workers(store: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("workers")
    server = start_server(store, folder, "--workers", "2", "--poll", "0.2")
    yield server
    assert_clean(stop_server(server))


def plans_by_worker(server: Server, attempts: int = 400) -> dict[int, Any]:
    """Each worker's plan for ``duo``, asked over fresh connections until both have answered."""
    seen: dict[int, Any] = {}
    for _ in range(attempts):
        answer = httpx.get(f"{server.url}/readyz", timeout=5.0)
        if answer.status_code != 200:  # this worker is still loading
            time.sleep(0.05)
            continue
        seen[answer.json()["worker"]] = answer.json()["models"]["duo"]["stable"]
        if len(seen) == 2:
            break
    return seen


def test_two_workers_both_switch_and_share_metrics(
    two_workers: Server, cancer_frame: pd.DataFrame
) -> None:
    rows = cancer_frame.drop(columns=["target"]).to_dict("records")
    first = plans_by_worker(two_workers)
    assert len(first) == 2 and set(first.values()) == {1}
    before = post_many(two_workers, "/v1/models/duo/predict", rows[:60])
    assert {a.json()["version"] for a in before} == {1}
    with Client(settings=two_workers.settings) as client:
        client.set_alias("duo", "champion", 2, reason="both workers must follow")
    two_workers.wait(
        lambda: set(plans_by_worker(two_workers).values()) == {2}, what="both workers on v2"
    )
    workers_answering: set[int] = set()
    after = []
    for row in rows[:60]:  # fresh connections, so both workers answer some
        with two_workers.client() as http:
            after.append(http.post("/v1/models/duo/predict", json=row))
            workers_answering.add(http.get("/healthz").json()["worker"])
    assert {a.status_code for a in after} == {200}
    assert {a.json()["version"] for a in after} == {2}
    assert len(workers_answering) == 2
    metrics = httpx.get(f"{two_workers.url}/metrics").text
    assert _sample(metrics, "keel_requests_total", model="duo", version="1") == 60
    assert _sample(metrics, "keel_requests_total", model="duo", version="2") == 60
