"""Evidently's half of ``bench/drift.py``; run by the Evidently venv's python, never by Keel's.

Also the home of the few helpers every measuring process of that benchmark shares (standard
library, pandas and pyarrow only, so both venvs can use them): reading the Parquet files with a low
peak, and the process's resident memory.

As a script: ``_evidently_worker.py --workdir DIR --rows N`` reads ``DIR/reference_N.parquet``
and ``DIR/current_N.parquet``, warms up on the first 2,000 rows of each, resets the peak-memory
mark, then times ``Report([DataDriftPreset()]).run(current_data=..., reference_data=...)`` (the
new ``evidently`` API of 0.7: its default per-column method, Wasserstein distance normed by the
reference's standard deviation for numbers and Jensen-Shannon distance for categories above
1,000 rows, each at a threshold of 0.1) and prints one JSON line: the seconds, the columns it
called drifted (a distance at or above its threshold, or a p-value below it, as Evidently's own
tests decide), the scores, and the memory figures. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import warnings
from pathlib import Path
from typing import Any

MB = 1024 * 1024


def log(message: str) -> None:
    print(f"[evidently] {message}", file=sys.stderr, flush=True)


def read_parquet(path: Path) -> Any:
    """A DataFrame with one block per column (no consolidation copy), the Arrow buffers freed as
    they are converted and the memory Arrow's allocator kept for reuse given back, so what stays
    resident is the frame (not the reader's scratch space)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pq.read_table(path).to_pandas(split_blocks=True, self_destruct=True)
    pa.default_memory_pool().release_unused()
    return frame


def _status(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024 / MB
    except OSError:
        return None
    return None


def rss_mb() -> float | None:
    """The resident memory now."""
    return _status("VmRSS")


def reset_peak() -> bool:
    """Set the peak-RSS mark (VmHWM) to the current RSS (Linux >= 4.0); False if refused."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_mb() -> float:
    """The peak resident memory since the last reset (or since the start)."""
    peak = _status("VmHWM")
    if peak is not None:
        return peak
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def drifted(metric: dict[str, Any]) -> bool:
    """Evidently's verdict for one ValueDrift metric: p-value methods drift below the threshold,
    distance methods at or above it (see ``evidently.legacy.calculations.stattests``)."""
    config, value = metric["config"], float(metric["value"])
    if "p_value" in str(config.get("method", "")):
        return value < float(config["threshold"])
    return value >= float(config["threshold"])


def run(reference: Any, current: Any) -> Any:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    return Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--rows", type=int, required=True)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    import evidently

    import_s = time.perf_counter() - started
    reference = read_parquet(args.workdir / f"reference_{args.rows}.parquet")
    current = read_parquet(args.workdir / f"current_{args.rows}.parquet")
    load_peak = peak_mb()
    log(f"evidently {evidently.__version__}: {len(reference):,} + {len(current):,} rows loaded")
    run(reference.iloc[:2000], current.iloc[:2000])  # warm-up
    loaded = rss_mb()
    reset = reset_peak()
    started = time.perf_counter()
    snapshot = run(reference, current)
    seconds = time.perf_counter() - started
    peak = peak_mb()
    metrics = [m for m in snapshot.dict()["metrics"] if m["config"].get("column") is not None]
    log(f"{seconds:.1f} s")
    print(
        json.dumps(
            {
                "seconds": seconds,
                "flagged": sorted(m["config"]["column"] for m in metrics if drifted(m)),
                "scores": {
                    m["config"]["column"]: [m["config"]["method"], float(m["value"])]
                    for m in metrics
                },
                "peak_mb": peak,
                "loaded_mb": loaded,
                "load_peak_mb": load_peak,
                "peak_reset": reset,
                "import_s": import_s,
                "version": evidently.__version__,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
