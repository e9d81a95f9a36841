"""Monitoring windows and alerts stored as the monitor stores them, for the quality gauges."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from keel.store.database import Database
from keel.store.schema import alerts, monitor_windows

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def store_window(
    db: Database,
    model: str,
    version: int,
    *,
    end: datetime,
    performance: dict[str, Any] | None = None,
    labelled_rows: int = 0,
    estimate: dict[str, Any] | None = None,
    drifted: list[str] | None = None,
) -> None:
    with db.write() as conn:
        conn.execute(
            monitor_windows.insert().values(
                model=model,
                version=version,
                kind="rows",
                start_at=T0,
                end_at=end,
                rows=500,
                index_sha256="0" * 64,
                reference={},
                drift={"drifted": drifted or [], "features": []},
                estimate=estimate or {},
                operations={},
                performance=performance or {"rows": 0},
                labelled_rows=labelled_rows,
                quality={},
                created_at=end,
                updated_at=end,
            )
        )


def store_alert(db: Database, model: str, severity: str, state: str, rule: str) -> None:
    with db.write() as conn:
        conn.execute(
            alerts.insert().values(
                model=model,
                rule=rule,
                fingerprint=f"{model}-{rule}-{state}"[:64],
                state=state,
                severity=severity,
                message=rule,
                details={},
                fired_at=T0,
                last_seen_at=T0,
                occurrences=1,
            )
        )
