"""``keel monitor run``: process new prediction-log data incrementally and resume where it stopped.

One run reads the log parts it has not seen (plus the rows an earlier run left waiting for a
window to fill), cuts them into windows, and for each closed window records drift, the label-free
performance estimate and operations, with an index of its predictions for joining labels later.
The parts it consumed, the new windows and the rows left waiting are committed in ONE transaction,
guarded against a concurrent run, so a crash at any point either repeats a run or finishes it,
never counting rows twice. Then labels are joined to windows, alert rules are evaluated and
notifications delivered.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from keel.domain.durations import parse_duration
from keel.domain.policy import Policy
from keel.errors import Conflict, ModelFailed
from keel.monitoring.model_reads import ModelReads, References
from keel.monitoring.window_record import WindowRecord, measure_window
from keel.monitoring.window_summary import WindowSummary
from keel.monitoring.windows import cut_by_rows, cut_by_time
from keel.registry.clock import utcnow
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database, insert_ignore
from keel.store.prediction_log import LogStore, Part
from keel.store.schema import monitor_parts, monitor_state, monitor_windows
from keel.store.version_links import version_id

if TYPE_CHECKING:
    import pyarrow as pa

    from keel.monitoring.alerts import AlertChange
    from keel.monitoring.sinks import AlertSink

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonitorResult:
    """What one run did: the rows it read, the windows it wrote, the rows left waiting for the
    next window, the windows whose labels it joined, and the alerts it moved."""

    model: str
    new_rows: int = 0
    windows: list[WindowSummary] = field(default_factory=list)
    pending_rows: int = 0
    relabelled: int = 0
    #: alerts fired, resolved or re-opened by this run (those left unchanged are not listed)
    alerts: list[AlertChange] = field(default_factory=list)
    notifications: dict[str, int] = field(default_factory=dict)
    events: int = 0
    #: windows of versions whose own code raised while their reference was built: their rows
    #: are passed over so the other versions are still monitored
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "new_rows": self.new_rows,
            "windows": [window.to_dict() for window in self.windows],
            "skipped": self.skipped,
            "pending_rows": self.pending_rows,
            "relabelled": self.relabelled,
            "alerts": [change.to_dict() for change in self.alerts],
            "notifications": self.notifications,
            "events": self.events,
        }


def _read_state(db: Database, model: str) -> tuple[str | None, datetime, set[str]]:
    with db.write() as conn:
        insert_ignore(
            conn,
            monitor_state,
            {
                "model": model,
                "pending_sha256": None,
                "pending_rows": 0,
                "last_run_at": datetime.fromtimestamp(0, tz=utcnow().tzinfo),
            },
            ["model"],
        )
    with db.read() as conn:
        state = conn.execute(
            sa.select(monitor_state.c.pending_sha256, monitor_state.c.last_run_at).where(
                monitor_state.c.model == model
            )
        ).one()
        done = set(
            conn.execute(
                sa.select(monitor_parts.c.part).where(monitor_parts.c.model == model)
            ).scalars()
        )
    return state.pending_sha256, state.last_run_at, done


def _frame(tables: list[pa.Table]) -> pd.DataFrame:
    import pyarrow as pa

    if not tables:
        return pd.DataFrame()
    table = pa.concat_tables(tables, promote_options="permissive")
    return table.to_pandas()


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, compression="zstd")
    return buffer.getvalue()


def process_log(
    db: Database,
    artifacts: ArtifactStore,
    logs: LogStore,
    model: str,
    policy: Policy,
    now: datetime,
    references: References,
) -> MonitorResult:
    """Cut new log rows into windows and commit them; the first half of a monitor run."""
    import pyarrow.parquet as pq

    pending_sha, last_run_at, done = _read_state(db, model)
    new_parts: list[Part] = [p for p in logs.parts("predictions", model) if p.name not in done]
    tables = [logs.read(p) for p in new_parts]
    new_rows = sum(t.num_rows for t in tables)
    if pending_sha is not None:
        tables.insert(0, pq.read_table(io.BytesIO(artifacts.get(pending_sha))))
    frame = _frame(tables)
    rule = policy.monitoring.window
    closed: list[pd.DataFrame]
    if frame.empty:
        closed, waiting = [], frame
    elif rule.every is not None:
        closed, waiting = cut_by_time(frame, parse_duration(rule.every), now)
    else:
        closed, waiting = cut_by_rows(frame, rule.rows or 5000)
    records: list[WindowRecord] = []
    skipped: list[dict[str, Any]] = []
    for window in closed:
        version = int(window["version"].iloc[0])
        try:
            reference = references(version)
        except ModelFailed as exc:  # one version whose code raises (a rolled-back canary, say)
            # must not stop the monitoring of the others: its rows are passed over. An untrusted
            # version still stops the run: once someone trusts it, its rows are measured.
            log.warning(
                "monitoring passes over %d rows of %s/%s: %s",
                len(window),
                model,
                version,
                exc.message,
            )
            skipped.append({"version": version, "rows": len(window), "reason": exc.message})
            continue
        records.append(
            measure_window(
                artifacts,
                window,
                reference,
                policy,
                kind="time" if rule.every else "rows",
                seed=len(records),
            )
        )
    waiting_sha = artifacts.put(_parquet(waiting)) if len(waiting) else None
    stamp = utcnow()
    with db.write() as conn:
        moved = conn.execute(
            monitor_state.update()
            .where(monitor_state.c.model == model)
            .where(monitor_state.c.last_run_at == last_run_at)
            .values(pending_sha256=waiting_sha, pending_rows=len(waiting), last_run_at=stamp)
        ).rowcount
        if moved != 1:
            raise Conflict(
                f"another monitor run of {model} committed first; run again to continue",
                model=model,
            )
        if new_parts:
            conn.execute(
                monitor_parts.insert(),
                [
                    {
                        "model": model,
                        "part": part.name,
                        "rows": table.num_rows,
                        "rows_done": table.num_rows,
                        "updated_at": stamp,
                    }
                    for part, table in zip(new_parts, tables[-len(new_parts) :], strict=True)
                ],
            )
        summaries = []
        links = {v: version_id(conn, model, v) for v in {r.version for r in records}}
        for record in records:
            window_id = conn.execute(
                monitor_windows.insert().values(
                    model=model,
                    version_id=links[record.version],
                    created_at=stamp,
                    updated_at=stamp,
                    **record.columns(),
                )
            ).inserted_primary_key
            assert window_id is not None
            summaries.append(record.summary(int(window_id[0])))
    return MonitorResult(model, new_rows, summaries, len(waiting), skipped=skipped)


def run_monitor(
    db: Database,
    artifacts: ArtifactStore,
    logs: LogStore,
    actor: str,
    model: str,
    policy: Policy,
    *,
    now: datetime | None = None,
    sinks: Sequence[AlertSink] | None = None,
    environ: Mapping[str, str] | None = None,
    reads: ModelReads | None = None,
) -> MonitorResult:
    """One full pass: new windows, labels joined, alert rules evaluated, notifications sent.

    ``sinks`` replaces the policy's sinks (tests pass a ``MemorySink``); ``environ`` is where
    webhook secrets are read from (the process environment by default, read at the edge);
    ``reads`` are the caller's labels and references, when it reads them for others too (once
    per pass).
    """
    from keel.monitoring.alerts import evaluate_rules
    from keel.monitoring.labelling import refresh_performance
    from keel.monitoring.observations import Observer
    from keel.monitoring.outbox import deliver_pending, route_events
    from keel.monitoring.sinks import build_sinks

    moment = now or utcnow()
    if reads is None:
        reads = ModelReads(db, artifacts, logs, model, policy)
    references = reads.references
    processed = process_log(db, artifacts, logs, model, policy, moment, references)
    plain = reads.labels()
    relabelled = refresh_performance(
        db,
        artifacts,
        logs,
        model,
        policy,
        references,
        moment,
        new_windows=bool(processed.windows),
        labels=plain,
    )
    monitoring = policy.monitoring
    moved: list[AlertChange] = []
    if monitoring.alerts:
        cooldown = parse_duration(monitoring.cooldown, "monitoring.cooldown")
        changes = []
        # every window this run made is judged in order, as if each had arrived alone: a breach
        # in an earlier one is not hidden by a calm newest one (fired, then resolved by the
        # next, as separate runs would; all at this run's time, so the trail stays in order)
        for window in processed.windows[:-1]:
            observer = Observer(db, artifacts, model, plain, references, until=window.id)
            changes += evaluate_rules(
                db, actor, model, list(monitoring.alerts), observer, now=moment, cooldown=cooldown
            )
        observer = Observer(db, artifacts, model, plain, references)
        changes += evaluate_rules(
            db, actor, model, list(monitoring.alerts), observer, now=moment, cooldown=cooldown
        )
        moved = [change for change in changes if change.transition != "unchanged"]
    events = route_events(db, model, list(monitoring.events)) if monitoring.events else 0
    chosen = sinks if sinks is not None else build_sinks(list(monitoring.sinks), environ or {})
    try:
        notifications = dict(deliver_pending(db, chosen, model=model))
    finally:
        for sink in chosen:
            sink.close()
    return replace(
        processed,
        relabelled=relabelled,
        alerts=moved,
        events=events,
        notifications=notifications,
    )
