"""The measuring half of ``bench/dashboard.py``: the ``keel ui`` server as a subprocess, the
pages it is asked for, their timings, and the raw-log scan a page would need without windows."""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TIMING = re.compile(r"(?:^|,)\s*app\s*;(?:[^,]*;)?\s*dur=([0-9.]+)", re.IGNORECASE)
LIMIT_MS = 300.0


# -- pure helpers -------------------------------------------------------------------------------
def server_ms(header: str | None) -> float | None:
    """The ``app`` duration of a ``Server-Timing`` header (``app;dur=12.3``), in ms."""
    if not header:
        return None
    match = _TIMING.search(header)
    return float(match.group(1)) if match else None


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between ranks (NumPy's
    default); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Samples:
    """The timings of one page kind: the first request apart (cold), the rest warm."""

    cold_server_ms: float | None = None
    cold_wall_ms: float | None = None
    server: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    bytes: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    urls: int = 0

    def add(self, server: float | None, wall: float, size: int) -> None:
        if self.cold_wall_ms is None:
            self.cold_server_ms, self.cold_wall_ms = server, wall
            return
        if server is not None:
            self.server.append(server)
        self.wall.append(wall)
        self.bytes.append(size)

    def summary(self, limit_ms: float = LIMIT_MS) -> dict[str, Any]:
        def r(value: float | None) -> float | None:
            return None if value is None or math.isnan(value) else round(value, 1)

        warm_max = max(self.server) if self.server else math.nan
        return {
            "p50_ms": r(percentile(self.server, 50)),
            "p95_ms": r(percentile(self.server, 95)),
            "max_ms": r(warm_max),
            "cold_ms": r(self.cold_server_ms),
            "wall_p50_ms": r(percentile(self.wall, 50)),
            "wall_p95_ms": r(percentile(self.wall, 95)),
            "cold_wall_ms": r(self.cold_wall_ms),
            "requests": len(self.server) + (self.cold_wall_ms is not None),
            "urls": self.urls,
            "kb_p50": r(percentile([b / 1024 for b in self.bytes], 50)),
            "under_limit": bool(self.server) and warm_max < limit_ms and not self.errors,
            "cold_under_limit": self.cold_server_ms is not None and self.cold_server_ms < limit_ms,
            "errors": self.errors[:5],
        }


