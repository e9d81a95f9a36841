"""Benchmark: Keel's registry against MLflow's, doing the same work on their embedded stores.

Run ``.venv/bin/python bench/registry.py`` (10-15 minutes, mostly MLflow's file store) or with
``--quick`` (under a minute on an idle machine).
Progress goes to stderr; the answer is one line of JSON on stdout.

How
- MLflow lives in its own venv, ``.bench/mlflow-venv`` (git-ignored), created with ``mlflow`` and
  ``scikit-learn`` on first use and reused afterwards. Its half runs as ``bench/_mlflow_worker.py``
  under that venv's python, in a temporary working folder, once per store: MLflow's default
  ``sqlite:///mlflow.db`` and its ``./mlruns`` file store (``MLFLOW_ALLOW_FILE_STORE=true``), with
  telemetry off. MLflow's baseline for each operation is its best store and configuration.
- Keel runs in this process, in a temporary working folder, on ``sqlite:///<tmp>/keel.db`` with
  artifacts in ``<tmp>/artifacts``.
- Both train the same LogisticRegression on scikit-learn's bundled breast-cancer data, and do one
  warm-up registration (and load) first so one-off imports are not billed to the first call.
- "median of N" means N calls, or fewer (at least one) once they have taken 20 s / 1 s.

What (full / ``--quick``)
- register: 200 / 50 versions; Keel ``register_model(..., training_data=snapshot)`` in a run;
  MLflow ``log_model(..., registered_model_name=...)`` in a run, with inferred requirements (its
  default: seconds per version, so timed on a sample of 5 / 1 versions, quick: SQLite only) and
  with ``pip_requirements`` given. Mean ms per version.
- list versions of that model: median of 5 / 3 (MLflow: ``search_model_versions("name='m'")``).
- load by alias ``models:/m@champion``: median of 20 / 5 (MLflow: ``mlflow.sklearn.load_model``).
- move an alias: median of 20 / 5 moves, each to a different version.
- metrics: 1,000 / 200 single ``log_metric`` calls and one batch of 1,000; ms per metric.
- cold import: ``python -c "import keel"`` / ``"import mlflow"`` minus ``python -c pass``, wall
  time of fresh interpreters in an empty folder, median of 3 / 1.
- a model with 10,000 / 1,000 versions ("big"), each with an accuracy: Keel registers the model
  that many times with ``metrics={"acc": ...}``; MLflow creates versions of one logged model with
  ``create_model_version`` and an ``acc_over_half`` tag (its version search cannot filter on
  metrics); the file store past 100 / 20 versions gets copies of the version files instead (its
  API is quadratic there). Timed: the fill (per version; informational, as Keel stores a model
  and MLflow only a pointer), listing all versions and searching those with accuracy over 0.5
  (Keel ``filter="metrics.acc > 0.5"``), medians of 5 / 3.

Every ``speedup_*`` is MLflow's best figure divided by Keel's. ``targets`` holds the goals from
the issue and whether Keel meets them. ``load_avg_1m`` is the machine's load as each part started:
the parts run one after another, so on a busy machine they are not measured alike.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _timing import accuracy, mean_ms, median_ms

if TYPE_CHECKING:
    import pandas as pd

    import keel

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / ".bench"
MLFLOW_VENV = BENCH_DIR / "mlflow-venv"
WORKER = Path(__file__).with_name("_mlflow_worker.py")
MLFLOW_STORES = ("sqlite", "file")
BIG_MODEL = "big"
STARTED = time.perf_counter()
#: the 1-minute load average when each part started: other work on the machine skews every figure
LOADS: dict[str, float] = {}

#: (name, Keel figure, limit): Keel's figure must be below the limit
TARGETS = (
    ("log_metric_under_1ms", "keel_log_metric_ms", 1.0),
    ("register_under_20ms", "keel_register_ms", 20.0),
    ("load_alias_under_10ms", "keel_load_alias_ms", 10.0),
    ("import_under_0.3s", "keel_import_s", 0.3),
    ("list_10k_versions_under_50ms", "keel_big_list_ms", 50.0),
)
#: operations compared with MLflow (figure suffix after ``keel_`` / ``mlflow_``)
OPERATIONS = (
    "register_ms",
    "list_versions_ms",
    "load_alias_ms",
    "set_alias_ms",
    "log_metric_ms",
    "log_metrics_batch_ms",
    "import_s",
    "big_list_ms",
    "big_search_ms",
)
MIN_SPEEDUP = 3.0


@dataclass(frozen=True)
class Plan:
    """How much work each half does."""

    quick: bool
    versions: int
    infer_versions: int
    big: int
    loads: int
    moves: int
    metrics: int
    batch_metrics: int
    list_reps: int
    budget_s: float
    import_reps: int
    file_api_versions: int

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if quick:
            return cls(True, 50, 1, 1_000, 5, 5, 200, 1_000, 3, 1.0, 1, 20)
        return cls(False, 200, 5, 10_000, 20, 20, 1_000, 1_000, 5, 20.0, 3, 100)

    def infer_versions_on(self, store: str) -> int:
        """Inferred-requirements registrations take seconds: quick runs do them on SQLite only."""
        return 0 if self.quick and store != "sqlite" else self.infer_versions


# -- helpers ------------------------------------------------------------------------------------
def log(message: str) -> None:
    print(f"[bench +{time.perf_counter() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def note_load(part: str) -> None:
    """Record the load average as ``part`` starts; warn when other work competes for the CPUs."""
    load = os.getloadavg()[0]
    LOADS[part] = round(load, 2)
    if load > 0.5 * (os.cpu_count() or 1):
        log(f"the machine is busy (load {load:.1f}): figures for {part} will be noisy")


def round_figures(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}


# -- the MLflow venv ----------------------------------------------------------------------------
def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def imports_cleanly(python: Path, modules: str) -> bool:
    """Whether ``python`` can import ``modules`` (run in an empty folder: no shadowing)."""
    with tempfile.TemporaryDirectory() as empty:
        done = subprocess.run(
            [str(python), "-c", f"import {modules}"], cwd=empty, capture_output=True, check=False
        )
    return done.returncode == 0


def ensure_mlflow_venv() -> Path:
    """Create ``.bench/mlflow-venv`` with mlflow and scikit-learn unless it already works.

    A marker file written after a checked install lets later runs skip the (seconds-long) check.
    """
    python = venv_python(MLFLOW_VENV)
    marker = MLFLOW_VENV / ".keel-bench-ready"
    if python.exists() and (marker.exists() or imports_cleanly(python, "mlflow, sklearn")):
        log(f"reusing {MLFLOW_VENV}")
        marker.touch()
        return python
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    if not python.exists():
        log(f"creating {MLFLOW_VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
    log("installing mlflow and scikit-learn into it (a minute or two)")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "mlflow", "scikit-learn"],
        check=True,
        stdout=sys.stderr,
    )
    if not imports_cleanly(python, "mlflow, sklearn"):
        raise SystemExit(f"mlflow or scikit-learn does not import in {MLFLOW_VENV}")
    marker.touch()
    return python


# -- MLflow -------------------------------------------------------------------------------------
def worker_env(store: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "KEEL_"))}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", GIT_PYTHON_REFRESH="quiet")
    if store == "file":
        env["MLFLOW_ALLOW_FILE_STORE"] = "true"
    return env


def worker_args(plan: Plan, store: str) -> list[str]:
    options = {
        "--store": store,
        "--versions": plan.versions,
        "--infer-versions": plan.infer_versions_on(store),
        "--big": plan.big,
        "--loads": plan.loads,
        "--moves": plan.moves,
        "--metrics": plan.metrics,
        "--batch-metrics": plan.batch_metrics,
        "--list-reps": plan.list_reps,
        "--budget-s": plan.budget_s,
        "--file-api-versions": plan.file_api_versions,
    }
    return [part for option, value in options.items() for part in (option, str(value))]


def run_mlflow_worker(python: Path, plan: Plan, store: str) -> dict[str, Any]:
    """Run the worker on one store; forward its progress lines, keep the rest in a log file."""
    log_path = BENCH_DIR / f"mlflow-worker-{store}.log"
    with (
        tempfile.TemporaryDirectory(prefix=f"keel-bench-mlflow-{store}-") as workdir,
        open(log_path, "w") as log_file,
    ):
        process = subprocess.Popen(
            [str(python), str(WORKER), *worker_args(plan, store)],
            cwd=workdir,
            env=worker_env(store),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stderr is not None and process.stdout is not None
        for line in process.stderr:
            log_file.write(line)
            if line.startswith("[mlflow-"):
                log(line.rstrip())
        answer = process.stdout.read()
        if process.wait() != 0:
            raise SystemExit(f"the MLflow worker ({store}) failed; see {log_path}")
    figures: dict[str, Any] = json.loads(answer.strip().splitlines()[-1])
    return figures


def best_of(per_store: dict[str, dict[str, Any]], key: str) -> tuple[float, str]:
    """MLflow's lowest figure for ``key`` over the stores that measured it, and which store."""
    measured = {s: f[key] for s, f in per_store.items() if f.get(key) is not None}
    store = min(measured, key=measured.__getitem__)
    return measured[store], store


