"""Where a server's time goes, for ``bench/serving.py --profile``: py-spy attached to the server
while the load generator drives it.

``record(pid, seconds, out)`` runs ``py-spy record --format raw`` (collapsed stacks, one
``frame;frame;... count`` line per distinct stack, idle threads left out) on the process and its
subprocesses, non-blocking so the server is not paused at each sample; ``summarise(path)`` reads
that file and ranks functions by their own samples (the frame at the top of the stack) and by
their inclusive samples (anywhere on the stack, once per stack), as shares of every sample taken.
Frames are named ``function (file)``, the line number dropped so a function's lines add up, with
the file shortened to its path below ``site-packages`` or ``src``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

RATE = 250
_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    """The py-spy executable beside this interpreter, or on the PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    if beside.exists():
        return str(beside)
    return shutil.which("py-spy")


def record(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` for ``seconds``; the caller waits for the returned process."""
    executable = py_spy()
    if executable is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    command = [
        executable,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        str(RATE),
        "--format",
        "raw",
        "--nonblocking",
        "--subprocesses",
        "--output",
        str(out),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    file = match["file"]
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{match['name']} ({file})"


def summarise(path: Path, top: int = 15) -> dict[str, Any]:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [short(f) for f in stack.split(";")]
        # py-spy puts the process and thread first when they are named; keep code frames only
        code = [f for f in frames if f.endswith(")") and not f.startswith(("process ", "thread "))]
        if not code:
            continue
        total += count
        own[code[-1]] += count
        for frame in set(code):
            inclusive[frame] += count

    def ranked(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(100 * n / total, 1)] for name, n in counter.most_common(top)]

    return {
        "samples": total,
        "rate_hz": RATE,
        "own_pct": ranked(own),
        "inclusive_pct": ranked(inclusive),
    }
