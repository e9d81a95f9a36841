"""Killing a writer mid-stream: the tests of durable logs run a script that prints ``ack N``
after each batch it was told is durable, SIGKILL it, and check every acknowledged batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def acknowledged_before_sigkill(
    script: str, folder: Path, args: list[str], wanted: int, timeout_s: float = 60.0
) -> list[int]:
    """Run ``script`` with ``args`` until it has acknowledged ``wanted`` batches (or the
    timeout), kill it with SIGKILL, and return the batch numbers it acknowledged."""
    path = folder / "writer.py"
    path.write_text(script)
    process = subprocess.Popen(
        [sys.executable, str(path), *args], stdout=subprocess.PIPE, text=True
    )
    acknowledged: list[int] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + timeout_s
        while len(acknowledged) < wanted and time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith("ack"):
                acknowledged.append(int(line.split()[1]))
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
    return acknowledged
