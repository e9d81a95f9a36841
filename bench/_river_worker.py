"""river's half of ``bench/streaming.py``; run by the river venv's python, never by Keel's.

Reads the streams (a ``seeds x rows`` array of 0/1 error indicators, ``.npy``) and feeds each one,
row by row as river's detectors take them, to a fresh ``river.drift.ADWIN()`` and a fresh
``river.drift.binary.HDDMA()`` (``HDDM_A`` in older river), both with their default settings.
Prints one JSON line: river's version and, per detector, each stream's alarm rows (0-based, the
row whose update set ``drift_detected``) and seconds. Progress goes to stderr, prefixed
``[river]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def log(message: str) -> None:
    print(f"[river] {message}", file=sys.stderr, flush=True)


def detectors() -> dict[str, Callable[[], Any]]:
    """river's detectors under the names the benchmark reports (the class moved between
    versions: ``HDDM_A`` before 0.19, ``HDDMA`` since)."""
    from river import drift
    from river.drift import binary

    hddm_a = getattr(binary, "HDDMA", None) or binary.HDDM_A
    return {"adwin": drift.ADWIN, "hddm_a": hddm_a}


def run(make: Callable[[], Any], stream: list[int]) -> tuple[list[int], float]:
    """A fresh detector over one stream; its alarm rows and the seconds it took."""
    detector = make()
    alarms = []
    started = time.perf_counter()
    for row, value in enumerate(stream):
        detector.update(value)
        if detector.drift_detected:
            alarms.append(row)
    return alarms, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=Path, required=True, help="seeds x rows, .npy")
    args = parser.parse_args()
    import numpy as np
    import river

    streams = np.load(args.streams)
    log(f"river {river.__version__}: {streams.shape[0]} streams of {streams.shape[1]:,} rows")
    answer: dict[str, Any] = {"river_version": river.__version__}
    for name, make in detectors().items():
        results = [run(make, stream.tolist()) for stream in streams]
        answer[name] = {
            "class": f"{make.__module__}.{make.__qualname__}",
            "alarms": [alarms for alarms, _ in results],
            "seconds": [seconds for _, seconds in results],
        }
        log(f"{name}: {sum(s for _, s in results):.2f} s in all")
    print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
