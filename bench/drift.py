"""Benchmark: Keel's drift detection against Evidently's DataDriftPreset and a plain SciPy loop.

Run ``.venv/bin/python bench/drift.py`` (100,000 and 1,000,000 rows; about 5 minutes, most of it
Evidently at a million rows) or with ``--quick`` (100,000 rows only, under a minute once the
Evidently venv exists); ``--no-evidently`` leaves Evidently out. Progress goes to stderr; the answer
is one line of JSON on stdout.

What
- Data, seeded: a reference and a current window of N rows each (N = 100,000 and 1,000,000), 20
  numeric columns ``n00``..``n19`` (normal, lognormal, uniform, exponential and Student-t shapes at
  various locations and scales; two with 1% missing values) and 5 categorical ones ``c0``..``c4``
  (8 categories with Zipf-like shares as text; one with 2% missing). Drift in exactly 5 columns:
  ``n00`` mean +0.1 standard deviation (subtle), ``n01`` mean +0.5 standard deviation, ``n02``
  scale x1.5, ``c0`` its two most common categories swap shares (0.35 <-> 0.20), ``c1`` a category
  the reference never had in 5% of the rows. The other 20 columns are drawn afresh from the same
  distributions. Both sets are written as Parquet (plain text for categories) to a temporary folder.
- Every measurement runs in its own process (so peaks do not mix), reads its inputs from Parquet,
  warms up on a small slice (imports), then resets the peak-RSS mark (``/proc/self/clear_refs``)
  and times the real work; ``*_peak_mb`` is the process's peak resident memory during that work,
  with its inputs loaded (the window alone for Keel; reference and window for the others);
  ``*_loaded_mb`` the resident memory before it.
- Keel: ``ReferenceProfile.build(reference)`` is timed in one process (``keel_build_s``) and stored
  as JSON (``keel_profile_kb``); another process reads that JSON and the current window and times
  ``detect_drift(profile, current)`` with the default ``DriftConfig()`` (per-feature tests,
  Benjamini-Hochberg, effect thresholds and the domain classifier on 5,000 rows a side): the best
  of 3 runs is ``keel_s``, and ``keel_columns_only_s`` the same without the domain classifier.
  ``keel_flagged`` is ``report.drifted``; ``keel_multivariate`` the classifier's AUC and verdict.
- Evidently (``.bench/evidently``, created with pip when missing: ``evidently==0.7.23``, the newest
  ``pip index versions evidently`` listed, with ``pandas<3`` because 0.7.23 imports a pandas helper
  that pandas 3 removed) runs ``bench/_evidently_worker.py``: ``Report([DataDriftPreset()]).run``.
- SciPy: ``scipy.stats.ks_2samp`` per numeric column (its default method) and
  ``chi2_contingency`` per categorical column, each flagging ``p < 0.05``, no correction.

Targets from the issue: Keel under 1 s at a million rows, at least 100x faster than Evidently and
5x faster than the SciPy loop, peak memory under 600 MB, flagging exactly the 5 drifted columns.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _evidently_worker import peak_mb, read_parquet, reset_peak, rss_mb

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".bench" / "evidently"
EVIDENTLY_WORKER = Path(__file__).with_name("_evidently_worker.py")
EVIDENTLY_REQUIREMENTS = ["evidently==0.7.23", "pandas<3", "pyarrow"]
NUMERIC = [f"n{i:02d}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]
DRIFTED = ["c0", "c1", "n00", "n01", "n02"]
WORDS = ["north", "south", "east", "west", "centre", "harbour", "hills", "plains"]
SHARES = [0.35, 0.20, 0.14, 0.10, 0.08, 0.06, 0.04, 0.03]
SHAPES = ["normal", "lognormal", "uniform", "exponential", "student-t"]
SEED = 11
REPEATS = 3


def log(message: str) -> None:
    print(f"[drift] {message}", file=sys.stderr, flush=True)


# -- data ---------------------------------------------------------------------------------------
def draw(rng: np.random.Generator, shape: str, rows: int) -> np.ndarray:
    if shape == "normal":
        return rng.standard_normal(rows)
    if shape == "lognormal":
        return rng.lognormal(0.0, 0.5, rows)
    if shape == "uniform":
        return rng.random(rows)
    if shape == "exponential":
        return rng.exponential(1.0, rows)
    return rng.standard_t(5, rows)


def make_table(rows: int, seed: int, drifted: bool) -> pa.Table:
    """One data set; with ``drifted``, the five changes of the module notes."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for i, name in enumerate(NUMERIC):
        shape = "normal" if i < 3 else SHAPES[i % len(SHAPES)]
        location, scale = float(i), 1.0 + i / 10
        values = location + scale * draw(rng, shape, rows)
        if drifted and name == "n00":
            values += 0.1 * scale
        if drifted and name == "n01":
            values += 0.5 * scale
        if drifted and name == "n02":
            values = location + (values - location) * 1.5
        if name in ("n07", "n13"):
            values[rng.random(rows) < 0.01] = np.nan
        columns[name] = values
    for name in CATEGORICAL:
        shares = list(SHARES)
        if drifted and name == "c0":
            shares[0], shares[1] = shares[1], shares[0]
        codes = rng.choice(len(WORDS), rows, p=shares)
        if drifted and name == "c1":
            codes[rng.random(rows) < 0.05] = len(WORDS)  # "unseen"
        mask = rng.random(rows) < 0.02 if name == "c4" else None
        indices = pa.array(codes.astype(np.int32), mask=mask)
        labels = pa.DictionaryArray.from_arrays(indices, pa.array([*WORDS, "unseen"]))
        columns[name] = labels.cast(pa.string())
    return pa.table(columns)


