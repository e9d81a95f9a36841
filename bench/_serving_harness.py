"""The machinery of ``bench/serving.py``: servers started in sessions of their own and stopped by
signalling that session, answers checked, CPU time read from /proc (a process tree's, the whole
machine's), and the load generator: Debian's ``wrk`` with a Lua script, or the asyncio fallback
``bench/_serving_load.py``. Every figure a load run returns is described in ``serving.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
CHECKED_ROWS = 5
LUA = r"""
local requests = {}
local counter = 0
function init(args)
  for line in io.lines(args[2]) do
    if #line > 0 then
      requests[#requests + 1] = wrk.format(
        "POST", args[1], {["Content-Type"] = "application/json"}, line)
    end
  end
end
function request()
  counter = counter % #requests + 1
  return requests[counter]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests": %d, "duration_us": %d, "errors_connect": %d, ' ..
    '"errors_read": %d, "errors_write": %d, "errors_status": %d, "errors_timeout": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "p999_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
"""


def log(message: str) -> None:
    print(f"[serving] {message}", file=sys.stderr, flush=True)


# -- the servers --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """One server to measure: how to start it, where it is ready, what to post to it."""

    name: str
    command: list[str]
    port: int
    ready_path: str
    predict_path: str
    bodies: list[bytes]
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    start_timeout_s: float = 90.0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    #: the prediction log's root, for a server that should log every answer
    prediction_log: str | None = None
    #: answers received (checks, warm-up, measured and profiled runs)
    answered: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self, folder: Path) -> float:
        self.log_path = folder / f"{self.name}.log"
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(
                self.command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=folder,
                start_new_session=True,
            )
        started = time.perf_counter()
        while time.perf_counter() - started < self.start_timeout_s:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(self.url(self.ready_path), timeout=1) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {self.start_timeout_s:.0f} s")

    def stop(self) -> None:
        """SIGTERM to the server's own session, then SIGKILL if it lingers past 20 s."""
        if self.process is None or self.process.poll() is not None:
            return
        group = self.process.pid  # start_new_session: the group is the server's own
        with _gone():
            os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            log(f"{self.name} ignored SIGTERM for 20 s; killing it")
            with _gone():
                os.killpg(group, signal.SIGKILL)
            self.process.wait(timeout=10)
        with _gone():
            os.killpg(group, signal.SIGKILL)  # helpers the server left behind, if any

    def post(self, body: bytes) -> Any:
        request = urllib.request.Request(
            self.url(self.predict_path), data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                self.answered += 1
                return json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:1000].decode(errors="replace")
            raise RuntimeError(f"{self.name} answered {exc.code}: {detail}") from exc


class _gone:
    """Ignore ProcessLookupError (the process has already exited)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, value: Any, trace: Any) -> bool:
        return kind is ProcessLookupError


def numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in numbers(v)]
    return []


def check_answers(server: Server, expected: Any) -> None:
    """The first rows' answers must contain the model's probability of class 1."""
    for body, probabilities in zip(server.bodies[:CHECKED_ROWS], expected, strict=False):
        answer = server.post(body)
        if not any(abs(n - probabilities[1]) < 1e-6 for n in numbers(answer)):
            raise RuntimeError(f"{server.name} answered {answer!r}, expected {probabilities}")


def tree_pids(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(root: int) -> float:
    """User + system CPU seconds of a process and its descendants (live ones)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in tree_pids(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def rss_mb(root: int) -> float:
    total = 0
    for pid in tree_pids(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores, anything but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(limit_s: float, cores: float = 0.3) -> float:
    """Wait (up to ``limit_s``) until the machine's busy cores over one second fall under
    ``cores``; returns the last reading. Other engineers' tests share this machine."""
    deadline = time.monotonic() + limit_s
    while True:
        before = machine_busy_seconds()
        time.sleep(1.0)
        busy = machine_busy_seconds() - before
        if busy < cores or time.monotonic() >= deadline:
            return busy
        log(f"the machine is busy ({busy:.2f} cores of other work); waiting")
        time.sleep(4.0)


# -- the load generator -------------------------------------------------------------------------
def ensure_wrk() -> str | None:
    if shutil.which("wrk"):
        return "wrk"
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing wrk with apt-get")
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run(["apt-get", "update", "-qq"], check=False, **quiet)  # type: ignore[call-overload]
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, **quiet)  # type: ignore[call-overload]
    return "wrk" if shutil.which("wrk") else None


@dataclass
class Load:
    wrk: str | None
    folder: Path

    @property
    def name(self) -> str:
        if self.wrk is None:
            return "bench/_serving_load.py (asyncio, uvloop)"
        version = subprocess.run([self.wrk, "-v"], capture_output=True, text=True).stdout
        return f"wrk ({version.split()[1] if version.split() else '?'}, 1 thread, Lua script)"

    def run(self, server: Server, connections: int, seconds: float) -> dict[str, Any]:
        """Drive ``server`` for ``seconds``; the generator's figures plus CPU used on each side."""
        bodies = self.folder / f"{server.name}.bodies"
        if not bodies.exists():
            bodies.write_bytes(b"\n".join(server.bodies) + b"\n")
        url = server.url(server.predict_path)
        if self.wrk is not None:
            script = self.folder / "post.lua"
            script.write_text(LUA)
            command = [self.wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s"]
            command += ["-s", str(script), url, "--", server.predict_path, str(bodies)]
        else:
            command = [sys.executable, str(BENCH / "_serving_load.py"), "--url", url]
            command += ["--bodies", str(bodies), "--connections", str(connections)]
            command += ["--duration", str(seconds)]
        assert server.process is not None
        server_cpu = cpu_seconds(server.process.pid)
        machine = machine_busy_seconds()
        started = time.perf_counter()
        generator = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert generator.stdout is not None
        output = generator.stdout.read()
        _, status, usage = os.wait4(generator.pid, 0)
        generator.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        server_cpu = cpu_seconds(server.process.pid) - server_cpu
        machine = machine_busy_seconds() - machine
        if generator.returncode != 0:
            raise RuntimeError(f"the load generator failed ({generator.returncode}): {output}")
        lines = [line for line in output.splitlines() if line.startswith(("WRKJSON ", "{"))]
        figures: dict[str, Any] = json.loads(lines[-1].removeprefix("WRKJSON "))
        server.answered += figures["requests"] - figures["errors_status"]
        figures["server_cpu_s"] = server_cpu
        figures["loadgen_cpu_s"] = usage.ru_utime + usage.ru_stime
        figures["wall_s"] = wall
        figures["machine_busy_s"] = machine
        return figures


def summary(figures: dict[str, Any]) -> dict[str, Any]:
    requests = figures["requests"]
    seconds = figures["duration_us"] / 1e6
    errors = sum(figures[k] for k in figures if k.startswith("errors_"))
    return {
        "rps": requests / seconds,
        "p50_ms": figures["p50_us"] / 1000,
        "p90_ms": figures["p90_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "max_ms": figures["max_us"] / 1000,
        "requests": requests,
        "errors": errors,
        "cpu_us": figures["server_cpu_s"] / max(requests, 1) * 1e6,
        "cores": figures["server_cpu_s"] / figures["wall_s"],
        "loadgen_cores": figures["loadgen_cpu_s"] / figures["wall_s"],
        # everything else the machine ran meanwhile (other users' work, the kernel's)
        "other_cores": max(
            0.0,
            figures["machine_busy_s"] - figures["server_cpu_s"] - figures["loadgen_cpu_s"],
        )
        / figures["wall_s"],
    }
