"""A monitoring report's data: what ``Monitoring.monitor_report`` returns and ``keel monitor
report`` writes as JSON beside the HTML page (``keel.monitoring.report_page``).

The window shown in detail and the alerts are Keel's own records; the series, thresholds,
reference limits and baselines are the chart-ready shapes the page draws, kept as JSON.

>>> report = MonitorReport(
...     model="churn", window_count=0, rows=0, labelled_rows=0, first_start=None,
...     last_end=None, series={}, thresholds=[], reference_limits=[], baselines={},
...     window=None, alerts=[],
... )
>>> report.to_dict()["from"], report.to_dict()["windows"]
(None, 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.monitoring.alerts import AlertRecord
    from keel.monitoring.stored_window import StoredWindow

__all__ = ["MonitorReport"]


@dataclass(frozen=True)
class MonitorReport:
    """The stored windows of ``model`` summed up and drawn over time, one window's drift in
    detail, and the model's alerts."""

    model: str
    #: how many stored windows the report covers
    window_count: int
    rows: int
    labelled_rows: int
    #: the start of the earliest window covered, None without windows
    first_start: datetime | None
    #: the end of the newest window covered, None without windows
    last_end: datetime | None
    #: one list per measure (``end``, ``accuracy``, ``p95``, ...), one value per window in
    #: time order
    series: dict[str, list[Any]]
    #: the accuracy rules' lines: ``label`` and a flat ``value`` or per-window ``values``
    thresholds: list[dict[str, Any]]
    #: per version: where its reference learnt from, and each metric's limit
    reference_limits: list[dict[str, Any]]
    #: the model against the naive baselines per labelled window
    #: (``keel.monitoring.report_baselines``)
    baselines: dict[str, Any]
    #: the window whose drift is shown in detail, None without windows
    window: StoredWindow | None
    alerts: list[AlertRecord]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, as ``keel monitor report`` writes it: times as ISO 8601."""
        return {
            "model": self.model,
            "windows": self.window_count,
            "rows": self.rows,
            "labelled_rows": self.labelled_rows,
            "from": _iso(self.first_start),
            "to": _iso(self.last_end),
            "series": self.series,
            "thresholds": self.thresholds,
            "reference_limits": self.reference_limits,
            "baselines": self.baselines,
            "window": None if self.window is None else self.window.to_dict(),
            "alerts": [alert.to_dict() for alert in self.alerts],
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
