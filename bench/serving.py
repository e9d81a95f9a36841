"""Benchmark: one scikit-learn model served by Keel (prediction log on, and off), by a bare FastAPI
endpoint and by ``mlflow models serve``, each with one uvicorn worker, under the same load.

Run ``.venv/bin/python bench/serving.py`` (about 6 minutes: 20 s per load) or with ``--quick``
(4 s per load; Keel's ``--no-wal`` variant left out, and MLflow unless ``--mlflow``; about a
minute). ``--no-mlflow`` leaves MLflow out; ``--only keel_log,bare`` measures some servers only;
``--profile [SERVER]`` adds a py-spy profile of one server (``keel_log`` when not named) under a
concurrency-32 load (``--profile-concurrency``), taken after its measured runs, and prints where
its time goes (needs ``.venv/bin/pip install py-spy``; ``--profile-native`` adds C frames; see
``bench/_serving_profile.py``);
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
  its prediction log goes through its write-ahead log (the default: one shared fsync per batch,
  sealed segments moved to Parquet parts about once a second); ``keel_nowal``: the same with
  ``--no-wal`` (one Parquet part written and fsynced per batch; measured when named in
  ``--only`` or in a full run, and when ``keel serve`` has the flag);
  ``keel_nolog``: the same with ``--no-log``; ``bare``: ``bench/_serving_bare.py`` (FastAPI,
  pydantic body, NumPy row, ``predict_proba``, uvicorn with one worker); ``mlflow``:
  ``mlflow models serve --env-manager local -m DIR -p P -h 127.0.0.1 --workers 1`` from
  ``.bench/serving-mlflow`` (created with pip when missing: ``mlflow``, ``pandas<3`` and this
  venv's scikit-learn version, so the pickle loads as the same object).
- The requests: single rows, the held-out rows in turn, those inside the training range on every
  feature (Keel refuses the others by default; ``request_rows`` of the 143 are left). Keel and the
  bare endpoint take ``POST /v1/models/cancer/predict`` with ``{"records": [{feature: value,
  ...}]}``; MLflow takes ``POST /invocations`` with ``{"dataframe_split": {"columns": [...],
  "data": [[...]]}}``. Before the load, the first five rows' answers are checked against the
  model's own ``predict_proba``.
- The load: one process, the same for every server: Debian's ``wrk`` (installed with apt-get
  when missing) with one thread and a Lua script that cycles through the bodies and prints
  requests, errors and latency percentiles; if ``wrk`` cannot be had, ``bench/_serving_load.py``
  (asyncio on uvloop, same closed loop). ``load_generator`` names the one used. Each server is
  warmed up for 2 s (1 s quick) at concurrency 8, then loaded at concurrency 1 for 10 s (1 s
  quick), 8 and 32 for 20 s each (4 s quick), keep-alive connections, back to back.
- Figures per server and concurrency: ``*_rps`` (requests answered / duration), ``*_p50_ms``,
  ``*_p99_ms``, ``*_errors`` (connect, read, write, timeout and non-2xx answers), the server's CPU
  time per request (``*_cpu_us``: user + system of its process tree over the run, from /proc) and
  its CPU use in cores (``*_cores``), the load generator's own use (``*_loadgen_cores``, to show
  it is not the bottleneck) and everything else the machine ran meanwhile (``*_other_cores``,
  from /proc/stat: anything well above zero means the figure was taken on a shared machine).
- The prediction log: after each of Keel's logging servers has stopped, the rows it added to the
  prediction log (``keel_log_rows_logged``, in ``keel_log_log_parts`` Parquet parts) must cover
  every 200 answer the load generator and the checks counted (``keel_log_answers_counted``;
  requests still in flight when a load ended are answered and logged but not counted, so the rows
  may be a few more).
- Server-side facts: the model's ``predict_proba`` on one row as an array
  (``model_predict_array_us``) and as a one-row DataFrame (``model_predict_frame_us``), and the
  bare arithmetic (``model_arithmetic_us``: dot product and logistic), each the best of 7 means
  of 0.1 s in this process (after waiting up to 30 s for a quiet machine); each server's time
  per request at concurrency 1 (``*_c1_us`` = 1 / requests/s, waits included) and what the
  serving layer adds to the model's array call (``*_serving_overhead_us``); its CPU per request
  at concurrency 1 is ``*_c1_cpu_us``.
- ``ratio_*`` are Keel's requests/s divided by the other's; ``targets`` the issue's goals: Keel
  with logging at least the bare endpoint's throughput at concurrency 8 and 1.5x it at 32, at
  least 5x MLflow (at both), p99 under 50 ms at 32, every answer in the prediction log, and every
  request answered 200; ``targets_keel_nowal`` the same goals for ``keel_nowal``.
  ``load_avg_1m`` is the 1-minute load average as each server started and
  ``busy_cores_before`` the machine's busy cores just before: other work skews every figure.
  ``yardstick_us`` is a fixed pure-Python task timed before each server started and after it
  stopped: this machine's speed drifts by up to 1.8x with nothing visible in /proc/stat, and
  ratios between servers measured at different speeds carry that error.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _serving_harness import (
    CHECKED_ROWS,
    Load,
    Server,
    check_answers,
    ensure_wrk,
    free_port,
    log,
    rss_mb,
    summary,
    wait_for_quiet,
)

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
MLFLOW_VENV = ROOT / ".bench" / "serving-mlflow"
KEEL = Path(sys.executable).with_name("keel")
MODEL = "cancer"
SERVERS = ("keel_log", "keel_nowal", "keel_nolog", "bare", "mlflow")
#: Keel's servers: the extra arguments of ``keel serve``
KEEL_VARIANTS = {"keel_log": [], "keel_nowal": ["--no-wal"], "keel_nolog": ["--no-log"]}
#: what ``--quick`` leaves out unless named in ``--only`` (MLflow also comes with ``--mlflow``)
QUICK_LEAVES_OUT = ("keel_nowal", "mlflow")


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
            return cls(True, 1.0, 1.0, 4.0, 0.0 if quiet_wait_s is None else quiet_wait_s)
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


def per_call_us(action: Any, rounds: int = 7, round_s: float = 0.1) -> float:
    """Microseconds per ``action()``: the best of ``rounds`` means over ``round_s`` each (after
    one warm-up call), so a busy spell on a shared machine does not inflate it."""
    action()
    best = float("inf")
    for _ in range(rounds):
        calls, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < round_s:
            for _ in range(50):
                action()
            calls += 50
        best = min(best, elapsed / calls * 1e6)
    return best


def yardstick_us() -> float:
    """A fixed piece of pure-Python work timed in microseconds: this machine's speed drifts (the
    same code here runs up to 1.8x slower at times, with no other work visible in /proc/stat), so
    each server's figures come with the yardstick read just before it starts and after it stops."""
    return per_call_us(lambda: sum(i * i for i in range(1000)), rounds=5, round_s=0.04)


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