def mlflow_figures(per_store: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every store's figures (``mlflow_<store>_...``) and the best (``mlflow_...``)."""
    out: dict[str, Any] = {}
    for store, figures in per_store.items():
        for key, value in figures.items():
            if key not in ("mlflow_version", "default_tracking_uri", "wall_s"):
                out[f"mlflow_{store}_{key}"] = value
    keys = [k for k in per_store["sqlite"] if k.endswith("_ms")]
    for key in keys:
        value, store = best_of(per_store, key)
        out[f"mlflow_{key}"] = value
        out[f"mlflow_{key.removesuffix('_ms')}_best_store"] = store
    return out


# -- Keel ---------------------------------------------------------------------------------------
def training_data() -> tuple[pd.DataFrame, Any]:
    """The breast-cancer frame (with ``target``) and a LogisticRegression fitted on it."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    features, target = load_breast_cancer(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=5000).fit(features, target)
    return features.assign(target=target), model


def keel_register(
    client: keel.Client, model: Any, snapshot: keel.Snapshot, plan: Plan
) -> dict[str, Any]:
    def register(name: str) -> keel.ModelVersion:
        return client.register_model(name, model, training_data=snapshot, target="target")

    with client.start_run("bench-register"):
        register("warmup")
        log(f"keel: registering {plan.versions} versions")
        per_version = mean_ms(lambda _: register("m"), plan.versions)
    return {"keel_register_ms": per_version}


def keel_list(client: keel.Client, plan: Plan) -> dict[str, Any]:
    if len(client.list_versions("m")) != plan.versions:
        raise SystemExit(f"expected {plan.versions} versions of m")
    ms = median_ms(lambda _: client.list_versions("m"), plan.list_reps, plan.budget_s)
    return {"keel_list_versions_ms": ms}


def keel_aliases(client: keel.Client, plan: Plan) -> dict[str, Any]:
    client.set_alias("m", "champion", plan.versions)
    client.load_model("models:/m@champion")
    log(f"keel: loading by alias x{plan.loads}, moving the alias x{plan.moves}")
    load = median_ms(lambda _: client.load_model("models:/m@champion"), plan.loads, plan.budget_s)
    move = median_ms(
        lambda i: client.set_alias("m", "champion", i % plan.versions + 1),
        plan.moves,
        plan.budget_s,
    )
    return {"keel_load_alias_ms": load, "keel_set_alias_ms": move}


def keel_metrics(client: keel.Client, plan: Plan) -> dict[str, Any]:
    log(f"keel: logging {plan.metrics} metrics one by one, {plan.batch_metrics} in a batch")
    with client.start_run("bench-metrics") as run:
        single = mean_ms(lambda i: run.log_metric("loss", 1 / (i + 1), step=i), plan.metrics)
        batch = {f"m{i}": i / plan.batch_metrics for i in range(plan.batch_metrics)}
        start = time.perf_counter()
        run.log_metrics(batch, step=0)
        per_metric = (time.perf_counter() - start) * 1000 / plan.batch_metrics
    return {"keel_log_metric_ms": single, "keel_log_metrics_batch_ms": per_metric}


def keel_big(client: keel.Client, model: Any, plan: Plan) -> dict[str, Any]:
    log(f"keel: registering {plan.big} versions of {BIG_MODEL}")

    def register(i: int) -> None:
        client.register_model(BIG_MODEL, model, metrics={"acc": accuracy(i)})
        if (i + 1) % 2_000 == 0:
            log(f"keel: {i + 1} versions of {BIG_MODEL}")

    per_version = mean_ms(register, plan.big)
    found: dict[str, int] = {}

    def timed(label: str, search: str) -> float:
        def action(_: int) -> None:
            found[label] = len(client.list_versions(BIG_MODEL, filter=search))

        return median_ms(action, plan.list_reps, plan.budget_s)

    log(f"keel: listing and searching {plan.big} versions (up to x{plan.list_reps})")
    figures = {
        "keel_big_create_ms": per_version,
        "keel_big_list_ms": timed("list", ""),
        "keel_big_search_ms": timed("search", "metrics.acc > 0.5"),
        "keel_big_search_hits": found["search"],
    }
    if found["list"] != plan.big:
        raise SystemExit(f"expected {plan.big} versions of {BIG_MODEL}, found {found['list']}")
    return figures


def measure_keel(plan: Plan) -> dict[str, Any]:
    """Keel's half, in this process, in a temporary working folder."""
    import keel

    data, model = training_data()
    with (
        tempfile.TemporaryDirectory(prefix="keel-bench-keel-") as workdir,
        contextlib.chdir(workdir),
        keel.Client(
            store_url=f"sqlite:///{workdir}/keel.db", artifacts=f"{workdir}/artifacts"
        ) as client,
    ):
        log(f"keel {keel.__version__} on {client.db.safe_url}")
        snapshot = client.register_snapshot(data, "cancer")
        figures = keel_register(client, model, snapshot, plan)
        figures.update(keel_list(client, plan))
        figures.update(keel_aliases(client, plan))
        figures.update(keel_metrics(client, plan))
        figures.update(keel_big(client, model, plan))
    return figures


# -- cold imports -------------------------------------------------------------------------------
def wall_seconds(python: Path, code: str, cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run([str(python), "-c", code], cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def import_seconds(python: Path, module: str, repetitions: int) -> float:
    """Median time of a fresh ``import module`` minus a fresh ``pass`` (file caches are warm:
    both packages have been used by then)."""
    with tempfile.TemporaryDirectory() as empty:
        bare, full = [], []
        for _ in range(repetitions):
            bare.append(wall_seconds(python, "pass", empty))
            full.append(wall_seconds(python, f"import {module}", empty))
    return max(statistics.median(full) - statistics.median(bare), 0.0)


def measure_imports(mlflow_python: Path, plan: Plan) -> dict[str, Any]:
    log(f"cold imports, median of {plan.import_reps}")
    return {
        "keel_import_s": import_seconds(Path(sys.executable), "keel", plan.import_reps),
        "mlflow_import_s": import_seconds(mlflow_python, "mlflow", plan.import_reps),
    }


# -- the verdict --------------------------------------------------------------------------------
def speedups(figures: dict[str, Any]) -> dict[str, Any]:
    """MLflow's best over Keel for every operation; registration takes the faster MLflow mode."""
    best = dict(figures)
    best["mlflow_register_ms"] = min(
        figures["mlflow_register_ms"], figures["mlflow_register_reqs_given_ms"]
    )
    out = {}
    for op in (*OPERATIONS, "big_create_ms"):
        keel_value, mlflow_value = best[f"keel_{op}"], best[f"mlflow_{op}"]
        name = op.rsplit("_", 1)[0]
        out[f"speedup_{name}"] = round(mlflow_value / keel_value, 2) if keel_value else None
    return out


def targets(figures: dict[str, Any], plan: Plan) -> dict[str, Any]:
    verdict: dict[str, Any] = {}
    for name, key, limit in TARGETS:
        value = figures[key]
        entry = {"keel": round(value, 4), "limit": limit, "met": value < limit}
        if key == "keel_big_list_ms":
            entry["at_versions"] = plan.big
        verdict[name] = entry
    slow = [
        op.rsplit("_", 1)[0]
        for op in OPERATIONS
        if (figures[f"speedup_{op.rsplit('_', 1)[0]}"] or 0) < MIN_SPEEDUP
    ]
    verdict["every_op_3x_faster_than_mlflow"] = {"met": not slow, "below_3x": slow}
    return verdict


def report(
    plan: Plan,
    keel_figures: dict[str, Any],
    per_store: dict[str, dict[str, Any]],
    imports: dict[str, Any],
) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "bench": "registry",
        "quick": plan.quick,
        "versions": plan.versions,
        "big_versions": plan.big,
        "metrics_logged": plan.metrics,
        "mlflow_version": per_store["sqlite"]["mlflow_version"],
        "mlflow_default_store": per_store["sqlite"]["default_tracking_uri"],
        "mlflow_register_infer_versions": plan.infer_versions,
    }
    figures.update(keel_figures)
    figures.update(mlflow_figures(per_store))
    figures.update(imports)
    figures = round_figures(figures)
    figures.update(speedups(figures))
    figures["targets"] = targets(figures, plan)
    figures["targets_missed"] = [name for name, t in figures["targets"].items() if not t["met"]]
    figures["wall_s"] = round(time.perf_counter() - STARTED, 1)
    figures["cpus"] = os.cpu_count()
    figures["load_avg_1m"] = {**LOADS, "end": round(os.getloadavg()[0], 2)}
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Keel vs MLflow registry benchmark.")
    parser.add_argument("--quick", action="store_true", help="smaller counts, under a minute")
    plan = Plan.make(parser.parse_args(argv).quick)
    mlflow_python = ensure_mlflow_venv()
    note_load("keel")
    keel_figures = measure_keel(plan)
    per_store = {}
    for store in MLFLOW_STORES:
        log(f"MLflow, {store} store")
        note_load(f"mlflow_{store}")
        per_store[store] = run_mlflow_worker(mlflow_python, plan, store)
    note_load("imports")
    imports = measure_imports(mlflow_python, plan)
    print(json.dumps(report(plan, keel_figures, per_store, imports)), flush=True)


if __name__ == "__main__":
    main()