def write_data(folder: Path, rows: int) -> None:
    import pyarrow.parquet as pq

    for label, seed, drifted in (("reference", SEED, False), ("current", SEED + 1, True)):
        pq.write_table(make_table(rows, seed + rows, drifted), folder / f"{label}_{rows}.parquet")


# -- measuring processes (each prints one JSON line) --------------------------------------------
def worker_build(folder: Path, rows: int) -> dict[str, Any]:
    """Build the profile from the reference rows and store it as JSON."""
    import orjson

    from keel.monitoring.drift import ReferenceProfile

    reference = read_parquet(folder / f"reference_{rows}.parquet")
    ReferenceProfile.build(reference.iloc[:5000])  # warm-up
    loaded = rss_mb()
    reset_peak()
    started = time.perf_counter()
    profile = ReferenceProfile.build(reference, seed=0)
    build_s = time.perf_counter() - started
    data = orjson.dumps(profile.to_dict())
    (folder / f"profile_{rows}.json").write_bytes(data)
    return {
        "seconds": build_s,
        "profile_kb": len(data) / 1024,
        "peak_mb": peak_mb(),
        "loaded_mb": loaded,
    }


def worker_keel(folder: Path, rows: int) -> dict[str, Any]:
    """Time detect_drift against the stored profile (read from JSON, like a stored artifact)."""
    import orjson

    from keel.monitoring.drift import DriftConfig, ReferenceProfile, detect_drift

    profile = ReferenceProfile.from_dict(
        orjson.loads((folder / f"profile_{rows}.json").read_bytes())
    )
    current = read_parquet(folder / f"current_{rows}.parquet")
    started = time.perf_counter()
    detect_drift(profile, current.iloc[:20_000], DriftConfig())  # warm-up: imports
    first_s = time.perf_counter() - started
    loaded = rss_mb()
    reset = reset_peak()
    runs, columns_only = [], []
    report = None
    for _ in range(REPEATS):
        started = time.perf_counter()
        report = detect_drift(profile, current, DriftConfig())
        runs.append(time.perf_counter() - started)
        started = time.perf_counter()
        detect_drift(profile, current, DriftConfig(multivariate=False))
        columns_only.append(time.perf_counter() - started)
    assert report is not None and report.multivariate is not None
    return {
        "seconds": min(runs),
        "runs_s": runs,
        "median_s": statistics.median(runs),
        "columns_only_s": min(columns_only),
        "warmup_20k_rows_s": first_s,
        "flagged": sorted(report.drifted),
        "multivariate": {k: report.multivariate[k] for k in ("auc", "p_value", "drifted")},
        "issues": [f"{i['column']}: {i['code']}" for i in report.issues],
        "effects": {f.feature: round(f.effect, 4) for f in report.features},
        "peak_mb": peak_mb(),
        "loaded_mb": loaded,
        "peak_reset": reset,
    }


def scipy_loop(reference: Any, current: Any) -> list[str]:
    """The plain loop: KS per number, chi-square per category, p < 0.05, no correction."""
    import pandas as pd
    from scipy import stats

    flagged = []
    for name in NUMERIC:
        a, b = reference[name].dropna().to_numpy(), current[name].dropna().to_numpy()
        if stats.ks_2samp(a, b).pvalue < 0.05:
            flagged.append(name)
    for name in CATEGORICAL:
        table = pd.concat([reference[name].value_counts(), current[name].value_counts()], axis=1)
        if stats.chi2_contingency(table.fillna(0).to_numpy().T).pvalue < 0.05:
            flagged.append(name)
    return sorted(flagged)


def worker_scipy(folder: Path, rows: int) -> dict[str, Any]:
    reference = read_parquet(folder / f"reference_{rows}.parquet")
    current = read_parquet(folder / f"current_{rows}.parquet")
    scipy_loop(reference.iloc[:2000], current.iloc[:2000])  # warm-up
    loaded = rss_mb()
    reset = reset_peak()
    started = time.perf_counter()
    flagged = scipy_loop(reference, current)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "flagged": flagged,
        "peak_mb": peak_mb(),
        "loaded_mb": loaded,
        "peak_reset": reset,
    }


WORKERS = {"build": worker_build, "keel": worker_keel, "scipy": worker_scipy}