# -- measuring ----------------------------------------------------------------------------------
def measure(
    server: Server, load: Load, plan: Plan, folder: Path, expected: Any, profile: str | None
) -> dict[str, Any]:
    """Start the server, check it, warm it up, load it at each concurrency, stop it."""
    out: dict[str, Any] = {"busy_before": wait_for_quiet(plan.quiet_wait_s)}
    out["load_avg_1m"] = os.getloadavg()[0]
    out["yardstick_us"] = [yardstick_us()]
    already = count_logged(server.prediction_log) if server.prediction_log else None
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
            native = profile.startswith("native")
            connections = int(profile.rsplit(":", 1)[1])
            out["profile"] = profile_server(server, load, folder, plan, native, connections)
    finally:
        stopping = time.perf_counter()
        server.stop()
        out["stop_s"] = time.perf_counter() - stopping
        out["yardstick_us"].append(yardstick_us())
    if server.prediction_log is not None and already is not None:
        now = count_logged(server.prediction_log)
        out["logged"] = {k: now[k] - already[k] for k in now}
        out["answered"] = server.answered
        log(
            f"{server.name}: {out['logged']['rows']:,} rows in {out['logged']['parts']:,} "
            f"prediction-log parts for {server.answered:,} answers the load generator counted"
        )
    return out


def count_logged(root: str) -> dict[str, int]:
    """Rows and parts of the model's prediction log (read while no server runs)."""
    from keel.store.prediction_log import ParquetLogStore

    logs = ParquetLogStore(root)
    parts = logs.parts("predictions", MODEL)
    rows = sum(logs.read(part, columns=["request_id"]).num_rows for part in parts)
    logs.close()
    return {"rows": rows, "parts": len(parts)}


