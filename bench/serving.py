"""Benchmark: one scikit-learn model served by Keel (prediction log on, and off), by a bare FastAPI
endpoint and by ``mlflow models serve``, each with one uvicorn worker, under the same load.

Run ``.venv/bin/python bench/serving.py`` (about 5 minutes: 20 s per load) or with ``--quick``
(5 s per load, MLflow left out unless ``--mlflow``; under a minute). ``--no-mlflow`` leaves MLflow
out; ``--only keel_log,bare`` measures some servers only; ``--profile [SERVER]`` adds a py-spy
profile of one server (``keel_log`` when not named) under a concurrency-32 load, taken after its
measured runs, and prints where its time goes (needs ``.venv/bin/pip install py-spy``);
``--load asyncio`` uses the fallback load generator even when ``wrk`` is there. Before each
server the benchmark waits up to ``--quiet-wait`` seconds (120; 0 with ``--quick``) for other
work on the machine to stop. Progress goes to stderr; the answer is one line of JSON on stdout.

What
- The model: ``LogisticRegression(max_iter=10_000)`` fitted on scikit-learn's breast-cancer set
  (30 numeric features, as a DataFrame, so the model knows its column names), 75% of the rows,
  stratified, seed 0. The same fitted object is served everywhere: pickled for the bare endpoint
  and for MLflow (``bench/_serving_mlflow.py`` saves it as an MLflow model in MLflow's venv, with
  ``pyfunc_predict_fn="predict_proba"`` and a 30-double signature), registered in a temporary Keel
  store (``sqlite:///<tmp>/keel.db``, artifacts in ``<tmp>/art``) with its training rows, alias
  ``champion`` on version 1.
- The servers, on 127.0.0.1, one at a time (the previous one stopped, so they never share the
  two cores), each started in a session of its own and stopped with SIGTERM to that session:
  ``keel_log``: ``keel --store URL --artifacts DIR serve --host 127.0.0.1 --port P --workers 1``;
  ``keel_nolog``: the same with ``--no-log``; ``bare``: ``bench/_serving_bare.py`` (FastAPI,
  pydantic body, NumPy row, ``predict_proba``, uvicorn with one worker); ``mlflow``:
  ``mlflow models serve --env-manager local -m DIR -p P -h 127.0.0.1 --workers 1`` from
  ``.bench/serving-mlflow`` (created with pip when missing: ``mlflow``, ``pandas`` and this venv's
  scikit-learn version, so the pickle loads as the same object).
- The requests: single rows, the 143 held-out rows in turn. Keel and the bare endpoint take
  ``POST /v1/models/cancer/predict`` with ``{"records": [{feature: value, ...}]}``; MLflow takes
  ``POST /invocations`` with ``{"dataframe_split": {"columns": [...], "data": [[...]]}}``. Before
  the load, the first five rows' answers are checked against the model's own ``predict_proba``.
- The load: one process, the same for every server: Debian's ``wrk`` (installed with apt-get
  when missing) with one thread and a Lua script that cycles through the bodies and prints
  requests, errors and latency percentiles; if ``wrk`` cannot be had, ``bench/_serving_load.py``
  (asyncio on uvloop, same closed loop). ``load_generator`` names the one used. Each server is
  warmed up for 2 s (1 s quick) at concurrency 8, then loaded at concurrency 1 for 10 s (2 s
  quick), 8 and 32 for 20 s each (5 s quick), keep-alive connections, back to back.
- Figures per server and concurrency: ``*_rps`` (requests answered / duration), ``*_p50_ms``,
  ``*_p99_ms``, ``*_errors`` (connect, read, write, timeout and non-2xx answers), the server's CPU
  time per request (``*_cpu_us``: user + system of its process tree over the run, from /proc) and
  its CPU use in cores (``*_cores``), the load generator's own use (``*_loadgen_cores``, to show
  it is not the bottleneck) and everything else the machine ran meanwhile (``*_other_cores``,
  from /proc/stat: anything well above zero means the figure was taken on a shared machine).
- Server-side facts: the model's ``predict_proba`` on one row as an array
  (``model_predict_array_us``) and as a one-row DataFrame (``model_predict_frame_us``), and the
  bare arithmetic (``model_arithmetic_us``: dot product and logistic); each server's time per
  request at concurrency 1 (``*_c1_us``) and what the serving layer adds to the model's array call
  (``*_serving_overhead_us``).
- ``ratio_*`` are Keel's requests/s divided by the other's; ``targets`` the issue's goals: Keel
  with logging at least the bare endpoint's throughput at concurrency 8 and 1.5x it at 32, at
  least 5x MLflow (at both), p99 under 50 ms at 32, and every request answered 200.
  ``load_avg_1m`` is the 1-minute load average as each server started and
  ``busy_cores_before`` the machine's busy cores just before: other work skews every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
MLFLOW_VENV = ROOT / ".bench" / "serving-mlflow"
KEEL = Path(sys.executable).with_name("keel")
MODEL = "cancer"
SERVERS = ("keel_log", "keel_nolog", "bare", "mlflow")
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


@dataclass(frozen=True)
class Plan:
    quick: bool
    warmup_s: float
    c1_s: float
    load_s: float
    quiet_wait_s: float
    concurrencies: tuple[int, ...] = (8, 32)

    @classmethod
    def make(cls, quick: bool, quiet_wait_s: float | None) -> Plan:
        if quick:
            return cls(True, 1.0, 2.0, 5.0, 0.0 if quiet_wait_s is None else quiet_wait_s)
        return cls(False, 2.0, 10.0, 20.0, 120.0 if quiet_wait_s is None else quiet_wait_s)


# -- the model ----------------------------------------------------------------------------------
def train() -> tuple[Any, Any, Any]:
    """The fitted classifier, its training frame (with ``target``) and the held-out features."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    features, target = load_breast_cancer(return_X_y=True, as_frame=True)
    x_train, x_test, y_train, _ = train_test_split(
        features, target, test_size=0.25, stratify=target, random_state=0
    )
    model = LogisticRegression(max_iter=10_000).fit(x_train, y_train)
    return model, x_train.assign(target=y_train), x_test


