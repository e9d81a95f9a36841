"""Real servers for the serving tests: ``python -m keel.cli.serve`` in a subprocess on
127.0.0.1 and a free port, against a SQLite store and an artifact folder made for the module,
stopped (SIGTERM, then SIGKILL to its own process group) at teardown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from keel.client import Client
from keel.settings import Settings

READY_TIMEOUT_S = 40.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    stderr: Path
    settings: Settings

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0, **kwargs)  # type: ignore[arg-type]

    def wait(self, check: object, timeout: float = 10.0, what: str = "condition") -> None:
        """Poll ``check()`` until it is true (plans reach workers within a poll interval)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():  # type: ignore[operator]
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def post_many(
    server: Server,
    path: str,
    bodies: list[dict[str, Any]],
    headers: list[dict[str, str]] | None = None,
    concurrency: int = 8,
) -> list[httpx.Response]:
    """POST every body, ``concurrency`` at a time (so they share batches); answers in order."""
    from concurrent.futures import ThreadPoolExecutor

    with server.client() as http, ThreadPoolExecutor(concurrency) as pool:
        sent = [
            pool.submit(http.post, path, json=body, headers=headers[i] if headers else None)
            for i, body in enumerate(bodies)
        ]
        return [future.result() for future in sent]


def start_server(settings: Settings, folder: Path, *args: str) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "KEEL_STORE_URL": settings.store_url,
        "KEEL_ARTIFACTS": settings.artifacts,
        "KEEL_USER": "server",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    stderr = folder / f"server-{port}.stderr"
    command = [sys.executable, "-m", "keel.cli.serve", "--host", "127.0.0.1", "--port", str(port)]
    with stderr.open("wb") as sink:
        process = subprocess.Popen(
            [*command, *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, stderr, settings)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited early:\n{stderr.read_text()}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=1.0).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop_server(server)
    raise AssertionError(f"the server was not ready in {READY_TIMEOUT_S} s:\n{stderr.read_text()}")


def stop_server(server: Server) -> str:
    """Stop the server and return its stderr."""
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # our own child's session, nothing else
            process.wait(5)
    return server.stderr.read_text()


def assert_clean(stderr: str) -> None:
    """No traceback and no warning in the server's own output."""
    for line in stderr.splitlines():
        assert "Traceback" not in line and "Warning" not in line, stderr


# -- stores -------------------------------------------------------------------------------------
@pytest.fixture(scope="package")
def two_models(cancer_frame: pd.DataFrame) -> tuple[object, object]:
    """Two different classifiers on the breast-cancer features (fitted on a DataFrame)."""
    from sklearn.linear_model import LogisticRegression

    features = cancer_frame.drop(columns=["target"])
    first = LogisticRegression(max_iter=5000).fit(features, cancer_frame["target"])
    second = LogisticRegression(max_iter=5000, C=0.001).fit(features, cancer_frame["target"])
    return first, second


def mixed_frame(rows: int = 300) -> pd.DataFrame:
    """An integer, a number and a category: the model behind them needs a DataFrame."""
    generator = np.random.default_rng(7)
    age = generator.integers(18, 80, rows)
    income = generator.uniform(10.0, 200.0, rows)
    plan = generator.choice(["basic", "pro", "team"], rows)
    target = ((age > 45) ^ (plan == "pro")).astype(int)
    return pd.DataFrame({"age": age, "income": income, "plan": plan, "target": target})


def mixed_model(frame: pd.DataFrame) -> object:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prepare = ColumnTransformer(
        [("numbers", StandardScaler(), ["age", "income"]), ("plan", OneHotEncoder(), ["plan"])]
    )
    model = Pipeline([("prepare", prepare), ("classify", LogisticRegression(max_iter=1000))])
    return model.fit(frame.drop(columns=["target"]), frame["target"])


@pytest.fixture(scope="package")
def store(
    tmp_path_factory: pytest.TempPathFactory,
    cancer_frame: pd.DataFrame,
    two_models: tuple[object, object],
) -> Iterator[Settings]:
    """One store for the package: each test owns a model name, so plans do not interfere."""
    folder = tmp_path_factory.mktemp("serving")
    settings = Settings(
        store_url=f"sqlite:///{folder / 'keel.db'}",
        artifacts=str(folder / "artifacts"),
        actor="tester",
    )
    with Client(settings=settings) as client:
        snapshot = client.register_snapshot(cancer_frame, "cancer")
        for name in ("cancer", "swap", "ab", "shadow", "counted", "duo", "walled"):
            for model in two_models:
                client.register_model(name, model, training_data=snapshot, target="target")
            client.set_alias(name, "champion", 1, reason="first release")
        frame = mixed_frame()
        client.register_model("mixed", mixed_model(frame), training_data=frame, target="target")
        client.set_alias("mixed", "champion", 1, reason="first release")
    yield settings


@pytest.fixture(scope="package")
def server(store: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One worker, prediction log on, plans polled every 0.2 s."""
    running = start_server(store, tmp_path_factory.mktemp("logs"), "--poll", "0.2")
    yield running
    assert_clean(stop_server(running))
