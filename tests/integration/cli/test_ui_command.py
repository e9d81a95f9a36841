"""``keel ui`` for real: a process on 127.0.0.1 and a free port over an empty embedded store,
answering the dashboard under ``/ui/`` and sending ``/`` there; stopped by the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.integration.serving.conftest import free_port


def test_keel_ui_serves_the_dashboard(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "KEEL_STORE_URL": f"sqlite:///{tmp_path / 'keel.db'}",
        "KEEL_ARTIFACTS": str(tmp_path / "artifacts"),
    }
    command = [sys.executable, "-m", "keel.cli.ui", "--host", "127.0.0.1", "--port", str(port)]
    err = tmp_path / "stderr.txt"
    with err.open("wb") as sink:
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=sink, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        answer = None
        while time.monotonic() < deadline and answer is None:
            assert process.poll() is None, err.read_text()
            try:
                answer = httpx.get(f"{base}/ui/", timeout=2.0)
            except httpx.TransportError:
                time.sleep(0.1)
        assert answer is not None and answer.status_code == 200, err.read_text()
        assert "No model is registered yet" in answer.text
        assert answer.headers["server-timing"].startswith("app;dur=")
        home = httpx.get(f"{base}/", timeout=2.0)
        assert home.status_code == 307 and home.headers["location"] == "/ui/"
        missing = httpx.get(f"{base}/ui/models/nothing", timeout=2.0)
        assert missing.status_code == 404 and "nothing" in missing.text
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    assert "Traceback" not in err.read_text()