def profile_server(
    server: Server, load: Load, folder: Path, plan: Plan, native: bool, connections: int
) -> dict[str, Any]:
    """py-spy on the server while it serves ``connections`` (see ``_serving_profile``)."""
    from _serving_profile import record, summarise

    seconds = max(5.0, plan.load_s / 2)
    raw = folder / f"{server.name}.pyspy.txt"
    assert server.process is not None
    kind = "native and Python frames, pausing it" if native else "Python frames"
    log(f"{server.name}: py-spy, {seconds:.0f} s at concurrency {connections} ({kind}; GIL holder)")
    sampler = record(server.process.pid, seconds, raw, native=native)
    time.sleep(0.5)
    figures = summary(load.run(server, connections, seconds))
    _, errors = sampler.communicate(timeout=60)
    if sampler.returncode != 0 or not raw.exists():
        raise RuntimeError(f"py-spy failed: {errors.decode(errors='replace')[-2000:]}")
    result = summarise(raw)
    result["native"] = native
    result["concurrency"] = connections
    result["rps_while_sampled"] = figures["rps"]
    log(f"{server.name}: {result['samples']} samples, {figures['rps']:,.0f} req/s meanwhile")
    for title, key in (("own", "own_pct"), ("inclusive", "inclusive_pct")):
        log(f"{server.name}: {title} time:")
        for name, share in result[key]:
            log(f"  {share:5.1f}%  {name}")
    log(f"{server.name}: own time by package:")
    for name, share in result["package_own_pct"]:
        log(f"  {share:5.1f}%  {name}")
    return result


# -- setting the servers up ---------------------------------------------------------------------
def keel_serve_help() -> str | None:
    """``keel serve --help``, or None while the command does not exist."""
    probe = [str(KEEL), "serve", "--help"]
    done = subprocess.run(probe, capture_output=True, text=True)
    return done.stdout if done.returncode == 0 and "--port" in done.stdout else None


