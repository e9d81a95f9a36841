"""Benchmark: Keel's label-free estimate (CBPE) against NannyML's, same chunks, same scores.

Run ``.venv/bin/python bench/estimation.py`` (18 to 27 minutes on 2 cores: five draws of each
case) or with ``--quick`` (one smaller draw of each: a few minutes once NannyML's venv exists);
``--no-nannyml`` leaves NannyML out. Progress goes to stderr; the answer is one line of JSON on
stdout.

What
- Cases, each a binary classifier (scikit-learn's HistGradientBoostingClassifier, 100 trees, 50
  with ``--quick``, early stopping off, seeded) fitted on training rows, a held-out reference of
  labelled rows, and analyses: rows cut into chunks, each scored by the model once.
  - ``simulation``: six normal features, P(y | x) a fixed logistic function linear in them.
    Full: 20,000 training rows, 10,000 reference rows, 90 chunks of 2,000; quick: 4,000 /
    2,000 / 45 of 1,000. In the middle third of the chunks the inputs shift:
    ``score_shift``: rows are drawn as before, kept always when the model's score lies within
    0.15 of 0.5 and else with chance 0.15 (more rows near the boundary, so accuracy and ROC
    AUC really fall, and the shift is chosen by the score alone, so P(label | score) holds:
    the shift CBPE is built for); ``feature_shift``: the three strongest features shrink
    towards 0 by 60% and a weak one moves by +1 (also towards the boundary, but the model's
    score is not the true P(y | x), so P(label | score) moves a little: what a band cannot see).
  - ``credit``: the shared credit-default table (``/work/shared/data/credit_default_taiwan``,
    30,000 rows, no time order; 15,000 with ``--quick``): 40% training rows, 20% reference,
    and the other 40% in chunks of 1,000 (500 quick), ``random_order`` (no shift) and
    ``by_credit_limit`` (sorted by ``LIMIT_BAL``: a simulated covariate shift from small to
    large credit lines).
- Keel, in this process (one thread for BLAS and OpenMP), on a temporary SQLite store: the
  training rows and the reference are registered as snapshots, the model with the training
  rows as its training data, and the
  version's monitoring reference is built (``keel.monitoring.references``) twice: with Keel's
  DEFAULT policy (the reference is the training snapshot, so the calibrator and limits learn
  from out-of-fold scores of 5 refits) and with ``monitoring.reference`` naming the held-out
  snapshot. Each chunk is estimated as a monitoring run estimates a window
  (``keel.monitoring.window_estimate``, 95% bands): the default policy's drift checks run on
  its inputs, and when they alarm the calibrator is refitted on the reference's held-out rows
  weighted like the chunk (``keel.monitoring.shift_weights``). Alerts: the
  chunk's estimate below the limit of ``estimated_accuracy below reference`` /
  ``estimated_roc_auc below reference`` at the chunk's size (``keel.monitoring.reference_limits``).
- NannyML (``.bench/nannyml``, created with pip when missing: ``nannyml==0.13.1``, the newest
  on the index, and ``statsmodels``, which it imports but does not require) runs
  ``bench/_nannyml_worker.py`` on the same held-out reference and the same analysis rows with
  the same scores: ``CBPE(metrics=["accuracy", "roc_auc"], chunk_size=N)``, its defaults
  otherwise (its bands are +-3 sampling errors, its thresholds the reference chunks' mean +-3
  standard deviations). Its usage reporting is switched off.
- Replicates: each case is drawn ``--replicates`` times (5; 1 with ``--quick``), each with its
  own seed: new simulated rows (or a new split of the credit table), a new model, new chunks.
  One draw decides little: an isotonic map learnt from 10,000 rows moves by about as much as
  the gap between two ways of building it, so the figures pool every replicate's chunks, and
  the accuracy MAE of each replicate is listed beside them.
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
from _estimation_figures import METRICS, rounded, summarise, targets

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".bench" / "nannyml"
WORKER = Path(__file__).with_name("_nannyml_worker.py")
REQUIREMENTS = ["nannyml==0.13.1", "statsmodels", "pyarrow"]
CREDIT = Path("/work/shared/data/credit_default_taiwan/credit_default_taiwan.csv")
SEED = 16
FP_WINDOWS = 200


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


def score_shifted(
    rng: np.random.Generator, model: Any, rows: int, keep_far: float = 0.15
) -> pd.DataFrame:
    """Rows drawn from the calm distribution, kept always when the model's score lies within
    0.15 of 0.5 and with chance ``keep_far`` otherwise: more rows near the boundary, chosen by
    the score alone, so P(label | score) is exactly what it was."""
    kept: list[pd.DataFrame] = []
    count = 0
    while count < rows:
        candidates = simulate(rng, 4 * rows)
        score = model.predict_proba(candidates[FEATURES])[:, 1]
        near = np.abs(score - 0.5) < 0.15
        chosen = candidates[near | (rng.random(len(candidates)) < keep_far)]
        kept.append(chosen)
        count += len(chosen)
    return pd.concat(kept, ignore_index=True).iloc[:rows]


def simulation_case(quick: bool, replicate: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(SEED + 100 * replicate)
    train_rows, reference_rows, chunk, chunks = (
        (4_000, 2_000, 1_000, 45) if quick else (20_000, 10_000, 2_000, 90)
    )

    def analyses(model: Any) -> dict[str, pd.DataFrame]:
        middle = range(chunks // 3, 2 * chunks // 3)
        score = [
            score_shifted(rng, model, chunk) if i in middle else simulate(rng, chunk)
            for i in range(chunks)
        ]
        feature = [simulate(rng, chunk, shifted=i in middle) for i in range(chunks)]
        return {
            "score_shift": pd.concat(score, ignore_index=True),
            "feature_shift": pd.concat(feature, ignore_index=True),
        }

    return {
        "name": "simulation",
        "replicate": replicate,
        "train": simulate(rng, train_rows),
        "reference": simulate(rng, reference_rows),
        "analyses": analyses,
        "chunk": chunk,
        "features": FEATURES,
        "target": "target",
        "fresh": lambda r, n: simulate(r, n),
        "trees": 50 if quick else 100,
    }


def credit_case(quick: bool, replicate: int = 0) -> dict[str, Any]:
    frame = pd.read_csv(CREDIT).drop(columns=["ID"])
    if quick:
        frame = frame.sample(n=15_000, random_state=SEED)
    target = "default_payment_next_month"
    # each replicate splits the table anew: another model, reference and set of chunks
    shuffled = frame.sample(frac=1.0, random_state=SEED + replicate).reset_index(drop=True)
    n = len(shuffled)
    train, reference = shuffled.iloc[: int(0.4 * n)], shuffled.iloc[int(0.4 * n) : int(0.6 * n)]
    rest = shuffled.iloc[int(0.6 * n) :].reset_index(drop=True)

    def analyses(model: Any) -> dict[str, pd.DataFrame]:
        by_limit = rest.sort_values("LIMIT_BAL", kind="stable").reset_index(drop=True)
        return {"random_order": rest, "by_credit_limit": by_limit}

    return {
        "name": "credit",
        "replicate": replicate,
        "train": train.reset_index(drop=True),
        "reference": reference.reset_index(drop=True),
        "analyses": analyses,
        "chunk": 500 if quick else 1_000,
        "features": [c for c in frame.columns if c != target],
        "target": target,
        "trees": 50 if quick else 100,
    }


# -- Keel ---------------------------------------------------------------------------------------
def tag(case: dict[str, Any]) -> str:
    """The case's name with its replicate: names its files, store and NannyML's inputs."""
    return f"{case['name']}{case['replicate']}"


def realized_of(truth: np.ndarray, prediction: np.ndarray, score: np.ndarray, chunk: int) -> Any:
    from sklearn.metrics import roc_auc_score

    realized: dict[str, list[float]] = {metric: [] for metric in METRICS}
    for index in range(len(truth) // chunk):
        part = slice(index * chunk, (index + 1) * chunk)
        realized["accuracy"].append(float(np.mean(prediction[part] == truth[part])))
        realized["roc_auc"].append(float(roc_auc_score(truth[part], score[part])))
    return realized


def keel_case(workdir: Path, case: dict[str, Any]) -> dict[str, Any]:
    """Fit, register, build both references, estimate every chunk of every analysis; write
    NannyML's inputs."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    import keel
    from keel.domain.policy import Policy
    from keel.monitoring.runner import References

    target, features, chunk = case["target"], case["features"], case["chunk"]
    name = tag(case)
    train, reference = case["train"], case["reference"]
    # early stopping off: "auto" turns it on from 10,000 rows, so a refit on 4/5 of them would
    # not be the same procedure as the fit it stands in for
    model = HistGradientBoostingClassifier(
        max_iter=case["trees"], early_stopping=False, random_state=case["replicate"]
    )
    model.fit(train[features], train[target])
    pd.DataFrame(
        {
            "y_true": reference[target].to_numpy(),
            "y_pred": model.predict(reference[features]),
            "y_pred_proba": model.predict_proba(reference[features])[:, 1],
        }
    ).to_parquet(workdir / f"{name}_reference.parquet")
    out: dict[str, Any] = {"chunk_rows": chunk, "analyses": {}}
    store = f"sqlite:///{workdir}/{name}.db"
    with keel.Client(store, str(workdir / f"{name}-artifacts")) as client:
        train_snapshot = client.register_snapshot(train, f"{name}-train")
        held = client.register_snapshot(reference, f"{name}-reference")
        version = client.register_model(name, model, training_data=train_snapshot, target=target)
        variants = {
            "default": {"monitoring": {"window": {"rows": chunk}}},
            "heldout": {"monitoring": {"window": {"rows": chunk}, "reference": held.ref}},
        }
        built = {}
        for label, policy in variants.items():
            started = time.perf_counter()
            built[label] = References(client.db, client.artifacts, name, Policy.parse(policy))(
                version.version
            )
            out[f"{label}_build_s"] = time.perf_counter() - started
            out[f"{label}_calibration"] = built[label].calibration
        for analysis_name, analysis in case["analyses"](model).items():
            chunks = len(analysis) // chunk
            analysis = analysis.iloc[: chunks * chunk]
            score = model.predict_proba(analysis[features])[:, 1]
            prediction = model.predict(analysis[features])
            truth = analysis[target].to_numpy()
            pd.DataFrame({"y_pred": prediction, "y_pred_proba": score, "y_true": truth}).to_parquet(
                workdir / f"{name}_{analysis_name}.parquet"
            )
            result: dict[str, Any] = {
                "chunks": chunks,
                "realized": realized_of(truth, prediction, score, chunk),
            }
            rows = analysis[features].assign(prediction=prediction, score=score)
            for label, ref in built.items():
                started = time.perf_counter()
                estimates = [
                    window_estimate(rows.iloc[i * chunk : (i + 1) * chunk], ref, seed=i)
                    for i in range(chunks)
                ]
                estimate_s = time.perf_counter() - started
                side_shift = [e.get("shift", {}) for e in estimates]
                assert ref.limits is not None
                side: dict[str, Any] = {
                    "estimate_s": estimate_s,
                    "wall_s": out[f"{label}_build_s"] + estimate_s,
                    "reweighted": sum(bool(s.get("weighted")) for s in side_shift),
                    "effective_rows": [
                        s["effective_rows"] for s in side_shift if s.get("weighted")
                    ],
                }
                for metric in METRICS:
                    limit = ref.limits.metrics[metric].limit([chunk])
                    values = [e["metrics"][metric] for e in estimates]
                    side[metric] = {
                        "value": values,
                        "low": [(e["bands"][metric] or [np.nan])[0] for e in estimates],
                        "high": [(e["bands"][metric] or [np.nan, np.nan])[1] for e in estimates],
                        "limit": limit,
                        "alert": [v < limit for v in values],
                    }
                result[label] = side
            out["analyses"][analysis_name] = result
        if "fresh" in case:
            out["false_positive_rate"] = false_positives(case, model, built["default"], chunk)
    return out


