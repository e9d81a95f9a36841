"""Benchmark: Keel's evaluation suite against MLflow's default evaluator, same rows and models.

Run ``.venv/bin/python bench/evaluate.py`` (a few minutes) or with ``--quick`` (under a minute);
``--profile`` adds one cProfile'd Keel evaluation and prints where its time goes. Progress goes to
stderr; the answer is one line of JSON on stdout.

What (full / ``--quick``)
- Data: ``make_classification`` with a fixed seed, 20 numeric features ``f00``..``f19`` and a 0/1
  ``label``; 200,000 / 50,000 training rows and 1,000,000 / 100,000 held-out rows.
- Models: the candidate is a HistGradientBoostingClassifier (200 trees of up to 31 leaves), the
  champion a different one (60 trees of depth 3), both fitted on the training rows.
- Keel, in this process, on ``sqlite:///<tmp>/keel.db`` with artifacts in ``<tmp>/artifacts``:
  register the held-out rows as a snapshot, register both models with the training rows as their
  training data, set ``champion`` to version 1, warm up on a 2,000-row
  snapshot (one-off imports), then time ``client.evaluate("m/2", suite=Suite(snapshots=[...],
  target="label", slices={10 feature ranges}, resamples=1000 / 200, measure_cost=True))`` end to
  end (loading both models and the snapshot, every classification metric, slices, baselines,
  curves, champion comparison with McNemar, DeLong and the paired bootstrap, cost, recording the
  result), and the same suite with ``resamples=0`` (no bootstrap).
- Keel's steps (``keel_parts_s``: reading the snapshot, loading the models, predicting, metrics
  with slices, baselines and curves, the comparison, the bootstrap, DeLong, cost, recording) are
  timed inside those same calls by wrapping the functions the runner calls (``PROBES``);
  ``keel_bootstrap_only_s`` is the bootstrap's share of the full evaluation, ``keel_bootstrap_s``
  the difference between the two evaluations (which includes noise).
- MLflow, in its own venv (``.bench/mlflow-venv``, shared with ``bench/registry.py``; if absent,
  this waits up to 15 min for it, then creates ``.bench/mlflow-eval-venv``), runs
  ``bench/_mlflow_eval_worker.py`` in a temporary folder holding the held-out rows as Parquet and
  the two fitted models as pickles. It logs both models and warms up (while Keel sets up), then
  on request times ``mlflow.models.evaluate(uri, data, targets="label", model_type="classifier")``
  (the default evaluator: metrics, ROC/PR/lift/calibration/confusion-matrix plots, and SHAP when
  ``shap`` is installed) on the candidate over every row (``mlflow_s``); in the full run also on
  the champion over every row and on the candidate over each slice (``mlflow_equivalent_s`` adds
  these: the work MLflow needs to cover what Keel's suite reports, bootstrap aside).
- Timed runs never overlap: Keel without bootstrap, Keel with it, MLflow, repeated 2 / 1 times in
  that order so a busy spell on a shared machine hits every side alike; each headline is the
  fastest of its runs (all are listed in ``*_runs_s``). The 1-minute load average at the start
  and the end (``load_avg_1m``) shows whether other work shared the cores.

Both tools store the models in their default format, skops: Keel trusts scikit-learn's own types
when loading; MLflow refuses to log a HistGradientBoostingClassifier with skops unless told to
trust its ``TreePredictor`` (``skops_trusted_types``), which the worker does.

Targets from the issue: Keel's whole evaluation with bootstrap under 60 s on 2 cores, and faster
than MLflow's evaluation (which has no bootstrap). ``speedup_vs_mlflow`` is ``mlflow_s / keel_s``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib
import io
import json
import os
import pickle
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import pandas as pd

    import keel
    from keel.evaluation.runner import Evaluation

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench"
SHARED_VENV = BENCH_DIR / "mlflow-venv"
OWN_VENV = BENCH_DIR / "mlflow-eval-venv"
WORKER = Path(__file__).with_name("_mlflow_eval_worker.py")
TARGET = "label"
FEATURES = [f"f{i:02d}" for i in range(20)]
SEED = 7
WARMUP_ROWS = 2_000
POLL_S = 30.0
WAIT_S = 15 * 60.0
TARGET_S = 60.0

#: ten slices on feature ranges (make_classification's features are roughly centred on 0)
SLICES: dict[str, dict[str, dict[str, float]]] = {
    "f00_low": {"f00": {"lt": -1.0}},
    "f00_mid": {"f00": {"ge": -1.0, "lt": 1.0}},
    "f00_high": {"f00": {"ge": 1.0}},
    "f01_negative": {"f01": {"lt": 0.0}},
    "f01_positive": {"f01": {"ge": 0.0}},
    "f02_tail": {"f02": {"gt": 2.0}},
    "f03_band": {"f03": {"ge": -0.5, "le": 0.5}},
    "f04_high_f05_low": {"f04": {"gt": 0.0}, "f05": {"lt": 0.0}},
    "f06_f07_both_high": {"f06": {"ge": 0.5}, "f07": {"ge": 0.5}},
    "f19_low": {"f19": {"le": -1.5}},
}


@dataclass(frozen=True)
class Plan:
    rows: int
    train_rows: int
    resamples: int
    repeats: int  # headline timings are the best of this many runs
    mlflow_extras: bool  # also time MLflow on the champion and on each slice

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if quick:
            return cls(100_000, 50_000, resamples=200, repeats=1, mlflow_extras=False)
        return cls(1_000_000, 200_000, resamples=1000, repeats=2, mlflow_extras=True)


@dataclass
class Models:
    candidate: Any
    champion: Any


def log(message: str) -> None:
    print(f"[evaluate] {message}", file=sys.stderr, flush=True)


def timed(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


# -- data and models ----------------------------------------------------------------------------
def make_data(plan: Plan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training rows and held-out rows of one seeded synthetic problem."""
    import pandas as pd
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=plan.train_rows + plan.rows,
        n_features=len(FEATURES),
        n_informative=12,
        n_redundant=4,
        flip_y=0.05,
        class_sep=0.8,
        weights=[0.7, 0.3],
        random_state=SEED,
    )
    frame = pd.DataFrame(x, columns=FEATURES).assign(**{TARGET: y})
    train = frame.iloc[: plan.train_rows].reset_index(drop=True)
    holdout = frame.iloc[plan.train_rows :].reset_index(drop=True)
    return train, holdout