def per_call_us(action: Any, budget_s: float = 0.5) -> float:
    """Mean microseconds per ``action()`` over ``budget_s`` (after one warm-up call)."""
    action()
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < budget_s:
        for _ in range(100):
            action()
        calls += 100
    return elapsed / calls * 1e6


def model_facts(model: Any, rows: Any) -> dict[str, float]:
    import numpy as np

    frame = rows.iloc[[0]]
    array = frame.to_numpy()
    coef, intercept = model.coef_[0], model.intercept_[0]

    def arithmetic() -> Any:
        p = 1.0 / (1.0 + np.exp(-(array @ coef + intercept)))
        return np.column_stack([1 - p, p])

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return {
            "model_predict_array_us": per_call_us(lambda: model.predict_proba(array)),
            "model_predict_frame_us": per_call_us(lambda: model.predict_proba(frame)),
            "model_arithmetic_us": per_call_us(arithmetic),
        }


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


# -- measuring ----------------------------------------------------------------------------------
def measure(
    server: Server, load: Load, plan: Plan, folder: Path, expected: Any, profile: bool
) -> dict[str, Any]:
    """Start the server, check it, warm it up, load it at each concurrency, stop it."""
    out: dict[str, Any] = {"busy_before": wait_for_quiet(plan.quiet_wait_s)}
    out["load_avg_1m"] = os.getloadavg()[0]
    log(f"{server.name}: starting")
    try:
        out["start_s"] = server.start(folder)
        check_answers(server, expected)
        load.run(server, 8, plan.warmup_s)
        for connections, seconds in (
            (1, plan.c1_s),
            *((c, plan.load_s) for c in plan.concurrencies),
        ):
            figures = summary(load.run(server, connections, seconds))
            log(
                f"{server.name} c{connections}: {figures['rps']:,.0f} req/s, "
                f"p50 {figures['p50_ms']:.2f} ms, p99 {figures['p99_ms']:.2f} ms, "
                f"{figures['errors']} errors, server {figures['cpu_us']:.0f} us CPU/request "
                f"({figures['cores']:.2f} cores), load generator {figures['loadgen_cores']:.2f}, "
                f"other work {figures['other_cores']:.2f} cores"
            )
            out[f"c{connections}"] = figures
        assert server.process is not None
        out["rss_mb"] = rss_mb(server.process.pid)
        if profile:
            out["profile"] = profile_server(server, load, folder, plan)
    finally:
        server.stop()
    return out


