"""Prometheus metrics of the serving plane, per model and version, at ``/metrics``.

- ``keel_requests_total{model,version,variant,status}``: answered predict requests by HTTP status;
- ``keel_request_duration_seconds{model,version}``: request latency, arrival to answer;
- ``keel_request_errors_total{model,version,kind}``: failed requests by error kind;
- ``keel_batch_rows{model,version}``: rows per model call (how well batching works);
- ``keel_log_write_seconds{model}``: time to make one batch durable in the prediction log;
- ``keel_shadow_dropped_total{model,version}``: shadow work skipped because the shadow lagged;
- ``keel_model_loads_total{model,version,outcome}``: versions loaded (or refused) by the server;
- ``keel_input_values_total{model,version,field,check,action}``: values the input policy found
  (``check`` out_of_range or unseen_category; ``action`` flagged, the row answered, or
  rejected), so an alert manager sees a shift the moment it arrives, before monitoring runs.

Model quality (realized and estimated metrics, drift, the baseline margin, open alerts) comes
from the store through ``keel.serving.quality_metrics``, a collector ``attach``-ed here.

Each app has its own registry, so several apps can live in one process. With several uvicorn
workers, ``keel serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before any worker
starts; prometheus-client then keeps every worker's values in shared files and ``/metrics``
aggregates all workers, whichever one answers the scrape.
"""

from __future__ import annotations

import os
from typing import Any

from keel.serving.batching import BatchObserver

LATENCY_BUCKETS = (
    0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25,
    0.5, 1.0, 2.5,
)  # fmt: skip
ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def multiprocess_dir() -> str | None:
    """The shared folder of prometheus-client's multiprocess mode, when it is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class ServingMetrics(BatchObserver):
    """The server's counters and histograms; label children are cached (a lookup per request
    would cost more than the increment)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "keel_requests",
            "Answered predict requests.",
            ["model", "version", "variant", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "keel_request_duration_seconds",
            "Predict latency from arrival to answer.",
            ["model", "version"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "keel_request_errors",
            "Failed predict requests by kind.",
            ["model", "version", "kind"],
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "keel_batch_rows",
            "Rows per model call.",
            ["model", "version"],
            buckets=ROW_BUCKETS,
            registry=self.registry,
        )
        self.log_write = Histogram(
            "keel_log_write_seconds",
            "Time to make one batch durable in the prediction log.",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.shadow_dropped = Counter(
            "keel_shadow_dropped",
            "Shadow scoring skipped because the shadow version lagged.",
            ["model", "version"],
            registry=self.registry,
        )
        self.loads = Counter(
            "keel_model_loads",
            "Model versions loaded by this server, by outcome.",
            ["model", "version", "outcome"],
            registry=self.registry,
        )
        self.input_values = Counter(
            "keel_input_values",
            "Values outside the training data, by feature, check and action.",
            ["model", "version", "field", "check", "action"],
            registry=self.registry,
        )
        self._children: dict[tuple[Any, ...], Any] = {}
        self._collectors: list[Any] = []

    def attach(self, collector: Any) -> None:
        """Add a collector that builds its metrics at scrape time (in every exposition, also
        with several workers)."""
        self.registry.register(collector)
        self._collectors.append(collector)

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def answered(self, model: str, version: int, variant: str, status: int, seconds: float) -> None:
        v = str(version)
        self._child(self.requests, model, v, variant, str(status)).inc()
        self._child(self.latency, model, v).observe(seconds)

    def failed(self, model: str, version: int | None, kind: str) -> None:
        self._child(self.errors, model, "" if version is None else str(version), kind).inc()

    def batch(self, model: str, version: int, rows: int, log_seconds: float) -> None:
        self._child(self.batch_rows, model, str(version)).observe(rows)
        self._child(self.log_write, model).observe(log_seconds)

    def inputs_found(
        self, model: str, version: int, entries: dict[int, list[dict[str, Any]]], action: str
    ) -> None:
        """Count each flagged or rejected value of one request."""
        v = str(version)
        for row in entries.values():
            for entry in row:
                self._child(
                    self.input_values, model, v, str(entry["field"]), str(entry["code"]), action
                ).inc()

    def dropped(self, model: str, version: int) -> None:
        self._child(self.shadow_dropped, model, str(version)).inc()

    def loaded(self, model: str, version: int, outcome: str) -> None:
        self.loads.labels(model, str(version), outcome).inc()

    def exposition(self) -> bytes:
        """The text format of every metric (of all workers in multiprocess mode)."""
        from prometheus_client import CollectorRegistry, generate_latest

        folder = multiprocess_dir()
        if folder is None:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=folder)
        for collector in self._collectors:
            registry.register(collector)
        return generate_latest(registry)
