"""MLflow's half of ``bench/evaluate.py``; run by the MLflow venv's python, never by Keel's.

The caller writes the held-out rows (Parquet), both fitted models (pickles) and the slice
definitions (JSON) into a temporary working folder and starts this script there. It logs both
models with ``mlflow.sklearn.log_model`` (its default format, skops, trusting the one type skops
refuses in these models; requirements given, so pip inference is not timed) and warms up on a few
rows, then answers commands read one per line from stdin, so the caller can interleave them with
Keel's runs:

- ``candidate``: time ``mlflow.models.evaluate(uri, data, targets=..., model_type="classifier")``
  (the default evaluator; ``mlflow.evaluate`` is the deprecated alias of the same function) on
  the candidate over every row: MLflow's evaluation, the headline figure;
- ``extras``: time the same on the champion over every row, and on the candidate over each
  slice's rows: what MLflow needs to cover the rest of what Keel's suite computes (it has no
  champion comparison, slices or bootstrap);
- ``summary``: versions, what the last candidate evaluation computed; then exit.

Every answer (and a first one when ready) is one JSON line on stdout. MLflow's default store
(``sqlite:///mlflow.db`` in the working folder) records every run. Progress goes to stderr,
prefixed with ``[mlflow]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
PICKLED = ("candidate", "champion")
#: skops will not save or load a HistGradientBoosting* model without trusting this type
TRUSTED = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


def log(message: str) -> None:
    print(f"[mlflow] {message}", file=sys.stderr, flush=True)


def respond(answer: dict[str, Any]) -> None:
    print(json.dumps(answer), flush=True)


def timed(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="held-out rows, Parquet")
    parser.add_argument("--candidate", type=Path, required=True, help="pickled fitted model")
    parser.add_argument("--champion", type=Path, required=True, help="pickled fitted model")
    parser.add_argument("--slices", type=Path, required=True, help="slice definitions, JSON")
    parser.add_argument("--target", required=True)
    parser.add_argument("--warmup-rows", type=int, default=2000)
    return parser.parse_args()


def quiet() -> None:
    """Silence warnings and MLflow's INFO lines (MLflow sets its loggers up when imported)."""
    import mlflow  # noqa: F401

    warnings.filterwarnings("ignore")
    for name in ("mlflow", "alembic", "matplotlib"):
        logging.getLogger(name).setLevel(logging.ERROR)


def shap_available() -> bool:
    try:
        import shap  # noqa: F401
    except ImportError:
        return False
    return True


def log_models(models: dict[str, Any]) -> dict[str, str]:
    """Log the models in one run; their model URIs."""
    import mlflow
    import mlflow.sklearn
    import sklearn

    requirements = [f"scikit-learn=={sklearn.__version__}"]
    uris = {}
    with mlflow.start_run(run_name="log-models"):
        for label, model in models.items():
            info = mlflow.sklearn.log_model(
                model, name=label, pip_requirements=requirements, skops_trusted_types=TRUSTED
            )
            uris[label] = info.model_uri
    return uris


def evaluate(uri: str, data: Any, target: str, run_name: str) -> tuple[Any, float]:
    """One default-evaluator run; the result and its wall time."""
    import mlflow

    def run() -> Any:
        with mlflow.start_run(run_name=run_name):
            return mlflow.models.evaluate(uri, data, targets=target, model_type="classifier")

    return timed(run)


def slice_mask(frame: Any, conditions: dict[str, dict[str, float]]) -> Any:
    """The same rows as Keel's slice: every bound met, missing values never."""
    import numpy as np

    mask = np.ones(len(frame), dtype=bool)
    for feature, bounds in conditions.items():
        column = frame[feature]
        mask &= column.notna().to_numpy()
        for bound, value in bounds.items():
            mask &= getattr(column, f"__{bound}__")(value).to_numpy(dtype=bool)
    return mask


@dataclass
class Session:
    data: Any
    target: str
    slices: dict[str, dict[str, dict[str, float]]]
    uris: dict[str, str]
    last: Any = None

    def candidate(self) -> dict[str, Any]:
        log(f"evaluating the candidate on {len(self.data):,} rows")
        self.last, seconds = evaluate(self.uris["candidate"], self.data, self.target, "candidate")
        log(f"candidate: {seconds:.2f} s")
        return {"evaluate_s": seconds}

    def extras(self) -> dict[str, Any]:
        log("evaluating the champion on every row")
        _, champion_s = evaluate(self.uris["champion"], self.data, self.target, "champion")
        log(f"champion: {champion_s:.2f} s; the candidate on {len(self.slices)} slices")
        rows, slices_s = {}, 0.0
        for name, conditions in self.slices.items():
            part = self.data[slice_mask(self.data, conditions)].reset_index(drop=True)
            rows[name] = len(part)
            slices_s += evaluate(self.uris["candidate"], part, self.target, f"slice-{name}")[1]
        log(f"slices: {slices_s:.2f} s")
        return {
            "champion_evaluate_s": champion_s,
            "slices_evaluate_s": slices_s,
            "slice_rows": rows,
        }

    def summary(self) -> dict[str, Any]:
        import mlflow
        import sklearn

        return {
            "mlflow_version": mlflow.__version__,
            "sklearn_version": sklearn.__version__,
            "tracking_uri": mlflow.get_tracking_uri(),
            "shap_available": shap_available(),
            "metrics": {k: float(v) for k, v in self.last.metrics.items()},
            "artifacts": sorted(self.last.artifacts),
        }


def start(args: argparse.Namespace) -> tuple[Session, dict[str, Any]]:
    """Read the inputs, log the models, warm up; the session and the set-up figures."""
    import mlflow
    import pandas as pd

    log(f"mlflow {mlflow.__version__} on {mlflow.get_tracking_uri()}")
    data, read_s = timed(lambda: pd.read_parquet(args.data))
    models = {label: pickle.loads(getattr(args, label).read_bytes()) for label in PICKLED}
    uris, log_models_s = timed(lambda: log_models(models))
    session = Session(data, args.target, json.loads(args.slices.read_text()), uris)
    log(f"warm-up on {args.warmup_rows} rows")
    _, warmup_s = evaluate(uris["candidate"], data.iloc[: args.warmup_rows], args.target, "warmup")
    return session, {"read_parquet_s": read_s, "log_models_s": log_models_s, "warmup_s": warmup_s}


def main() -> None:
    args = parse_args()
    _, import_s = timed(lambda: __import__("mlflow"))
    quiet()
    session, figures = start(args)
    respond({"ready": True, "import_s": import_s, **figures})
    commands: dict[str, Callable[[], dict[str, Any]]] = {
        "candidate": session.candidate,
        "extras": session.extras,
        "summary": session.summary,
    }
    for line in sys.stdin:
        command = line.strip()
        if command not in commands:
            raise SystemExit(f"unknown command {command!r}; expected one of {', '.join(commands)}")
        respond(commands[command]())
        if command == "summary":
            return


if __name__ == "__main__":
    main()
