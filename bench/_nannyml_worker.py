"""NannyML's half of ``bench/estimation.py``; run by the NannyML venv's python, never by Keel's.

``_nannyml_worker.py --workdir DIR --case NAME --analysis WHICH --chunk N`` reads
``DIR/NAME_reference.parquet`` (held-out rows: ``y_true``, ``y_pred``, ``y_pred_proba``) and
``DIR/NAME_WHICH.parquet``
(``y_pred``, ``y_pred_proba``, in chunk order), fits ``nannyml.CBPE`` (binary classification,
accuracy and ROC AUC, ``chunk_size=N``, its defaults otherwise: isotonic calibration when it
helps, thresholds at the reference chunks' mean +- 3 standard deviations, bands at +- 3 sampling
errors) on the reference, estimates the analysis chunks, and prints one JSON line: per metric
and chunk the estimate, the band and whether NannyML alerted, and the seconds ``fit`` and
``estimate`` took (after a warm-up on a slice, so imports are not timed). Progress to stderr.
NannyML's usage reporting is switched off (``NML_DISABLE_USAGE_LOGGING``) before it is imported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

METRICS = ("accuracy", "roc_auc")


def log(message: str) -> None:
    print(f"[nannyml] {message}", file=sys.stderr, flush=True)


def run(workdir: Path, case: str, analysis_name: str, chunk: int) -> dict[str, Any]:
    os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"  # NannyML reports usage over the network
    import nannyml as nml
    import pandas as pd

    reference = pd.read_parquet(workdir / f"{case}_reference.parquet")
    analysis = pd.read_parquet(workdir / f"{case}_{analysis_name}.parquet")

    def estimator() -> Any:
        return nml.CBPE(
            y_pred_proba="y_pred_proba",
            y_pred="y_pred",
            y_true="y_true",
            problem_type="classification_binary",
            metrics=list(METRICS),
            chunk_size=chunk,
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm = estimator().fit(reference)  # imports and first-call costs, not timed
        warm.estimate(analysis.iloc[: 2 * chunk])
        started = time.perf_counter()
        fitted = estimator().fit(reference)
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        result = fitted.estimate(analysis)
        estimate_s = time.perf_counter() - started
    frame = result.filter(period="analysis").to_df()
    out: dict[str, Any] = {
        "version": nml.__version__,
        "fit_s": fit_s,
        "estimate_s": estimate_s,
        "chunks": len(frame),
    }
    for metric in METRICS:
        out[metric] = {
            "value": frame[(metric, "value")].astype(float).tolist(),
            "low": frame[(metric, "lower_confidence_boundary")].astype(float).tolist(),
            "high": frame[(metric, "upper_confidence_boundary")].astype(float).tolist(),
            "alert": frame[(metric, "alert")].astype(bool).tolist(),
            "lower_threshold": float(frame[(metric, "lower_threshold")].iloc[0]),
        }
    log(
        f"{case} {analysis_name}: fit {fit_s:.3f} s, estimate {estimate_s:.3f} s, "
        f"{len(frame)} chunks"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--case", required=True)
    parser.add_argument("--analysis", required=True)
    parser.add_argument("--chunk", type=int, required=True)
    args = parser.parse_args()
    print(json.dumps(run(args.workdir, args.case, args.analysis, args.chunk)), flush=True)


if __name__ == "__main__":
    main()
