"""Where a server's time goes, for ``bench/serving.py --profile``: py-spy attached to the server
while the load generator drives it.

``record(pid, seconds, out)`` runs ``py-spy record --gil --format raw`` on the process and its
subprocesses: collapsed stacks (one ``frame;frame;... count`` line per distinct stack) of the
thread holding the GIL at each sample, which is the resource a one-process Python server runs
out of (threads waiting in ``fsync`` or on a queue hold no GIL and are not billed). By default it
samples non-blocking (the server is not paused; Python frames only, C code billed to the Python
function that called it); ``native=True`` pauses the process at each sample to read C frames as
well (uvloop, httptools, libc), at a lower rate, which slows the server down while it samples.

``summarise(path)`` ranks functions by their own samples (the frame at the top of the stack) and
by their inclusive samples (anywhere on the stack, once per stack; frames on 95% or more of the
stacks of their thread, the interpreter's, the CLI's and the event loop's plumbing, are left
out), and packages by their own samples, as shares of every sample. Frames are named
``function (file)``, the line number dropped so a function's lines add up, the file shortened to
its path below ``site-packages`` or ``src`` (py-spy shortens most itself); a package is the
file's first folder (two for ``keel``).
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
NATIVE_RATE = 100
_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    """The py-spy executable beside this interpreter, or on the PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    if beside.exists():
        return str(beside)
    return shutil.which("py-spy")


def record(pid: int, seconds: float, out: Path, native: bool = False) -> subprocess.Popen[bytes]:
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
        str(NATIVE_RATE if native else RATE),
        "--format",
        "raw",
        "--gil",
        "--native" if native else "--nonblocking",
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
    for marker in ("site-packages/", "/src/"):  # py-spy shortens most paths itself
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{match['name']} ({file})"


def package(frame: str) -> str:
    match = _FRAME.match(frame)
    file = match["file"] if match else frame
    parts = file.split("/")
    if len(parts) == 1:
        return parts[0]  # a C file or a shared library
    return "/".join(parts[:2]) if parts[0] == "keel" else parts[0]


def summarise(path: Path, top: int = 15) -> dict[str, Any]:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    by_root: Counter[str] = Counter()  # samples per thread entry point
    in_root: Counter[tuple[str, str]] = Counter()
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
        packages[package(code[-1])] += count
        by_root[code[0]] += count
        for frame in set(code):
            inclusive[frame] += count
            in_root[code[0], frame] += count
    # on (nearly) every stack of its thread: the interpreter's, the CLI's, the event loop's entry
    for (root, frame), n in in_root.items():
        if n >= 0.95 * by_root[root]:
            inclusive.pop(frame, None)

    def ranked(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(100 * n / max(total, 1), 1)] for name, n in counter.most_common(top)]

    return {
        "samples": total,
        "own_pct": ranked(own),
        "inclusive_pct": ranked(inclusive),
        "package_own_pct": ranked(packages),
    }
