"""A server killed with SIGKILL under load loses no acknowledged prediction: every request that
got a 200 is in the prediction log once the server has started again."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pandas as pd
import pytest

from keel.client import Client
from keel.settings import Settings
from tests.integration.serving.conftest import start_server, stop_server
from tests.integration.serving.test_predict import logged_rows

pytestmark = pytest.mark.slow


def test_sigkill_under_load_loses_no_acknowledged_prediction(
    store: Settings,
    tmp_path_factory: pytest.TempPathFactory,
    cancer_frame: pd.DataFrame,
    two_models: tuple[object, object],
) -> None:
    with Client(settings=store) as client:
        client.register_model("killed", two_models[0], training_data=cancer_frame, target="target")
        client.set_alias("killed", "champion", 1, reason="to be killed")
    folder = tmp_path_factory.mktemp("killed")
    server = start_server(store, folder, "--poll", "0.2")
    rows = cancer_frame.drop(columns=["target"]).to_dict("records")
    acknowledged: list[str] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load(offset: int) -> None:
        with httpx.Client(base_url=server.url, timeout=5.0) as http:
            sent = 0
            while not stop.is_set() and sent < 5_000:  # bounded
                try:
                    answer = http.post(
                        "/v1/models/killed/predict", json=rows[(offset + sent) % 500]
                    )
                except httpx.TransportError:
                    return  # the server is gone: nothing more can be acknowledged
                sent += 1
                with lock:
                    if answer.status_code == 200:
                        acknowledged.append(answer.json()["request_id"])
                    else:
                        failures.append(answer.text)

    threads = [threading.Thread(target=load, args=(i * 37,)) for i in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 600 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(server.process.pid, signal.SIGKILL)  # mid-load, no chance to flush
    server.process.wait(10)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert failures == [] and len(acknowledged) >= 600
    restarted = start_server(store, folder, "--poll", "0.2")  # replays the dead one's segments
    try:
        logged = logged_rows(restarted, "killed").column("request_id").to_pylist()
    finally:
        stop_server(restarted)
    assert len(logged) == len(set(logged))  # nothing twice
    missing = set(acknowledged) - set(logged)
    assert not missing, f"{len(missing)} acknowledged predictions were lost"
