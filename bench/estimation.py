"""Benchmark: Keel's label-free estimate (CBPE) against NannyML's, same chunks, same scores.

Run ``.venv/bin/python bench/estimation.py`` (a few minutes) or with ``--quick`` (under a minute
once NannyML's venv exists); ``--no-nannyml`` leaves NannyML out. Progress goes to stderr; the
answer is one line of JSON on stdout.

What
- Cases, each a binary classifier (scikit-learn's HistGradientBoostingClassifier, 100 trees,
  early stopping off, seeded) fitted
  on training rows, a held-out reference of labelled rows, and analysis rows cut into chunks:
  - ``simulation``: six normal features, P(y | x) a fixed logistic function of them, linear in
    them (so only the inputs move, and a model that learnt P(y | x) keeps P(y | score) under
    the shift: the case CBPE is for). The middle third of the chunks is
    shifted: the three strongest features shrink towards 0 by 60% (rows near the decision
    boundary: accuracy and ROC AUC really fall) and a weak one moves by +1. Full: 20,000
    training rows, 10,000 reference rows, 30 chunks of 2,000; quick: 6,000 / 3,000 / 20 of 1,000.
  - ``credit``: the shared credit-default table (``/work/shared/data/credit_default_taiwan``,
    30,000 rows, no time order): 40% training rows, 20% reference, the other 40% sorted by
    ``LIMIT_BAL`` (a simulated covariate shift from small to large credit lines) in chunks of
    1,000.
- Keel, in this process (one thread for BLAS and OpenMP), on a temporary SQLite store: the
  training rows and the reference are registered as snapshots, the model with the training
  rows as its training data, and the
  version's monitoring reference is built (``keel.monitoring.references``) twice: with Keel's
  DEFAULT policy (the reference is the training snapshot, so the calibrator and limits learn
  from out-of-fold scores of 5 refits) and with ``monitoring.reference`` naming the held-out
  snapshot. Each chunk is estimated with ``estimate_performance`` (95% bands). Alerts: the
  chunk's estimate below the limit of ``estimated_accuracy below reference`` /
  ``estimated_roc_auc below reference`` at the chunk's size (``keel.monitoring.reference_limits``).
- NannyML (``.bench/nannyml``, created with pip when missing: ``nannyml==0.13.1``, the newest
  on the index, and ``statsmodels``, which it imports but does not require) runs
  ``bench/_nannyml_worker.py`` on the same held-out reference and the same analysis rows with
  the same scores: ``CBPE(metrics=["accuracy", "roc_auc"], chunk_size=N)``, its defaults
  otherwise (its bands are +-3 sampling errors, its thresholds the reference chunks' mean +-3
  standard deviations). Its usage reporting is switched off.
- Per case and metric: MAE of the estimate against the chunk's realized value; coverage: the
  share of chunks whose band holds the realized value (Keel's nominal 95%, NannyML's +-3 sigma);
  alerts: chunks where the realized value really fell (below the held-out reference's own
  limit for it) found, missed, and false alerts; wall time (Keel: building the reference,
  refits included, plus estimating; NannyML: fit plus estimate).
- ``false_positive_rate``: 200 fresh no-shift windows of the simulation's chunk size, judged by
  the default reference's ``accuracy below reference`` (realized, from the window's labels),
  ``estimated_accuracy below reference`` and ``estimated_roc_auc below reference``: the share
  of windows where any fired, and per rule.

Targets from the issue: MAE no worse than NannyML's with Keel's default settings (a margin of
0.001 for ties), coverage of Keel's 95% bands at least 93% of chunks, the false-positive rate
of the reference-derived rules under 1%.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".bench" / "nannyml"
WORKER = Path(__file__).with_name("_nannyml_worker.py")
REQUIREMENTS = ["nannyml==0.13.1", "statsmodels", "pyarrow"]
CREDIT = Path("/work/shared/data/credit_default_taiwan/credit_default_taiwan.csv")
METRICS = ("accuracy", "roc_auc")
SEED = 16
FP_WINDOWS = 200
#: a tie in MAE: differences below this are noise of the isotonic fits
MAE_TIE = 0.001


def log(message: str) -> None:
    print(f"[estimation] {message}", file=sys.stderr, flush=True)


# -- data ---------------------------------------------------------------------------------------
FEATURES = [f"x{i}" for i in range(6)]


def simulate(rng: np.random.Generator, rows: int, shifted: bool = False) -> pd.DataFrame:
    x = rng.normal(0.0, 1.0, (rows, len(FEATURES)))
    if shifted:
        x[:, :3] *= 0.4
        x[:, 5] += 1.0
    logit = (
        1.6 * x[:, 0]
        - 1.2 * x[:, 1]
        + 0.9 * x[:, 2]
        + 0.5 * x[:, 3]
        - 0.3 * x[:, 4]
        + 0.2 * x[:, 5]
    )
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    return pd.DataFrame(x, columns=FEATURES).assign(target=y)


def simulation_case(quick: bool) -> dict[str, Any]:
    rng = np.random.default_rng(SEED)
    train_rows, reference_rows, chunk, chunks = (
        (6_000, 3_000, 1_000, 20) if quick else (20_000, 10_000, 2_000, 30)
    )
    pieces = []
    for index in range(chunks):
        pieces.append(simulate(rng, chunk, shifted=chunks // 3 <= index < 2 * chunks // 3))
    return {
        "name": "simulation",
        "train": simulate(rng, train_rows),
        "reference": simulate(rng, reference_rows),
        "analysis": pd.concat(pieces, ignore_index=True),
        "chunk": chunk,
        "features": FEATURES,
        "target": "target",
        "fresh": lambda r, n: simulate(r, n),
    }


def credit_case() -> dict[str, Any]:
    frame = pd.read_csv(CREDIT).drop(columns=["ID"])
    target = "default_payment_next_month"
    shuffled = frame.sample(frac=1.0, random_state=SEED).reset_index(drop=True)
    n = len(shuffled)
    train, reference = shuffled.iloc[: int(0.4 * n)], shuffled.iloc[int(0.4 * n) : int(0.6 * n)]
    analysis = shuffled.iloc[int(0.6 * n) :].sort_values("LIMIT_BAL", kind="stable")
    return {
        "name": "credit",
        "train": train.reset_index(drop=True),
        "reference": reference.reset_index(drop=True),
        "analysis": analysis.reset_index(drop=True),
        "chunk": 1_000,
        "features": [c for c in frame.columns if c != target],
        "target": target,
    }


# -- Keel ---------------------------------------------------------------------------------------
def keel_case(workdir: Path, case: dict[str, Any]) -> dict[str, Any]:
    """Fit, register, build both references, estimate every chunk; write NannyML's inputs."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    import keel
    from keel.domain.policy import Policy
    from keel.monitoring.estimation import estimate_performance
    from keel.monitoring.runner import References

    name, target, features, chunk = case["name"], case["target"], case["features"], case["chunk"]
    train, reference, analysis = case["train"], case["reference"], case["analysis"]
    # early stopping off: "auto" turns it on from 10,000 rows, so a refit on 4/5 of them would
    # not be the same procedure as the fit it stands in for
    model = HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=0)
    model.fit(train[features], train[target])
    out: dict[str, Any] = {"chunks": len(analysis) // chunk, "chunk_rows": chunk}
    analysis = analysis.iloc[: out["chunks"] * chunk]
    score = model.predict_proba(analysis[features])[:, 1]
    prediction = model.predict(analysis[features])
    truth = analysis[target].to_numpy()
    reference_score = model.predict_proba(reference[features])[:, 1]
    pd.DataFrame(
        {
            "y_true": reference[target].to_numpy(),
            "y_pred": model.predict(reference[features]),
            "y_pred_proba": reference_score,
        }
    ).to_parquet(workdir / f"{name}_reference.parquet")
    pd.DataFrame({"y_pred": prediction, "y_pred_proba": score, "y_true": truth}).to_parquet(
        workdir / f"{name}_analysis.parquet"
    )
    realized: dict[str, list[float]] = {metric: [] for metric in METRICS}
    from sklearn.metrics import roc_auc_score

    for index in range(out["chunks"]):
        part = slice(index * chunk, (index + 1) * chunk)
        realized["accuracy"].append(float(np.mean(prediction[part] == truth[part])))
        realized["roc_auc"].append(float(roc_auc_score(truth[part], score[part])))
    out["realized"] = realized
    with keel.Client(
        f"sqlite:///{workdir}/{name}.db", str(workdir / f"{name}-artifacts")
    ) as client:
        train_snapshot = client.register_snapshot(train, f"{name}-train")
        held = client.register_snapshot(reference, f"{name}-reference")
        version = client.register_model(name, model, training_data=train_snapshot, target=target)
        variants = {
            "default": {"monitoring": {"window": {"rows": chunk}}},
            "heldout": {"monitoring": {"window": {"rows": chunk}, "reference": held.ref}},
        }
        for label, policy in variants.items():
            started = time.perf_counter()
            built = References(client.db, client.artifacts, name, Policy.parse(policy))(
                version.version
            )
            build_s = time.perf_counter() - started
            started = time.perf_counter()
            estimates = [
                estimate_performance(
                    prediction[i * chunk : (i + 1) * chunk],
                    score[i * chunk : (i + 1) * chunk],
                    built.classes,
                    built.calibrator,
                    seed=i,
                )
                for i in range(out["chunks"])
            ]
            estimate_s = time.perf_counter() - started
            assert built.limits is not None
            side: dict[str, Any] = {
                "calibration": built.calibration,
                "build_s": build_s,
                "estimate_s": estimate_s,
                "wall_s": build_s + estimate_s,
            }
            for metric in METRICS:
                entry = built.limits.metrics[metric]
                side[metric] = {
                    "value": [e.metrics[metric] for e in estimates],
                    "low": [e.bands[metric][0] for e in estimates],
                    "high": [e.bands[metric][1] for e in estimates],
                    "limit": entry.limit([chunk]),
                }
                side[metric]["alert"] = [v < side[metric]["limit"] for v in side[metric]["value"]]
            out[label] = side
            if label == "default" and "fresh" in case:
                out["false_positive_rate"] = false_positives(case, model, built, chunk)
    return out


def false_positives(case: dict[str, Any], model: Any, built: Any, chunk: int) -> dict[str, Any]:
    """The default reference's three rules over ``FP_WINDOWS`` fresh no-shift windows."""
    from keel.monitoring.estimation import estimate_performance

    rng = np.random.default_rng(SEED + 1)
    features, target = case["features"], case["target"]
    rules = {
        "accuracy below reference": "accuracy",
        "estimated_accuracy below reference": "accuracy",
        "estimated_roc_auc below reference": "roc_auc",
    }
    fired = dict.fromkeys(rules, 0)
    any_fired = 0
    for index in range(FP_WINDOWS):
        window = case["fresh"](rng, chunk)
        score = model.predict_proba(window[features])[:, 1]
        prediction = model.predict(window[features])
        estimate = estimate_performance(
            prediction, score, built.classes, built.calibrator, draws=1, seed=index
        )
        values = {
            "accuracy below reference": float(np.mean(prediction == window[target].to_numpy())),
            "estimated_accuracy below reference": estimate.metrics["accuracy"],
            "estimated_roc_auc below reference": estimate.metrics["roc_auc"],
        }
        hits = [
            r for r, metric in rules.items() if values[r] < built.limits.get(metric).limit([chunk])
        ]
        for rule in hits:
            fired[rule] += 1
        any_fired += bool(hits)
    return {
        "windows": FP_WINDOWS,
        "window_rows": chunk,
        "rate": any_fired / FP_WINDOWS,
        "by_rule": {rule: count / FP_WINDOWS for rule, count in fired.items()},
    }


# -- NannyML ------------------------------------------------------------------------------------
def nannyml_python() -> Path:
    """The NannyML venv's python, creating the venv with pip when it is missing."""
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import nannyml"]
    environment = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"}
    if (
        python.exists()
        and subprocess.run(probe, capture_output=True, env=environment).returncode == 0
    ):
        return python
    log(f"creating {VENV} with {' '.join(REQUIREMENTS)}")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    install = [str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS]
    subprocess.run(install, check=True, stdout=sys.stderr)
    subprocess.run(probe, check=True, env=environment)
    return python


def nannyml_case(python: Path, workdir: Path, name: str, chunk: int) -> dict[str, Any]:
    command = [str(python), str(WORKER), "--workdir", str(workdir), "--case", name]
    command += ["--chunk", str(chunk)]
    environment = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"}
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, env=environment, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"nannyml {name} failed with exit code {done.returncode}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    answer["wall_s"] = answer["fit_s"] + answer["estimate_s"]
    return answer


# -- figures ------------------------------------------------------------------------------------
def figures(
    side: dict[str, Any], realized: dict[str, list[float]], fell: dict[str, list[bool]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for metric in METRICS:
        value = np.asarray(side[metric]["value"], dtype=float)
        truth = np.asarray(realized[metric])
        low = np.asarray(side[metric]["low"], dtype=float)
        high = np.asarray(side[metric]["high"], dtype=float)
        alert = np.asarray(side[metric]["alert"], dtype=bool)
        really = np.asarray(fell[metric], dtype=bool)
        out[metric] = {
            "mae": float(np.mean(np.abs(value - truth))),
            "coverage": float(np.mean((low <= truth) & (truth <= high))),
            "covered_chunks": int(np.sum((low <= truth) & (truth <= high))),
            "alerts_found": int(np.sum(alert & really)),
            "alerts_missed": int(np.sum(~alert & really)),
            "false_alerts": int(np.sum(alert & ~really)),
        }
    return out


def summarise(keel: dict[str, Any], nannyml: dict[str, Any] | None) -> dict[str, Any]:
    realized = keel["realized"]
    # a chunk's metric really fell when its realized value is below the held-out reference's
    # own limit for it (the same rule, fed labels)
    fell = {
        metric: [v < keel["heldout"][metric]["limit"] for v in realized[metric]]
        for metric in METRICS
    }
    out: dict[str, Any] = {
        "chunks": keel["chunks"],
        "chunk_rows": keel["chunk_rows"],
        "really_fell": {metric: int(sum(fell[metric])) for metric in METRICS},
        "keel_default": figures(keel["default"], realized, fell),
        "keel_heldout": figures(keel["heldout"], realized, fell),
        "keel_default_calibration": keel["default"]["calibration"],
        "keel_default_wall_s": keel["default"]["wall_s"],
        "keel_heldout_wall_s": keel["heldout"]["wall_s"],
        "nannyml": None,
    }
    if nannyml is not None:
        out["nannyml"] = figures(nannyml, realized, fell)
        out["nannyml_wall_s"] = nannyml["wall_s"]
        out["nannyml_version"] = nannyml["version"]
        out["heldout_vs_nannyml_max_abs_diff"] = {
            metric: float(
                np.max(
                    np.abs(
                        np.asarray(keel["heldout"][metric]["value"])
                        - np.asarray(nannyml[metric]["value"], dtype=float)
                    )
                )
            )
            for metric in METRICS
        }
    if "false_positive_rate" in keel:
        out["false_positive_rate"] = keel["false_positive_rate"]
    return out


def targets(cases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    for name, case in cases.items():
        for metric in METRICS:
            mine = case["keel_default"][metric]
            checks[f"{name}_{metric}_coverage_93"] = mine["coverage"] >= 0.93
            if case["nannyml"] is not None:
                theirs = case["nannyml"][metric]
                checks[f"{name}_{metric}_mae_not_worse"] = mine["mae"] <= theirs["mae"] + MAE_TIE
        if "false_positive_rate" in case:
            checks[f"{name}_false_positive_rate_under_1pct"] = (
                case["false_positive_rate"]["rate"] < 0.01
            )
    return checks


def rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return round(value, 5) if isinstance(value, float) else value


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smaller simulation")
    parser.add_argument("--no-nannyml", action="store_true", help="leave NannyML out")
    args = parser.parse_args()
    started = time.perf_counter()
    python = None if args.no_nannyml else nannyml_python()
    load = [os.getloadavg()[0]]
    results: dict[str, dict[str, Any]] = {}
    from threadpoolctl import threadpool_limits

    # one thread for Keel's fits and refits, as NannyML's worker mostly runs: comparable times,
    # and no OpenMP threads fighting over a shared machine's two cores
    with (
        threadpool_limits(1),
        tempfile.TemporaryDirectory(prefix="keel-bench-estimation-") as folder,
    ):
        workdir = Path(folder)
        for case in (simulation_case(args.quick), credit_case()):
            log(f"{case['name']}: Keel")
            keel = keel_case(workdir, case)
            nannyml = None
            if python is not None:
                log(f"{case['name']}: NannyML")
                nannyml = nannyml_case(python, workdir, case["name"], case["chunk"])
            results[case["name"]] = summarise(keel, nannyml)
    load.append(os.getloadavg()[0])
    answer = {
        "bench": "estimation",
        "quick": args.quick,
        "cores": len(os.sched_getaffinity(0)),
        "load_avg_1m": load,
        **results,
        "targets": targets(results),
        "seconds": time.perf_counter() - started,
    }
    print(json.dumps(rounded(answer)))


if __name__ == "__main__":
    main()