def train_models(train: pd.DataFrame) -> Models:
    """Both models with a fixed number of trees (no early stopping: prediction cost is fixed)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = train[FEATURES], train[TARGET]
    candidate = HistGradientBoostingClassifier(
        max_iter=200, max_leaf_nodes=31, early_stopping=False, random_state=SEED
    )
    champion = HistGradientBoostingClassifier(
        max_iter=60, max_depth=3, learning_rate=0.2, early_stopping=False, random_state=SEED
    )
    return Models(candidate.fit(x, y), champion.fit(x, y))


# -- Keel ---------------------------------------------------------------------------------------
def suite(snapshot: str, resamples: int, measure_cost: bool = True) -> Any:
    from keel.domain.policy import Suite

    return Suite(
        snapshots=[snapshot],
        target=TARGET,
        slices=SLICES,
        resamples=resamples,
        measure_cost=measure_cost,
    )


def keel_setup(
    client: keel.Client, train: pd.DataFrame, holdout: pd.DataFrame, models: Models
) -> tuple[str, dict[str, float]]:
    """Register the data and both models, make version 1 the champion; the held-out ref and the
    seconds each step took."""
    snapshot, snapshot_s = timed(lambda: client.register_snapshot(holdout, "holdout"))
    train_snapshot = client.register_snapshot(train, "train")

    def register(model: Any) -> keel.ModelVersion:
        return client.register_model("m", model, training_data=train_snapshot, target=TARGET)

    (champion, candidate), register_s = timed(
        lambda: (register(models.champion), register(models.candidate))
    )
    assert (champion.version, candidate.version) == (1, 2)
    client.set_alias("m", "champion", 1, reason="benchmark champion")
    return snapshot.ref, {
        "keel_register_snapshot_s": snapshot_s,
        "keel_register_models_s": register_s,
    }


def keel_warmup(client: keel.Client, holdout: pd.DataFrame) -> float:
    """A small evaluation, so one-off imports are not billed to the first timed one."""
    warmup = client.register_snapshot(holdout.iloc[:WARMUP_ROWS], "warmup")
    # the cost probe has a fixed time budget and nothing to warm: left out here
    evaluation, seconds = timed(lambda: client.evaluate("m/2", suite=suite(warmup.ref, 20, False)))
    check_finished(evaluation)
    return seconds


def check_finished(evaluation: Evaluation) -> None:
    if evaluation.status != "finished":
        raise SystemExit(f"Keel's evaluation {evaluation.status}: {evaluation.error}")


#: the steps of Keel's evaluation, timed by wrapping what the runner calls: (module, attribute)
PROBES = {
    "read_snapshot": ("keel.registry.snapshots", "load_frame"),
    "load_models": ("keel.evaluation.runner", "load"),
    "predict": ("keel.evaluation.runner", "_score"),
    "metrics_slices_baselines_curves": ("keel.evaluation.runner", "_snapshot_results"),
    "comparison": ("keel.evaluation.runner", "_compare"),
    "bootstrap": ("keel.evaluation.runner", "binary_bootstrap"),
    "delong": ("keel.evaluation.runner", "delong"),
    "cost": ("keel.evaluation.runner", "measure_cost"),
    "record": ("keel.registry.governance", "record_evaluation"),
}


def timing(function: Callable[..., T], spent: dict[str, float], name: str) -> Callable[..., T]:
    def timed_call(*args: Any, **kwargs: Any) -> T:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - started

    return timed_call


@contextlib.contextmanager
def probes() -> Iterator[dict[str, float]]:
    """Seconds spent in each step of ``PROBES`` while the block runs (a wrapper costs
    microseconds); a step the runner no longer has is left out with a warning."""
    spent: dict[str, float] = {}
    wrapped = []
    for name, (module_name, attribute) in PROBES.items():
        module = importlib.import_module(module_name)
        original = getattr(module, attribute, None)
        if original is None:
            log(f"warning: {module_name}.{attribute} is gone; step {name} is not timed")
            continue
        spent[name] = 0.0
        setattr(module, attribute, timing(original, spent, name))
        wrapped.append((module, attribute, original))
    try:
        yield spent
    finally:
        for module, attribute, original in wrapped:
            setattr(module, attribute, original)


def breakdown(spent: dict[str, float], total: float) -> dict[str, float]:
    """Non-overlapping steps: the comparison without its bootstrap and DeLong test, and the rest
    of the total (suite set-up, label checks, slice masks, ...) as ``other``."""
    parts = dict(spent)
    if "comparison" in parts:
        parts["comparison"] -= parts.get("bootstrap", 0.0) + parts.get("delong", 0.0)
    parts["other"] = total - sum(v for k, v in spent.items() if k not in ("bootstrap", "delong"))
    return parts


@dataclass
class KeelRun:
    evaluation: Evaluation
    seconds: float
    parts: dict[str, float]


@dataclass
class KeelSide:
    client: keel.Client
    snapshot: str

    def evaluate(self, resamples: int) -> KeelRun:
        """One timed ``client.evaluate`` of the candidate, with its steps' breakdown."""
        log(f"keel: evaluating m/2 on {self.snapshot} with {resamples} resamples")
        with probes() as spent:
            evaluation, seconds = timed(
                lambda: self.client.evaluate("m/2", suite=suite(self.snapshot, resamples))
            )
        check_finished(evaluation)
        parts = breakdown(spent, seconds)
        log(f"keel: {seconds:.2f} s: " + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()))
        return KeelRun(evaluation, seconds, parts)

    def profile(self, resamples: int, top: int = 30) -> None:
        """One more full evaluation under cProfile; the top functions by cumulative, own time."""
        profiler = cProfile.Profile()
        profiler.runcall(self.client.evaluate, "m/2", suite=suite(self.snapshot, resamples))
        for order in ("cumulative", "tottime"):
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).strip_dirs().sort_stats(order).print_stats(top)
            log(f"cProfile of the full evaluation, by {order}:\n{text.getvalue()}")