def window_estimate(rows: pd.DataFrame, reference: Any, seed: int) -> dict[str, Any]:
    """What a monitoring run records for a window of ``rows`` (features, prediction, score):
    the inputs' drift checks under the default policy decide whether the estimate reweights the
    reference's held-out rows (``keel.monitoring.window_estimate``)."""
    from keel.domain.policy import Policy
    from keel.monitoring.drift import detect_drift
    from keel.monitoring.window_estimate import estimate_window
    from keel.monitoring.window_record import drift_config

    rules = Policy.parse({}).monitoring.drift
    drift = detect_drift(reference.inputs, rows[reference.features], drift_config(rules, seed=seed))
    return estimate_window(rows, reference, rules, shifted=drift.alarm, seed=seed)


def false_positives(case: dict[str, Any], model: Any, built: Any, chunk: int) -> dict[str, Any]:
    """The default reference's three rules over ``FP_WINDOWS`` fresh no-shift windows."""
    rng = np.random.default_rng(SEED + 1 + 100 * case["replicate"])
    features, target = case["features"], case["target"]
    rules = {
        "accuracy below reference": "accuracy",
        "estimated_accuracy below reference": "accuracy",
        "estimated_roc_auc below reference": "roc_auc",
    }
    limits = {rule: built.limits.get(metric).limit([chunk]) for rule, metric in rules.items()}
    fired = dict.fromkeys(rules, 0)
    any_fired = 0
    for index in range(FP_WINDOWS):
        window = case["fresh"](rng, chunk)
        score = model.predict_proba(window[features])[:, 1]
        prediction = model.predict(window[features])
        rows = window[features].assign(prediction=prediction, score=score)
        estimate = window_estimate(rows, built, seed=index)["metrics"]
        values = {
            "accuracy below reference": float(np.mean(prediction == window[target].to_numpy())),
            "estimated_accuracy below reference": estimate["accuracy"],
            "estimated_roc_auc below reference": estimate["roc_auc"],
        }
        hits = [rule for rule in rules if values[rule] < limits[rule]]
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


