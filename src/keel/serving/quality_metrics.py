"""Model quality as Prometheus gauges at ``/metrics``, read from the store at most every
``refresh_s`` seconds, whoever scrapes and however often.

Per served model and version (see ``keel.serving.quality`` for what each figure is):

- ``keel_model_realized_metric{model,version,metric}`` and ``keel_model_labelled_rows``;
- ``keel_model_estimated_metric{model,version,metric}`` (label-free estimates);
- ``keel_model_main_metric{model,version,metric,source}``: the policy's main metric, ``source``
  ``realized`` or ``estimated``;
- ``keel_model_drifted_features{model,version}``;
- ``keel_model_baseline_margin{model,version,metric,baseline}``: positive when the model beats
  the naive baseline on the same labelled rows;
- ``keel_model_window_end_timestamp_seconds{model,version,source}``: the end of the window each
  kind of figure comes from (``realized``, or ``newest`` for estimates and drift);
- ``keel_model_open_alerts{model,severity,state}``: firing and acknowledged alerts;
- ``keel_quality_read_timestamp_seconds`` and ``keel_quality_read_errors_total``: when the store
  was last read successfully, and how often reading failed (the last reading is kept, never
  passed off as fresh).

The gauges are built at scrape time by a custom collector over a cached reading, not kept in
prometheus-client's multiprocess files: every worker answers from the same store, so whichever
worker Prometheus reaches gives the same figures, each worker reading at most every
``refresh_s`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from keel.serving.quality import QualityReading, read_quality
from keel.store.database import Database

log = logging.getLogger("keel.serving")

#: how long a reading of the store serves scrapes (Prometheus scrapes every 15-60 s)
REFRESH_S = 15.0


class QualityReader:
    """The latest ``QualityReading``, read again when older than ``refresh_s`` seconds.

    ``db`` is a callable so the reader can be made before the server opens its store (it answers
    an empty reading until then). One reading at a time: concurrent scrapes wait for it."""

    def __init__(
        self,
        db: Callable[[], Database | None],
        refresh_s: float = REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
        read: Callable[[Database], QualityReading] = read_quality,
    ) -> None:
        self._db = db
        self.refresh_s = refresh_s
        self._clock = clock
        self._read = read
        self._lock = threading.Lock()
        self._reading: QualityReading | None = None
        self._read_at: float | None = None  # self._clock() of the last attempt
        self.read_wall_time: float | None = None  # time.time() of the last success
        self.errors = 0
        self.reads = 0

    def reading(self) -> QualityReading | None:
        with self._lock:
            now = self._clock()
            if self._read_at is not None and now - self._read_at < self.refresh_s:
                return self._reading
            db = self._db()
            if db is None:
                return self._reading
            self._read_at = now
            try:
                self._reading = self._read(db)
            except Exception:  # a scrape must still answer the serving metrics
                self.errors += 1
                log.warning("reading model quality for /metrics failed", exc_info=True)
                return self._reading
            self.reads += 1
            self.read_wall_time = time.time()
            return self._reading


class QualityCollector:
    """A prometheus-client collector over a ``QualityReader`` (register it on a registry)."""

    def __init__(self, reader: QualityReader) -> None:
        self.reader = reader

    def describe(self) -> Iterator[Any]:
        """The families without reading the store (registering must not query it)."""
        yield from _families().values()

    def collect(self) -> Iterator[Any]:
        families = _families()
        reading = self.reader.reading()
        if reading is not None:
            _fill(families, reading)
        if self.reader.read_wall_time is not None:
            families["read"].add_metric([], self.reader.read_wall_time)
        families["errors"].add_metric([], float(self.reader.errors))
        yield from families.values()


def _families() -> dict[str, Any]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    mv = ["model", "version"]
    return {
        "realized": GaugeMetricFamily(
            "keel_model_realized_metric",
            "Realized metric on the newest labelled monitoring window.",
            labels=[*mv, "metric"],
        ),
        "labelled": GaugeMetricFamily(
            "keel_model_labelled_rows",
            "Labelled predictions behind the realized metrics.",
            labels=mv,
        ),
        "estimated": GaugeMetricFamily(
            "keel_model_estimated_metric",
            "Label-free estimate on the newest monitoring window.",
            labels=[*mv, "metric"],
        ),
        "main": GaugeMetricFamily(
            "keel_model_main_metric",
            "The policy's main metric, realized or estimated.",
            labels=[*mv, "metric", "source"],
        ),
        "drifted": GaugeMetricFamily(
            "keel_model_drifted_features",
            "Features that drifted in the newest monitoring window.",
            labels=mv,
        ),
        "margin": GaugeMetricFamily(
            "keel_model_baseline_margin",
            "Main metric minus the naive baseline's on the same labelled rows (>0: better).",
            labels=[*mv, "metric", "baseline"],
        ),
        "window_end": GaugeMetricFamily(
            "keel_model_window_end_timestamp_seconds",
            "End of the monitoring window the figures come from.",
            labels=[*mv, "source"],
        ),
        "alerts": GaugeMetricFamily(
            "keel_model_open_alerts",
            "Alerts firing or acknowledged.",
            labels=["model", "severity", "state"],
        ),
        "read": GaugeMetricFamily(
            "keel_quality_read_timestamp_seconds",
            "When the quality figures were last read from the store.",
        ),
        "errors": CounterMetricFamily(
            "keel_quality_read_errors",
            "Failed reads of the quality figures (the previous reading is kept).",
        ),
    }


def _fill(families: dict[str, Any], reading: QualityReading) -> None:
    for q in reading.versions:
        mv = [q.model, str(q.version)]
        for metric, value in q.realized.items():
            families["realized"].add_metric([*mv, metric], value)
        for metric, value in q.estimated.items():
            families["estimated"].add_metric([*mv, metric], value)
        if q.realized_end is not None:
            families["labelled"].add_metric(mv, float(q.labelled_rows))
            families["window_end"].add_metric([*mv, "realized"], q.realized_end.timestamp())
        if q.newest_end is not None:
            families["window_end"].add_metric([*mv, "newest"], q.newest_end.timestamp())
        if q.main_metric is not None:
            for source, values in (("realized", q.realized), ("estimated", q.estimated)):
                if q.main_metric in values:
                    families["main"].add_metric([*mv, q.main_metric, source], values[q.main_metric])
        if q.drifted_features is not None:
            families["drifted"].add_metric(mv, float(q.drifted_features))
        if q.baseline_margin is not None and q.main_metric and q.baseline:
            families["margin"].add_metric([*mv, q.main_metric, q.baseline], q.baseline_margin)
    for (model, severity, state), count in sorted(reading.open_alerts.items()):
        families["alerts"].add_metric([model, severity, state], float(count))