@contextlib.contextmanager
def keel_side(
    train: pd.DataFrame, holdout: pd.DataFrame, models: Models
) -> Iterator[tuple[KeelSide, dict[str, float]]]:
    """A registry in a temporary folder, set up and warmed up; the set-up figures."""
    import keel

    with (
        tempfile.TemporaryDirectory(prefix="keel-bench-eval-") as workdir,
        contextlib.chdir(workdir),
        keel.Client(f"sqlite:///{workdir}/keel.db", f"{workdir}/artifacts") as client,
    ):
        log(f"keel {keel.__version__}: registering {len(holdout):,} held-out rows and 2 models")
        snapshot, figures = keel_setup(client, train, holdout, models)
        figures["keel_warmup_s"] = keel_warmup(client, holdout)
        yield KeelSide(client, snapshot), figures


def keel_figures(
    setup: dict[str, float], without: list[KeelRun], full: list[KeelRun]
) -> dict[str, Any]:
    """Each headline is the fastest run (the one least disturbed by other work)."""
    best, best_without = (min(runs, key=lambda run: run.seconds) for runs in (full, without))
    return {
        "keel_s": best.seconds,
        "keel_no_bootstrap_s": best_without.seconds,
        "keel_bootstrap_only_s": best.parts.get("bootstrap"),
        **setup,
        "keel_runs_s": [run.seconds for run in full],
        "keel_no_bootstrap_runs_s": [run.seconds for run in without],
        "keel_parts_s": best.parts,
        "keel_no_bootstrap_parts_s": best_without.parts,
    }