def nannyml_case(
    python: Path, workdir: Path, name: str, analysis: str, chunk: int
) -> dict[str, Any]:
    command = [str(python), str(WORKER), "--workdir", str(workdir), "--case", name]
    command += ["--analysis", analysis, "--chunk", str(chunk)]
    environment = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"}
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, env=environment, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"nannyml {name} failed with exit code {done.returncode}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    answer["wall_s"] = answer["fit_s"] + answer["estimate_s"]
    return answer


def run_case(builder: Any, workdir: Path, args: argparse.Namespace, python: Any) -> dict[str, Any]:
    """Every replicate of one case, Keel then NannyML, pooled per analysis."""
    keel_runs: list[dict[str, Any]] = []
    nannyml_runs: list[dict[str, Any]] = []
    fp_windows, fp_fired = 0, 0
    by_rule: dict[str, float] = {}
    for replicate in range(args.replicates):
        case = builder(args.quick, replicate)
        log(f"{tag(case)}: Keel")
        keel = keel_case(workdir, case)
        keel_runs.append(keel)
        theirs: dict[str, Any] = {}
        for analysis in keel["analyses"]:
            if python is not None:
                log(f"{tag(case)} {analysis}: NannyML")
                theirs[analysis] = nannyml_case(python, workdir, tag(case), analysis, case["chunk"])
        nannyml_runs.append(theirs)
        if "false_positive_rate" in keel:
            fp = keel["false_positive_rate"]
            fp_windows += fp["windows"]
            fp_fired += round(fp["rate"] * fp["windows"])
            for rule, rate in fp["by_rule"].items():
                by_rule[rule] = by_rule.get(rule, 0.0) + rate * fp["windows"]
    first = keel_runs[0]
    whole: dict[str, Any] = {
        "keel_default_build_s": [k["default_build_s"] for k in keel_runs],
        "keel_heldout_build_s": [k["heldout_build_s"] for k in keel_runs],
        "keel_default_calibration": first["default_calibration"],
    }
    if fp_windows:
        whole["false_positive_rate"] = {
            "windows": fp_windows,
            "window_rows": first["false_positive_rate"]["window_rows"],
            "rate": fp_fired / fp_windows,
            "by_rule": {rule: count / fp_windows for rule, count in by_rule.items()},
        }
    for analysis in first["analyses"]:
        pairs = [
            (keel["analyses"][analysis], theirs.get(analysis))
            for keel, theirs in zip(keel_runs, nannyml_runs, strict=True)
        ]
        whole[analysis] = summarise(first["chunk_rows"], pairs)
    return whole


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smaller simulation")
    parser.add_argument("--no-nannyml", action="store_true", help="leave NannyML out")
    parser.add_argument(
        "--replicates",
        type=int,
        default=None,
        help="independent draws of each case (default 5, 1 with --quick)",
    )
    parser.add_argument(
        "--cases",
        default="simulation,credit",
        help="the cases to run, comma-separated (default: simulation,credit)",
    )
    args = parser.parse_args()
    builders = {"simulation": simulation_case, "credit": credit_case}
    chosen = [name.strip() for name in args.cases.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(builders))
    if unknown or not chosen:
        parser.error(f"--cases: choose among {', '.join(builders)}; got {args.cases!r}")
    if args.replicates is None:
        args.replicates = 1 if args.quick else 5
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
        for name in chosen:
            results[name] = run_case(builders[name], workdir, args, python)
    load.append(os.getloadavg()[0])
    answer = {
        "bench": "estimation",
        "quick": args.quick,
        "cores": len(os.sched_getaffinity(0)),
        "replicates": args.replicates,
        "load_avg_1m": load,
        **results,
        "targets": targets(results),
        "seconds": time.perf_counter() - started,
    }
    print(json.dumps(rounded(answer)))


if __name__ == "__main__":
    main()
