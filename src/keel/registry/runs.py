"""Training runs: parameters, step-wise metrics, input snapshots, duration, code and outcome.

A run is a context manager; a model registered while it is active is linked to it:

    with client.start_run("train-fraud", params={"C": 1.0}) as run:
        run.log_metric("loss", 0.3)
        client.register_model("fraud", model, training_data=snapshot)
"""

from __future__ import annotations

import contextvars
import traceback
import uuid
from types import TracebackType
from typing import Any

import sqlalchemy as sa

from keel.domain.entities import MetricPoint, RunRecord, Snapshot
from keel.errors import Conflict, InvalidInput, NotFound
from keel.registry import audit, version_metrics
from keel.registry import snapshots as snapshot_store
from keel.registry.clock import utcnow
from keel.registry.environment import code_version
from keel.registry.values import check_key, clean_params, clean_tags, metric_value
from keel.store.database import Database
from keel.store.schema import run_inputs, run_metrics, runs, snapshots

_active: contextvars.ContextVar[Run | None] = contextvars.ContextVar(
    "keel_active_run", default=None
)


def active_run() -> Run | None:
    """The run whose ``with`` block we are in, if any."""
    return _active.get()


class Run:
    """A live training run; use it as a context manager or call ``end`` yourself."""

    def __init__(self, db: Database, actor: str, run_id: str, name: str) -> None:
        self._db = db
        self._actor = actor
        self.id = run_id
        self.name = name
        self._steps: dict[str, int] = {}
        self._token: contextvars.Token[Run | None] | None = None
        self._ended = False

    # -- recording ------------------------------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, params: dict[str, Any]) -> None:
        clean = clean_params(params)
        self._check_open()
        with self._db.write() as conn:
            current = conn.execute(
                sa.select(runs.c.params).where(runs.c.id == self.id).with_for_update()
            ).scalar_one()
            conn.execute(
                runs.update().where(runs.c.id == self.id).values(params={**current, **clean})
            )

    def set_tags(self, tags: dict[str, Any]) -> None:
        clean = clean_tags(tags)
        self._check_open()
        with self._db.write() as conn:
            current = conn.execute(
                sa.select(runs.c.tags).where(runs.c.id == self.id).with_for_update()
            ).scalar_one()
            conn.execute(
                runs.update().where(runs.c.id == self.id).values(tags={**current, **clean})
            )

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Record one value; it is in the store (committed) when this returns."""
        self.log_metrics({key: value}, step=step)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Record several values in one transaction; a version registered in this run gets
        them too (``keel.registry.version_metrics``)."""
        self._check_open()
        if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
            raise InvalidInput("step", f"{step!r} is not a non-negative integer")
        now = utcnow()
        rows = []
        newest: dict[str, float] = {}
        steps = dict(self._steps)
        for key, value in metrics.items():
            check_key(key, "metric")
            number = newest[key] = metric_value(value, f"metric.{key}")
            at_step = steps.get(key, 0) if step is None else step
            steps[key] = at_step + 1
            rows.append(
                {"run_id": self.id, "key": key, "value": number, "step": at_step, "at": now}
            )
        if version_metrics.has_versions(self.id):
            with self._db.write() as conn:
                conn.execute(run_metrics.insert(), rows)
                version_metrics.follow(conn, self._actor, self.id, newest)
        else:
            self._db.append(run_metrics, rows)
        self._steps = steps  # only once the values are stored: a refused call moves no counter

    def log_input(self, snapshot: Snapshot, role: str = "train") -> None:
        """Record that this run read ``snapshot`` (as training, validation, ... data)."""
        check_key(role, "role")
        self._check_open()
        with self._db.write() as conn:
            snapshot_id = snapshot_store.id_of(conn, snapshot)
            exists = conn.execute(
                sa.select(run_inputs.c.run_id).where(
                    run_inputs.c.run_id == self.id,
                    run_inputs.c.snapshot_id == snapshot_id,
                    run_inputs.c.role == role,
                )
            ).first()
            if exists is None:
                conn.execute(
                    run_inputs.insert().values(run_id=self.id, snapshot_id=snapshot_id, role=role)
                )

    # -- lifecycle ------------------------------------------------------------------------------
    def end(self, status: str = "finished", error: str | None = None) -> None:
        if self._ended:
            return
        if status not in ("finished", "failed"):
            raise InvalidInput("status", f"{status!r} is not 'finished' or 'failed'")
        ended = utcnow()
        with self._db.write() as conn:
            started = conn.execute(
                sa.select(runs.c.started_at).where(runs.c.id == self.id)
            ).scalar_one()
            conn.execute(
                runs.update()
                .where(runs.c.id == self.id)
                .values(status=status, ended_at=ended, error=error)
            )
            audit.append(
                conn,
                self._actor,
                f"run.{'finish' if status == 'finished' else 'fail'}",
                f"run:{self.id}",
                {
                    "name": self.name,
                    "duration_s": (ended - started).total_seconds(),
                    "error": error,
                },
            )
        self._ended = True

    def _check_open(self) -> None:
        if self._ended:
            raise Conflict(
                f"run {self.name} ({self.id}) has ended; start a new run", run_id=self.id
            )

    def __enter__(self) -> Run:
        self._token = _active.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _active.reset(self._token)
            self._token = None
        if exc is None:
            self.end("finished")
        else:
            detail = "".join(traceback.format_exception_only(exc)).strip()
            self.end("failed", error=detail)