def keel_servers(
    folder: Path, model: Any, train_frame: Any, bodies: list[bytes], names: list[str]
) -> list[Server]:
    import keel

    store, artifacts = f"sqlite:///{folder}/keel.db", f"{folder}/art"
    with keel.Client(store, artifacts) as client:
        version = client.register_model(MODEL, model, training_data=train_frame, target="target")
        client.set_alias(MODEL, "champion", version.version, reason="serving benchmark")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    servers = []
    for name in names:
        extra = KEEL_VARIANTS[name]
        port = free_port()
        command = [str(KEEL), "--store", store, "--artifacts", artifacts, "serve"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", *extra]
        server = Server(name, command, port, "/readyz", f"/v1/models/{MODEL}/predict", bodies, env)
        # each logging server logs to its own model log: count before and after
        server.prediction_log = None if name == "keel_nolog" else artifacts
        servers.append(server)
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
        out[f"{name}_stop_s"] = result["stop_s"]
        if "profile" in result:
            out[f"{name}_profile"] = result["profile"]
        if "logged" in result:
            out[f"{name}_rows_logged"] = result["logged"]["rows"]
            out[f"{name}_log_parts"] = result["logged"]["parts"]
            out[f"{name}_answers_counted"] = result["answered"]
    out["load_avg_1m"] = {name: r["load_avg_1m"] for name, r in results.items()}
    out["busy_cores_before"] = {name: r["busy_before"] for name, r in results.items()}
    out["yardstick_us"] = {name: r["yardstick_us"] for name, r in results.items()}

    def ratio(a: str, b: str, c: int) -> float | None:
        if a not in results or b not in results:
            return None
        return results[a][f"c{c}"]["rps"] / results[b][f"c{c}"]["rps"]

    keels = [k for k in KEEL_VARIANTS if k in results]
    for c in plan.concurrencies:
        pairs = [(k, other) for k in keels for other in ("bare", "mlflow")]
        pairs += [("bare", "mlflow"), ("keel_log", "keel_nolog"), ("keel_log", "keel_nowal")]
        for a, b in pairs:
            out[f"ratio_{a}_vs_{b}_c{c}"] = ratio(a, b, c)
    out["targets"] = targets(out, results, "keel_log")
    out["targets"]["every_request_answered"] = all(
        r[k]["errors"] == 0 for r in results.values() for k in r if k.startswith("c")
    )
    if "keel_nowal" in results:
        out["targets_keel_nowal"] = targets(out, results, "keel_nowal")
    return out


def targets(out: dict[str, Any], results: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    """The issue's goals for one of Keel's servers (None where a figure is missing)."""
    keel = results.get(name)
    vs_bare = [out.get(f"ratio_{name}_vs_bare_c{c}") for c in (8, 32)]
    vs_mlflow = [out.get(f"ratio_{name}_vs_mlflow_c{c}") for c in (8, 32)]
    return {
        f"{name}_c8_at_least_bare": None if vs_bare[0] is None else vs_bare[0] >= 1.0,
        f"{name}_c32_at_least_1.5x_bare": None if vs_bare[1] is None else vs_bare[1] >= 1.5,
        f"{name}_at_least_5x_mlflow": None
        if None in vs_mlflow
        else all(r >= 5.0 for r in vs_mlflow if r is not None),
        f"{name}_c32_p99_under_50ms": None if keel is None else keel["c32"]["p99_ms"] < 50.0,
        f"{name}_logged_every_answer": None
        if keel is None or "logged" not in keel
        else keel["logged"]["rows"] >= keel["answered"],
    }


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
    parser.add_argument("--quick", action="store_true", help="4 s per load, about a minute")
    parser.add_argument("--no-mlflow", action="store_true", help="leave MLflow out")
    parser.add_argument("--only", help=f"comma-separated servers among {', '.join(SERVERS)}")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="keel_log",
        choices=SERVERS,
        help="py-spy profile of one server (keel_log when not named) at concurrency 32",
    )
    parser.add_argument(
        "--profile-concurrency", type=int, default=32, help="with --profile: the load (32)"
    )
    parser.add_argument(
        "--profile-native",
        action="store_true",
        help="with --profile: C frames too (pauses the server at each sample)",
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
    if args.quick and not args.only:
        wanted = [s for s in wanted if s not in QUICK_LEAVES_OUT or (s == "mlflow" and args.mlflow)]
    if args.no_mlflow and "mlflow" in wanted:
        wanted.remove("mlflow")
    python = mlflow_python(create=True) if "mlflow" in wanted else None
    if any(s.startswith("keel") for s in wanted):
        usage = keel_serve_help()
        if usage is None:
            log("`keel serve` is not available yet: Keel left out")
            notes["keel_serve_available"] = False
            wanted = [s for s in wanted if not s.startswith("keel")]
        elif "keel_nowal" in wanted and "--no-wal" not in usage:
            log("`keel serve` has no --no-wal: keel_nowal left out")
            wanted.remove("keel_nowal")
    wrk = ensure_wrk() if args.load == "wrk" else None
    log("training the model")
    model, train_frame, test_rows = train()
    wait_for_quiet(min(30.0, plan.quiet_wait_s))
    facts = model_facts(model, test_rows)
    log(
        "model: predict_proba on one row {model_predict_array_us:.0f} us as an array, "
        "{model_predict_frame_us:.0f} us as a DataFrame; arithmetic "
        "{model_arithmetic_us:.1f} us".format(**facts)
    )
    # rows outside the training range are answered with warnings; keep the load to rows every
    # server treats alike, so the comparison measures serving, not warning text
    features = train_frame.drop(columns="target")
    inside = ((test_rows >= features.min()) & (test_rows <= features.max())).all(axis=1)
    notes["request_rows"] = int(inside.sum())
    notes["held_out_rows_outside_training_range"] = int((~inside).sum())
    test_rows = test_rows[inside]
    columns = [str(c) for c in test_rows.columns]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        expected = model.predict_proba(test_rows.to_numpy()[:CHECKED_ROWS]).tolist()
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
            names = [s for s in KEEL_VARIANTS if s in wanted]
            servers += keel_servers(folder, model, train_frame, records, names)
        if "bare" in wanted:
            servers.append(bare_server(folder, records))
        if "mlflow" in wanted:
            assert python is not None
            server, notes["mlflow_version"] = mlflow_server(python, folder, columns, test_rows)
            servers.append(server)
        for server in servers:
            profile = None
            if args.profile == server.name:
                kind = "native" if args.profile_native else "python"
                profile = f"{kind}:{args.profile_concurrency}"
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