# -- MLflow -------------------------------------------------------------------------------------
def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def imports_mlflow(python: Path) -> bool:
    """Whether ``python`` imports mlflow, sklearn and pyarrow (in an empty folder: no shadowing)."""
    if not python.exists():
        return False
    with tempfile.TemporaryDirectory() as empty:
        done = subprocess.run(
            [str(python), "-c", "import mlflow, sklearn, pyarrow"],
            cwd=empty,
            capture_output=True,
            check=False,
        )
    return done.returncode == 0


def wait_for_shared_venv() -> Path | None:
    """The shared venv's python once mlflow imports there; None after ``WAIT_S`` without it."""
    python = venv_python(SHARED_VENV)
    deadline = time.monotonic() + WAIT_S
    while True:
        if imports_mlflow(python):
            return python
        if time.monotonic() >= deadline:
            return None
        log(f"{SHARED_VENV} is not ready; checking again in {POLL_S:.0f} s")
        time.sleep(POLL_S)


def create_own_venv() -> Path:
    python = venv_python(OWN_VENV)
    if imports_mlflow(python):
        return python
    log(f"creating {OWN_VENV} with mlflow, scikit-learn, pandas and pyarrow")
    subprocess.run([sys.executable, "-m", "venv", str(OWN_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "mlflow", "scikit-learn", "pandas"],
        check=True,
        stdout=sys.stderr,
    )
    if not imports_mlflow(python):
        raise SystemExit(f"mlflow does not import in {OWN_VENV}")
    return python


def mlflow_python() -> Path:
    python = wait_for_shared_venv()
    if python is None:
        python = create_own_venv()
    log(f"MLflow runs in {python.parent.parent}")
    return python


def worker_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "KEEL_"))}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", GIT_PYTHON_REFRESH="quiet")
    return env