def profile_server(server: Server, load: Load, folder: Path, plan: Plan) -> dict[str, Any]:
    from _serving_profile import record, summarise

    seconds = max(5.0, plan.load_s / 2)
    raw = folder / f"{server.name}.pyspy.txt"
    assert server.process is not None
    log(f"{server.name}: profiling with py-spy for {seconds:.0f} s at concurrency 32")
    sampler = record(server.process.pid, seconds, raw)
    time.sleep(0.5)
    figures = summary(load.run(server, 32, seconds))
    _, errors = sampler.communicate(timeout=60)
    if sampler.returncode != 0 or not raw.exists():
        raise RuntimeError(f"py-spy failed: {errors.decode(errors='replace')[-2000:]}")
    result = summarise(raw)
    result["rps_while_sampled"] = figures["rps"]
    log(f"{server.name}: {result['samples']} samples; own time:")
    for name, share in result["own_pct"]:
        log(f"  {share:5.1f}%  {name}")
    log(f"{server.name}: inclusive time:")
    for name, share in result["inclusive_pct"]:
        log(f"  {share:5.1f}%  {name}")
    return result


# -- setting the servers up ---------------------------------------------------------------------
def keel_available() -> bool:
    probe = [str(KEEL), "serve", "--help"]
    done = subprocess.run(probe, capture_output=True, text=True)
    return done.returncode == 0 and "--port" in done.stdout


def keel_servers(folder: Path, model: Any, train_frame: Any, bodies: list[bytes]) -> list[Server]:
    import keel

    store, artifacts = f"sqlite:///{folder}/keel.db", f"{folder}/art"
    with keel.Client(store, artifacts) as client:
        version = client.register_model(MODEL, model, training_data=train_frame, target="target")
        client.set_alias(MODEL, "champion", version.version, reason="serving benchmark")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    servers = []
    for name, extra in (("keel_log", []), ("keel_nolog", ["--no-log"])):
        port = free_port()
        command = [str(KEEL), "--store", store, "--artifacts", artifacts, "serve"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", *extra]
        servers.append(
            Server(name, command, port, "/readyz", f"/v1/models/{MODEL}/predict", bodies, env)
        )
    return servers


def bare_server(folder: Path, bodies: list[bytes]) -> Server:
    port = free_port()
    command = [
        sys.executable,
        str(BENCH / "_serving_bare.py"),
        "--model",
        str(folder / "model.pkl"),
    ]
    command += ["--port", str(port)]
    return Server("bare", command, port, "/readyz", f"/v1/models/{MODEL}/predict", bodies)


def mlflow_requirements() -> list[str]:
    """MLflow with this venv's scikit-learn (the pickle must load as the same model) and pandas 2:
    under pandas 3, MLflow 3.17's scoring server spends about 60% more CPU per request building
    its DataFrames (Arrow-backed strings), so pandas 2 is MLflow's better configuration."""
    import sklearn

    return ["mlflow", f"scikit-learn=={sklearn.__version__}", "pandas<3"]


def mlflow_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "KEEL_"))}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", GIT_PYTHON_REFRESH="quiet")
    env["PATH"] = f"{MLFLOW_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"  # its uvicorn
    env["VIRTUAL_ENV"] = str(MLFLOW_VENV)
    return env


def mlflow_python(create: bool) -> Path | None:
    """The MLflow venv's python, created with pip when missing (if ``create``)."""
    import sklearn

    python = MLFLOW_VENV / "bin" / "python"
    code = "import mlflow, pandas, sklearn; print(sklearn.__version__, pandas.__version__[0])"
    probe = [str(python), "-c", code]
    if python.exists():
        done = subprocess.run(probe, capture_output=True, text=True, env=mlflow_env())
        if done.returncode == 0 and done.stdout.split() == [sklearn.__version__, "2"]:
            return python
    if not create:
        return None
    log(f"creating {MLFLOW_VENV} with {' '.join(mlflow_requirements())}")
    subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
    install = [str(python), "-m", "pip", "install", "--quiet", *mlflow_requirements()]
    subprocess.run(install, check=True, stdout=sys.stderr)
    subprocess.run(probe, check=True, env=mlflow_env(), stdout=subprocess.DEVNULL)
    return python


