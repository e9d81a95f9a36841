"""A monitoring window as stored: what the CLI, the reports and the demo read back, one row per
window (never the raw log). The JSON columns keep the shapes the monitoring run wrote them in
(``keel.monitoring.window_record``).

>>> from datetime import UTC, datetime
>>> window = StoredWindow(
...     id=7, model="churn", version=2, kind="time",
...     start_at=datetime(2026, 11, 5, tzinfo=UTC), end_at=datetime(2026, 11, 6, tzinfo=UTC),
...     rows=1200, labelled_rows=300, reference={}, drift={"drifted": ["age"]}, estimate={},
...     operations={}, performance={"accuracy": 0.91}, quality={},
... )
>>> window.to_dict()["end_at"], window.drifted_features
('2026-11-06T00:00:00+00:00', ['age'])
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from keel.domain.row_records import record_of

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["StoredWindow"]


@dataclass(frozen=True)
class StoredWindow:
    """One ``monitor_windows`` row: the window's span and size, and what was measured in it."""

    id: int
    model: str
    version: int
    kind: str
    start_at: datetime
    end_at: datetime
    rows: int
    labelled_rows: int
    #: the reference the window was compared with: its snapshot, calibration and limits
    reference: dict[str, Any]
    #: per-feature tests, ``drifted`` names, multivariate and output drift
    drift: dict[str, Any]
    #: the label-free estimate: ``metrics``, ``bands``, ``rows``, ``shift``
    estimate: dict[str, Any]
    #: latency percentiles, throughput, cost
    operations: dict[str, Any]
    #: metrics realized from the labels joined so far, and the naive baselines'
    performance: dict[str, Any]
    #: input issues, flagged and rejected rows
    quality: dict[str, Any]

    @classmethod
    def of(cls, row: sa.Row[Any]) -> StoredWindow:
        """The window of a ``monitor_windows`` row (read by attribute)."""
        return record_of(cls, row)

    @property
    def drifted_features(self) -> list[str]:
        """Names of the features whose drift alarmed in this window."""
        return list((self.drift or {}).get("drifted") or [])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, as ``keel monitor windows --json`` prints it: times as ISO 8601."""
        return {
            "id": self.id,
            "model": self.model,
            "version": self.version,
            "kind": self.kind,
            "start_at": self.start_at.isoformat(),
            "end_at": self.end_at.isoformat(),
            "rows": self.rows,
            "labelled_rows": self.labelled_rows,
            "reference": self.reference,
            "drift": self.drift,
            "estimate": self.estimate,
            "operations": self.operations,
            "performance": self.performance,
            "quality": self.quality,
        }