def write_inputs(folder: Path, holdout: pd.DataFrame, models: Models) -> list[str]:
    """The worker's inputs as files in ``folder``; its command-line arguments."""
    holdout.to_parquet(folder / "holdout.parquet", index=False)
    (folder / "candidate.pkl").write_bytes(pickle.dumps(models.candidate))
    (folder / "champion.pkl").write_bytes(pickle.dumps(models.champion))
    (folder / "slices.json").write_text(json.dumps(SLICES))
    return [
        "--data=holdout.parquet",
        "--candidate=candidate.pkl",
        "--champion=champion.pkl",
        "--slices=slices.json",
        f"--target={TARGET}",
        f"--warmup-rows={WARMUP_ROWS}",
    ]


class MlflowWorker:
    """The MLflow worker process: one command line in, one JSON line out."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process, self.stdin, self.stdout = process, process.stdin, process.stdout

    def answer(self) -> dict[str, Any]:
        line = self.stdout.readline()
        if not line:
            raise SystemExit(f"the MLflow worker stopped (exit code {self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def request(self, command: str) -> dict[str, Any]:
        self.stdin.write(command + "\n")
        self.stdin.flush()
        return self.answer()


@contextlib.contextmanager
def mlflow_worker(python: Path, holdout: pd.DataFrame, models: Models) -> Iterator[MlflowWorker]:
    """Start the worker in a temporary folder holding its inputs; it sets up while the caller
    goes on (wait for its first answer before timing anything)."""
    with tempfile.TemporaryDirectory(prefix="keel-bench-eval-mlflow-") as workdir:
        arguments = write_inputs(Path(workdir), holdout, models)
        with subprocess.Popen(
            [str(python), str(WORKER), *arguments],
            cwd=workdir,
            env=worker_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        ) as process:
            try:
                yield MlflowWorker(process)
            finally:
                if process.poll() is None:
                    process.kill()


def measure(
    plan: Plan,
    python: Path,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    models: Models,
    profile: bool,
) -> tuple[dict[str, Any], dict[str, Any], Evaluation]:
    """Keel's figures, MLflow's figures and Keel's fastest full evaluation."""
    with (
        mlflow_worker(python, holdout, models) as worker,
        keel_side(train, holdout, models) as (keel, setup),
    ):
        mlflow = worker.answer()  # its set-up ran beside Keel's; nothing timed overlaps
        without, full, mlflow_runs = [], [], []
        for _ in range(plan.repeats):  # interleaved, so a busy spell hits every side alike
            without.append(keel.evaluate(0))
            full.append(keel.evaluate(plan.resamples))
            mlflow_runs.append(worker.request("candidate")["evaluate_s"])
        if plan.mlflow_extras:
            mlflow |= worker.request("extras")
        if profile:
            keel.profile(plan.resamples)
        mlflow |= worker.request("summary")
    mlflow |= {"evaluate_s": min(mlflow_runs), "evaluate_runs_s": mlflow_runs}
    fastest = min(full, key=lambda run: run.seconds)
    return keel_figures(setup, without, full), mlflow, fastest.evaluation


# -- the verdict --------------------------------------------------------------------------------
#: Keel's metric names and MLflow's names for the same value
SAME_METRICS = {
    "accuracy": "accuracy_score",
    "precision": "precision_score",
    "recall": "recall_score",
    "f1": "f1_score",
    "roc_auc": "roc_auc",
    "log_loss": "log_loss",
}


def metric_gap(evaluation: Evaluation, mlflow_metrics: dict[str, float]) -> float:
    """The largest difference between a metric both tools computed on the candidate."""
    keel_metrics = evaluation.snapshot()["metrics"]
    return max(
        abs(float(keel_metrics[mine]) - mlflow_metrics[theirs])
        for mine, theirs in SAME_METRICS.items()
        if theirs in mlflow_metrics
    )