def mlflow_server(python: Path, folder: Path, columns: list[str], rows: Any) -> tuple[Server, str]:
    model_dir = folder / "mlflow-model"
    save = [str(python), str(BENCH / "_serving_mlflow.py"), "--model", str(folder / "model.pkl")]
    done = subprocess.run(
        [*save, "--out", str(model_dir)],
        capture_output=True,
        text=True,
        env=mlflow_env(),
        cwd=folder,
    )
    if done.returncode != 0:
        raise RuntimeError(f"saving the MLflow model failed: {done.stderr[-2000:]}")
    version = json.loads(done.stdout.strip().splitlines()[-1])["version"]
    bodies = [
        json.dumps({"dataframe_split": {"columns": columns, "data": [row]}}).encode()
        for row in rows.to_numpy().tolist()
    ]
    port = free_port()
    command = [str(MLFLOW_VENV / "bin" / "mlflow"), "models", "serve", "--env-manager", "local"]
    command += ["-m", str(model_dir), "-p", str(port), "-h", "127.0.0.1", "--workers", "1"]
    server = Server("mlflow", command, port, "/ping", "/invocations", bodies, mlflow_env(), 180.0)
    return server, version


# -- the answer ---------------------------------------------------------------------------------
def report(
    plan: Plan, load: Load, facts: dict[str, Any], results: dict[str, dict[str, Any]], notes: dict
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "bench": "serving",
        "quick": plan.quick,
        "load_generator": load.name,
        "load_s": plan.load_s,
        "cores": len(os.sched_getaffinity(0)),
        **notes,
        **facts,
    }
    for name, result in results.items():
        for key in ("c1", *(f"c{c}" for c in plan.concurrencies)):
            for figure in ("rps", "p50_ms", "p99_ms", "p90_ms", "max_ms", "errors", "cpu_us"):
                out[f"{name}_{key}_{figure}"] = result[key][figure]
            out[f"{name}_{key}_cores"] = result[key]["cores"]
            out[f"{name}_{key}_loadgen_cores"] = result[key]["loadgen_cores"]
            out[f"{name}_{key}_other_cores"] = result[key]["other_cores"]
        out[f"{name}_c1_us"] = 1e6 / result["c1"]["rps"]
        out[f"{name}_serving_overhead_us"] = out[f"{name}_c1_us"] - facts["model_predict_array_us"]
        out[f"{name}_rss_mb"] = result["rss_mb"]
        out[f"{name}_start_s"] = result["start_s"]
        if "profile" in result:
            out[f"{name}_profile"] = result["profile"]
    out["load_avg_1m"] = {name: r["load_avg_1m"] for name, r in results.items()}
    out["busy_cores_before"] = {name: r["busy_before"] for name, r in results.items()}

    def ratio(a: str, b: str, c: int) -> float | None:
        if a not in results or b not in results:
            return None
        return results[a][f"c{c}"]["rps"] / results[b][f"c{c}"]["rps"]

    for c in plan.concurrencies:
        for a, b in (
            ("keel_log", "bare"),
            ("keel_nolog", "bare"),
            ("keel_log", "mlflow"),
            ("keel_nolog", "mlflow"),
            ("bare", "mlflow"),
            ("keel_log", "keel_nolog"),
        ):
            out[f"ratio_{a}_vs_{b}_c{c}"] = ratio(a, b, c)

    keel = results.get("keel_log")
    vs_bare = [out.get(f"ratio_keel_log_vs_bare_c{c}") for c in (8, 32)]
    vs_mlflow = [out.get(f"ratio_keel_log_vs_mlflow_c{c}") for c in (8, 32)]
    out["targets"] = {
        "keel_log_c8_at_least_bare": None if vs_bare[0] is None else vs_bare[0] >= 1.0,
        "keel_log_c32_at_least_1.5x_bare": None if vs_bare[1] is None else vs_bare[1] >= 1.5,
        "keel_log_at_least_5x_mlflow": None
        if None in vs_mlflow
        else all(r >= 5.0 for r in vs_mlflow if r is not None),
        "keel_log_c32_p99_under_50ms": None if keel is None else keel["c32"]["p99_ms"] < 50.0,
        "every_request_answered": all(
            r[k]["errors"] == 0 for r in results.values() for k in r if k.startswith("c")
        ),
    }
    return out


def rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return round(value, 3) if isinstance(value, float) else value


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="5 s per load, under a minute")
    parser.add_argument("--no-mlflow", action="store_true", help="leave MLflow out")
    parser.add_argument("--only", help=f"comma-separated servers among {', '.join(SERVERS)}")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="keel_log",
        choices=SERVERS,
        help="py-spy profile of one server (keel_log when not named) at concurrency 32",
    )
    parser.add_argument("--mlflow", action="store_true", help="with --quick: include MLflow")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        help="seconds to wait, before each server, for other work on the machine to stop "
        "(default 120, 0 with --quick)",
    )
    parser.add_argument(
        "--load",
        choices=["wrk", "asyncio"],
        default="wrk",
        help="the load generator (asyncio: bench/_serving_load.py, the fallback for no wrk)",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    plan = Plan.make(args.quick, args.quiet_wait)
    wanted = [s for s in (args.only.split(",") if args.only else SERVERS) if s]
    if unknown := set(wanted) - set(SERVERS):
        raise SystemExit(f"unknown servers: {sorted(unknown)}")
    notes: dict[str, Any] = {}
    if "mlflow" in wanted:
        skip = args.no_mlflow or (args.quick and not args.mlflow and not args.only)
        python = None if skip else mlflow_python(create=True)
        if python is None:
            log("MLflow left out (--quick without --mlflow, or --no-mlflow)")
            wanted.remove("mlflow")
    if any(s.startswith("keel") for s in wanted) and not keel_available():
        log("`keel serve` is not available yet: Keel left out")
        notes["keel_serve_available"] = False
        wanted = [s for s in wanted if not s.startswith("keel")]
    wrk = ensure_wrk() if args.load == "wrk" else None
    log("training the model")
    model, train_frame, test_rows = train()
    facts = model_facts(model, test_rows)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        expected = model.predict_proba(test_rows.to_numpy()[:CHECKED_ROWS]).tolist()
    log(
        "model: predict_proba on one row {model_predict_array_us:.0f} us as an array, "
        "{model_predict_frame_us:.0f} us as a DataFrame; arithmetic "
        "{model_arithmetic_us:.1f} us".format(**facts)
    )
    columns = [str(c) for c in test_rows.columns]
    records = [
        json.dumps({"records": [dict(zip(columns, row, strict=True))]}).encode()
        for row in test_rows.to_numpy().tolist()
    ]
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="keel-bench-serving-") as tmp:
        folder = Path(tmp)
        (folder / "model.pkl").write_bytes(pickle.dumps(model))
        load = Load(wrk, folder)
        servers: list[Server] = []
        if any(s.startswith("keel") for s in wanted):
            servers += [
                s for s in keel_servers(folder, model, train_frame, records) if s.name in wanted
            ]
        if "bare" in wanted:
            servers.append(bare_server(folder, records))
        if "mlflow" in wanted:
            assert python is not None
            server, notes["mlflow_version"] = mlflow_server(python, folder, columns, test_rows)
            servers.append(server)
        for server in servers:
            profile = args.profile == server.name
            try:
                results[server.name] = measure(server, load, plan, folder, expected, profile)
            except Exception:
                if server.log_path is not None and server.log_path.exists():
                    log(f"{server.name} log:\n{server.log_path.read_text()[-3000:]}")
                raise
    answer = report(plan, load, facts, results, notes)
    if max(answer["load_avg_1m"].values(), default=0) > answer["cores"]:
        log("warning: the load average exceeded the cores; other work skews the figures")
    print(json.dumps(rounded(answer)), flush=True)


if __name__ == "__main__":
    main()