def start(
    db: Database,
    actor: str,
    name: str,
    *,
    params: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
) -> Run:
    if not isinstance(name, str) or not name.strip() or len(name) > 256:
        raise InvalidInput("name", f"{name!r} is not a run name (1-256 characters)")
    run_id = uuid.uuid4().hex
    with db.write() as conn:
        conn.execute(
            runs.insert().values(
                id=run_id,
                name=name,
                status="running",
                author=actor,
                started_at=utcnow(),
                params=clean_params(params),
                tags=clean_tags(tags),
                code_version=code_version(),
            )
        )
        audit.append(conn, actor, "run.start", f"run:{run_id}", {"name": name})
    return Run(db, actor, run_id, name)


def get(db: Database, run_id: str) -> RunRecord:
    """The run ``run_id`` names: its whole id, or a prefix that only it begins with."""
    from keel.store.id_prefixes import resolve_id

    with db.read() as conn:
        return get_in(conn, resolve_id(conn, runs.c.id, run_id, "run", "run_id"))


def get_in(conn: Any, run_id: str) -> RunRecord:
    row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
    if row is None:
        raise NotFound("run", run_id)
    inputs = [
        {"snapshot": f"{r.name}/{r.version}", "sha256": r.sha256, "role": r.role}
        for r in conn.execute(
            sa.select(snapshots.c.name, snapshots.c.version, snapshots.c.sha256, run_inputs.c.role)
            .join(snapshots, snapshots.c.id == run_inputs.c.snapshot_id)
            .where(run_inputs.c.run_id == run_id)
            .order_by(snapshots.c.name)
        )
    ]
    last = (
        sa.select(run_metrics.c.key, sa.func.max(run_metrics.c.id).label("id"))
        .where(run_metrics.c.run_id == run_id)
        .group_by(run_metrics.c.key)
        .subquery()
    )
    latest = {
        r.key: r.value
        for r in conn.execute(
            sa.select(run_metrics.c.key, run_metrics.c.value).join(
                last, last.c.id == run_metrics.c.id
            )
        )
    }
    duration = (row.ended_at - row.started_at).total_seconds() if row.ended_at else None
    return RunRecord(
        id=row.id,
        name=row.name,
        status=row.status,
        started_at=row.started_at,
        author=row.author,
        ended_at=row.ended_at,
        duration_s=duration,
        params=row.params,
        tags=row.tags,
        error=row.error,
        code_version=row.code_version,
        inputs=inputs,
        metrics=latest,
    )


def metric_history(db: Database, run_id: str, key: str) -> list[MetricPoint]:
    with db.read() as conn:
        if conn.execute(sa.select(runs.c.id).where(runs.c.id == run_id)).first() is None:
            raise NotFound("run", run_id)
        rows = conn.execute(
            sa.select(run_metrics.c.key, run_metrics.c.value, run_metrics.c.step, run_metrics.c.at)
            .where(run_metrics.c.run_id == run_id, run_metrics.c.key == key)
            .order_by(run_metrics.c.step, run_metrics.c.id)
        )
        return [MetricPoint(r.key, r.value, r.step, r.at) for r in rows]


def list_recent(db: Database, name: str | None = None, limit: int = 50) -> list[RunRecord]:
    query = sa.select(runs.c.id).order_by(runs.c.started_at.desc()).limit(limit)
    if name:
        query = query.where(runs.c.name == name)
    with db.read() as conn:
        return [get_in(conn, run_id) for run_id in conn.execute(query).scalars()]