# -- the server ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ui_available(keel: Path) -> bool:
    """Whether this Keel has the ``keel ui`` command."""
    done = subprocess.run(
        [str(keel), "ui", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    return done.returncode == 0


@contextlib.contextmanager
def dashboard_server(
    keel: Path, store_url: str, artifacts: str, workdir: Path, timeout_s: float = 90.0
) -> Iterator[str]:
    """``keel ui`` on a free port over the store; yields its base URL and always stops it."""
    port = free_port()
    env = {**os.environ, "KEEL_STORE_URL": store_url, "KEEL_ARTIFACTS": artifacts}
    env.pop("KEEL_USER", None)
    log_path = workdir / "ui-server.log"
    with open(log_path, "wb") as output:
        process = subprocess.Popen(
            [str(keel), "ui", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,  # no keel.yaml of the repository is read
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_for_port(process, port, timeout_s, log_path)
            yield f"http://127.0.0.1:{port}"
        finally:
            _stop(process)


def _wait_for_port(
    process: subprocess.Popen[bytes], port: int, timeout_s: float, log: Path
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"keel ui exited with {process.returncode}:\n{tail}")
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"keel ui did not listen on port {port} within {timeout_s:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)  # its own session: uvicorn and nothing else
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


# -- the pages ----------------------------------------------------------------------------------
def pick_pages(store_url: str, artifacts: str, sample: int) -> dict[str, list[str]]:
    """The URLs of each page kind, over ``sample`` models spread across the store (always
    including one with an open alert and one with a gate result when there are such)."""
    import keel

    pages: dict[str, list[str]] = {
        "models": ["/ui/"],
        "model": [],
        "version": [],
        "drift": [],
        "audit": ["/ui/audit"],
        "audit_model": [],
        "evaluation": [],
    }
    with keel.Client(store_url, artifacts, actor="bench-reader") as client:
        names = sorted(m.name for m in client.list_models())
        if not names:
            raise RuntimeError("the store holds no models")
        step = max(1, len(names) // sample)
        chosen = names[::step][:sample]
        alerted = sorted({a.model for a in client.list_alerts(limit=1000)})
        for extra in alerted[:1]:
            if extra not in chosen:
                chosen[-1] = extra
        for name in chosen:
            pages["model"].append(f"/ui/models/{name}")
            champion = client.get_version(f"{name}@champion").version
            pages["version"].append(f"/ui/models/{name}/versions/{champion}")
            pages["version"].append(f"/ui/models/{name}/versions/1")
            windows = client.monitor_windows(name, limit=1000)
            if windows:
                pages["drift"].append(f"/ui/models/{name}/windows/{windows[0].id}")
                labelled = [w for w in windows if w.labelled_rows]
                if labelled:
                    pages["drift"].append(f"/ui/models/{name}/windows/{labelled[0].id}")
            pages["audit_model"].append(f"/ui/audit?model={name}")
        for name in names:
            evaluations = client.list_evaluations(name)
            if evaluations:
                pages["evaluation"].append(f"/ui/evaluations/{evaluations[0].id}")
            if len(pages["evaluation"]) >= 2:
                break
    return {kind: urls for kind, urls in pages.items() if urls}


def measure_pages(
    base: str, pages: dict[str, list[str]], repeats: int, progress: Any
) -> dict[str, Samples]:
    """Request every URL ``repeats`` times (plus the cold first request of each kind), kinds
    interleaved round by round so no kind runs on caches the others left cold."""
    import httpx

    found = {kind: Samples(urls=len(urls)) for kind, urls in pages.items()}
    with httpx.Client(base_url=base, timeout=120.0) as http:
        for round_index in range(repeats + 1):
            for kind, urls in pages.items():
                chosen = urls[:1] if round_index == 0 else urls
                for url in chosen:
                    began = time.perf_counter()
                    answer = http.get(url)
                    wall = (time.perf_counter() - began) * 1000.0
                    if answer.status_code != 200:
                        found[kind].errors.append(f"{url}: HTTP {answer.status_code}")
                    found[kind].add(
                        server_ms(answer.headers.get("server-timing")), wall, len(answer.content)
                    )
            if round_index == 0:
                progress("cold requests done: " + _cold_line(found))
            elif round_index % max(1, repeats // 4) == 0:
                progress(f"round {round_index}/{repeats}")
    return found


def _cold_line(found: dict[str, Samples]) -> str:
    return ", ".join(
        f"{kind} {s.cold_server_ms if s.cold_server_ms is not None else '?'} ms"
        for kind, s in found.items()
    )


# -- the baseline: series from the raw log --------------------------------------------------------
def raw_scan_duckdb(log_root: Path, model: str) -> int:
    """A model's daily accuracy and latency series straight from its Parquet parts (DuckDB);
    ``model="*"``: every model's, as a models list would need. Returns the number of series
    points (model-days)."""
    import duckdb

    predictions = f"{log_root}/predictions/model={model}/*/*.parquet"
    labels = f"{log_root}/labels/model={model}/*/*.parquet"
    query = f"""
        SELECT p.model, date_trunc('day', p.timestamp) AS day, count(*) AS rows,
               avg(CASE WHEN l.label IS NULL THEN NULL
                        ELSE CAST(p.prediction = l.label AS INTEGER) END) AS accuracy,
               count(l.label) AS labelled,
               quantile_cont(p.latency_ms, 0.5) AS latency_p50,
               quantile_cont(p.latency_ms, 0.99) AS latency_p99,
               avg(CAST(p.status = 'error' AS INTEGER)) AS error_rate
        FROM read_parquet('{predictions}', hive_partitioning = true) AS p
        LEFT JOIN read_parquet('{labels}', hive_partitioning = true) AS l USING (request_id)
        GROUP BY 1, 2 ORDER BY 1, 2
    """
    with duckdb.connect() as connection:
        return len(connection.sql(query).fetchall())


def raw_scan_pandas(log_root: Path, model: str) -> int:
    """The same series with pandas (``read_parquet`` of the model's folders, merge, groupby)."""
    import pandas as pd

    predictions = pd.read_parquet(
        log_root / "predictions" / f"model={model}",
        columns=["request_id", "timestamp", "prediction", "latency_ms", "status"],
    )
    labels = pd.read_parquet(
        log_root / "labels" / f"model={model}", columns=["request_id", "label"]
    )
    joined = predictions.merge(labels, on="request_id", how="left")
    joined["correct"] = (joined["prediction"] == joined["label"]).where(joined["label"].notna())
    daily = joined.groupby(joined["timestamp"].dt.floor("D")).agg(
        rows=("request_id", "size"),
        accuracy=("correct", "mean"),
        latency_p50=("latency_ms", "median"),
        latency_p99=("latency_ms", lambda s: s.quantile(0.99)),
    )
    return len(daily)


def time_raw_scans(log_root: Path, models: list[str], repeats: int) -> dict[str, float]:
    """Median ms per model page's worth of series, with DuckDB and with pandas."""
    import statistics

    found: dict[str, float] = {}
    for label, scan in (("duckdb", raw_scan_duckdb), ("pandas", raw_scan_pandas)):
        times = []
        for index in range(repeats):
            model = models[index % len(models)]
            began = time.perf_counter()
            days = scan(log_root, model)
            times.append((time.perf_counter() - began) * 1000.0)
            if days == 0:
                print(f"[dashboard] raw scan of {model} found no rows", file=sys.stderr)
        found[label] = statistics.median(times)
    return found


def time_raw_scan_all(log_root: Path, repeats: int) -> float:
    """Median ms of every model's daily series from the whole log (DuckDB)."""
    import statistics

    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        raw_scan_duckdb(log_root, "*")
        times.append((time.perf_counter() - began) * 1000.0)
    return statistics.median(times)