# -- the driver ---------------------------------------------------------------------------------
def evidently_python() -> Path:
    """The Evidently venv's python, creating the venv with pip when it is missing."""
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import evidently"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    log(f"creating {VENV} with {' '.join(EVIDENTLY_REQUIREMENTS)}")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    install = [str(python), "-m", "pip", "install", "--quiet", *EVIDENTLY_REQUIREMENTS]
    subprocess.run(install, check=True, stdout=sys.stderr)
    subprocess.run(probe, check=True)
    return python


def measure(command: list[str], label: str) -> dict[str, Any]:
    log(f"{label}: {' '.join(Path(c).name if '/' in c else c for c in command)}")
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{label} failed with exit code {done.returncode}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    log(
        f"{label}: {answer['seconds']:.3f} s, peak {answer['peak_mb']:.0f} MB, "
        f"flagged {answer.get('flagged', '-')}"
    )
    return answer


def measure_size(folder: Path, rows: int, evidently: Path | None) -> dict[str, Any]:
    log(f"writing {rows:,} reference and {rows:,} current rows")
    write_data(folder, rows)
    own = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--workdir",
        str(folder),
        "--rows",
        str(rows),
    ]
    build = measure([*own, "--worker", "build"], f"keel build {rows:,}")
    keel = measure([*own, "--worker", "keel"], f"keel detect {rows:,}")
    scipy = measure([*own, "--worker", "scipy"], f"scipy loop {rows:,}")
    result: dict[str, Any] = {
        "keel_s": keel["seconds"],
        "keel_median_s": keel["median_s"],
        "keel_runs_s": keel["runs_s"],
        "keel_columns_only_s": keel["columns_only_s"],
        "keel_warmup_20k_rows_s": keel["warmup_20k_rows_s"],
        "keel_build_s": build["seconds"],
        "keel_build_peak_mb": build["peak_mb"],
        "keel_profile_kb": build["profile_kb"],
        "keel_peak_mb": keel["peak_mb"],
        "keel_loaded_mb": keel["loaded_mb"],
        "keel_flagged": keel["flagged"],
        "keel_multivariate": keel["multivariate"],
        "keel_issues": keel["issues"],
        "keel_effects": keel["effects"],
        "scipy_s": scipy["seconds"],
        "scipy_peak_mb": scipy["peak_mb"],
        "scipy_flagged": scipy["flagged"],
        "speedup_vs_scipy": scipy["seconds"] / keel["seconds"],
        "evidently_s": None,
        "evidently_peak_mb": None,
        "evidently_flagged": None,
        "speedup_vs_evidently": None,
    }
    if evidently is not None:
        args = ["--workdir", str(folder), "--rows", str(rows)]
        other = measure([str(evidently), str(EVIDENTLY_WORKER), *args], f"evidently {rows:,}")
        result |= {
            "evidently_s": other["seconds"],
            "evidently_peak_mb": other["peak_mb"],
            "evidently_flagged": other["flagged"],
            "evidently_version": other["version"],
            "speedup_vs_evidently": other["seconds"] / keel["seconds"],
        }
    return result


def verdict(sizes: dict[int, dict[str, Any]], load: list[float]) -> dict[str, Any]:
    rows = max(sizes)
    top = sizes[rows]
    targets = {
        "keel_under_1s": top["keel_s"] < 1.0,
        "keel_100x_evidently": None
        if top["speedup_vs_evidently"] is None
        else top["speedup_vs_evidently"] >= 100,
        "keel_5x_scipy": top["speedup_vs_scipy"] >= 5,
        "keel_peak_under_600mb": top["keel_peak_mb"] < 600,
        "keel_flags_exactly_the_drifted": all(s["keel_flagged"] == DRIFTED for s in sizes.values()),
    }
    return {
        "bench": "drift",
        "rows": rows,
        "features": len(NUMERIC) + len(CATEGORICAL),
        "drifted": DRIFTED,
        "cores": len(os.sched_getaffinity(0)),
        "load_avg_1m": load,
        **{k: v for k, v in top.items() if k != "keel_effects"},
        "by_rows": {str(n): figures for n, figures in sorted(sizes.items()) if n != rows},
        "targets": targets,
    }


def rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return round(value, 4) if isinstance(value, float) else value


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100,000 rows only")
    parser.add_argument("--no-evidently", action="store_true", help="leave Evidently out")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args.workdir, args.rows)), flush=True)
        return
    evidently = None if args.no_evidently else evidently_python()
    load = [os.getloadavg()[0]]
    sizes: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="keel-bench-drift-") as folder:
        for rows in [100_000] if args.quick else [100_000, 1_000_000]:
            sizes[rows] = measure_size(Path(folder), rows, evidently)
    load.append(os.getloadavg()[0])
    if max(load) > len(os.sched_getaffinity(0)):
        log(f"warning: load average {max(load):.1f}; other work on the machine skews the figures")
    print(json.dumps(rounded(verdict(sizes, load))))


if __name__ == "__main__":
    main()