def mlflow_part(mlflow: dict[str, Any], keel_s: float, no_bootstrap_s: float) -> dict[str, Any]:
    """MLflow's figures, what its evaluation produced, and Keel's speedups over it."""
    mlflow_s: float = mlflow["evaluate_s"]
    champion_s: float | None = mlflow.get("champion_evaluate_s")
    slices_s: float | None = mlflow.get("slices_evaluate_s")
    both = champion_s is not None and slices_s is not None
    equivalent_s = mlflow_s + (champion_s or 0.0) + (slices_s or 0.0) if both else None
    return {
        "mlflow_s": mlflow_s,
        "mlflow_runs_s": mlflow["evaluate_runs_s"],
        "mlflow_champion_s": champion_s,
        "mlflow_slices_s": slices_s,
        "mlflow_equivalent_s": equivalent_s,
        "mlflow_log_models_s": mlflow["log_models_s"],
        "mlflow_version": mlflow["mlflow_version"],
        "mlflow_shap": mlflow["shap_available"],
        "mlflow_metrics": sorted(mlflow["metrics"]),
        "mlflow_artifacts": mlflow["artifacts"],
        "speedup_vs_mlflow": mlflow_s / keel_s,
        "speedup_no_bootstrap_vs_mlflow": mlflow_s / no_bootstrap_s,
        "speedup_vs_mlflow_equivalent": None if equivalent_s is None else equivalent_s / keel_s,
    }


def verdict(
    plan: Plan,
    keel_figures: dict[str, Any],
    mlflow: dict[str, Any],
    evaluation: Evaluation,
    load: tuple[float, float],
) -> dict[str, Any]:
    keel_s, no_bootstrap_s = keel_figures["keel_s"], keel_figures["keel_no_bootstrap_s"]
    first = ("keel_s", "keel_no_bootstrap_s", "keel_bootstrap_only_s")
    rest = {k: v for k, v in keel_figures.items() if k not in first}
    return {
        "bench": "evaluate",
        "rows": plan.rows,
        "resamples": plan.resamples,
        "slices": len(SLICES),
        "features": len(FEATURES),
        "cores": len(os.sched_getaffinity(0)),
        "load_avg_1m": list(load),  # at the start and the end: other work on the machine
        "keel_s": keel_s,
        "keel_no_bootstrap_s": no_bootstrap_s,
        "keel_bootstrap_s": keel_s - no_bootstrap_s,
        "keel_bootstrap_only_s": keel_figures["keel_bootstrap_only_s"],
        **rest,
        **mlflow_part(mlflow, keel_s, no_bootstrap_s),
        "metric_max_abs_gap": metric_gap(evaluation, mlflow["metrics"]),
        "target_under_60s": keel_s < TARGET_S,
        "target_faster_than_mlflow": keel_s < mlflow["evaluate_s"],
    }


def rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return round(value, 4) if isinstance(value, float) else value


def load_average() -> float:
    load = os.getloadavg()[0]
    if load > len(os.sched_getaffinity(0)):
        log(f"warning: load average {load:.1f}; other work on the machine skews the figures")
    return load


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100,000 rows, 200 resamples")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile one more Keel evaluation (stderr)"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    plan = Plan.make(args.quick)
    python = mlflow_python()
    load_at_start = load_average()
    log(f"making {plan.train_rows:,} training and {plan.rows:,} held-out rows")
    train, holdout = make_data(plan)
    log("fitting the candidate and the champion")
    models = train_models(train)
    keel, mlflow, evaluation = measure(plan, python, train, holdout, models, args.profile)
    load = (load_at_start, load_average())
    print(json.dumps(rounded(verdict(plan, keel, mlflow, evaluation, load))))


if __name__ == "__main__":
    main()
