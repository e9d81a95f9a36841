"""A window a monitoring run has just written, as the run reports it: its span and size and the
few measurements a person scans first (drift, the estimate, latency, input issues). The whole
window reads back as a ``StoredWindow``.

>>> from datetime import UTC, datetime
>>> window = WindowSummary(
...     id=7, version=2, start_at=datetime(2026, 11, 5, tzinfo=UTC),
...     end_at=datetime(2026, 11, 6, tzinfo=UTC), rows=1200, drifted_features=["age"],
...     estimated_accuracy=0.91, latency_p99_ms=12.5, issues=1, flagged_rows=3, rejected_rows=0,
...     input_issues=[{"column": "plan", "code": "unseen_category", "rows": 3, "rejected": 0}],
... )
>>> window.to_dict()["end_at"], window.to_dict()["drifted_features"]
('2026-11-06T00:00:00+00:00', ['age'])
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["WindowSummary"]


@dataclass(frozen=True)
class WindowSummary:
    """One new window of a run (``MonitorResult.windows``)."""

    id: int
    version: int
    start_at: datetime
    end_at: datetime
    rows: int
    #: the features whose drift alarmed
    drifted_features: list[str]
    #: the label-free estimate of accuracy (None: no estimate for this model)
    estimated_accuracy: float | None
    latency_p99_ms: float | None
    #: data-quality issues of any kind
    issues: int
    #: rows answered with a value the input policy flags, and rows it rejected unscored
    flagged_rows: int
    rejected_rows: int
    #: the input-policy issues: ``column``, ``code``, ``rows`` and ``rejected`` of each
    input_issues: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, as ``keel monitor run --json`` prints it: times as ISO 8601."""
        return {
            "id": self.id,
            "version": self.version,
            "start_at": self.start_at.isoformat(),
            "end_at": self.end_at.isoformat(),
            "rows": self.rows,
            "drifted_features": self.drifted_features,
            "estimated_accuracy": self.estimated_accuracy,
            "latency_p99_ms": self.latency_p99_ms,
            "issues": self.issues,
            "flagged_rows": self.flagged_rows,
            "rejected_rows": self.rejected_rows,
            "input_issues": self.input_issues,
        }
