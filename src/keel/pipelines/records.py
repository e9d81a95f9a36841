"""The stored record of pipeline runs and their steps: lineage, cache and resume point.

Every step is stored with the fingerprints and descriptions of its inputs, the content address
of its pickled output and its status, so a run can be explained afterwards, a later run with the
same inputs can reuse the output (cache), and a failed run can be resumed from its failed step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from keel.errors import InvalidInput, NotFound
from keel.registry.clock import utcnow
from keel.store.database import Database
from keel.store.schema import pipeline_runs, pipeline_steps

__all__ = ["PipelineRun", "StepRecord", "get_run", "list_runs"]


@dataclass(frozen=True)
class StepRecord:
    name: str
    position: int
    status: str  # pending, running, succeeded, cached, failed
    cache_key: str
    inputs: dict[str, Any]
    output_sha256: str | None
    output: dict[str, Any] | None
    cached_from: str | None
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "cached")

    def to_dict(self) -> dict[str, Any]:
        out = self.__dict__.copy()
        for key in ("started_at", "ended_at"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


@dataclass(frozen=True)
class PipelineRun:
    id: str
    pipeline: str
    model: str | None
    status: str  # running, succeeded, failed
    executor: str
    params: dict[str, Any]
    created_by: str
    started_at: datetime
    ended_at: datetime | None
    error: str | None
    steps: list[StepRecord] = field(default_factory=list)

    def step(self, name: str) -> StepRecord | None:
        return next((s for s in self.steps if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pipeline": self.pipeline,
            "model": self.model,
            "status": self.status,
            "executor": self.executor,
            "params": self.params,
            "created_by": self.created_by,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "error": self.error,
            "steps": [s.to_dict() for s in self.steps],
        }


def create_run(
    db: Database,
    run_id: str,
    pipeline: str,
    model: str | None,
    executor: str,
    params: dict[str, Any],
    actor: str,
    steps: list[tuple[str, int]],
) -> None:
    now = utcnow()
    with db.write() as conn:
        conn.execute(
            pipeline_runs.insert().values(
                id=run_id,
                pipeline=pipeline,
                model=model,
                status="running",
                executor=executor,
                params=params,
                created_by=actor,
                started_at=now,
            )
        )
        conn.execute(
            pipeline_steps.insert(),
            [
                {
                    "run_id": run_id,
                    "name": name,
                    "position": position,
                    "status": "pending",
                    "cache_key": "",
                    "inputs": {},
                }
                for name, position in steps
            ],
        )


def reopen_run(db: Database, run_id: str, executor: str) -> None:
    with db.write() as conn:
        conn.execute(
            pipeline_runs.update()
            .where(pipeline_runs.c.id == run_id)
            .values(status="running", executor=executor, ended_at=None, error=None)
        )


def start_step(
    db: Database, run_id: str, name: str, cache_key: str, inputs: dict[str, Any]
) -> None:
    with db.write() as conn:
        conn.execute(
            pipeline_steps.update()
            .where(pipeline_steps.c.run_id == run_id, pipeline_steps.c.name == name)
            .values(
                status="running",
                cache_key=cache_key,
                inputs=inputs,
                started_at=utcnow(),
                ended_at=None,
                error=None,
            )
        )


def finish_step(
    db: Database,
    run_id: str,
    name: str,
    *,
    status: str,
    output_sha256: str | None = None,
    output: dict[str, Any] | None = None,
    cached_from: str | None = None,
    error: str | None = None,
) -> None:
    with db.write() as conn:
        conn.execute(
            pipeline_steps.update()
            .where(pipeline_steps.c.run_id == run_id, pipeline_steps.c.name == name)
            .values(
                status=status,
                output_sha256=output_sha256,
                output=output,
                cached_from=cached_from,
                ended_at=utcnow(),
                error=error,
            )
        )


def finish_run(db: Database, run_id: str, status: str, error: str | None = None) -> None:
    with db.write() as conn:
        conn.execute(
            pipeline_runs.update()
            .where(pipeline_runs.c.id == run_id)
            .values(status=status, ended_at=utcnow(), error=error)
        )


def cached_output(db: Database, name: str, cache_key: str) -> tuple[str, str] | None:
    """(run id, output address) of the newest successful step with this name and key."""
    with db.read() as conn:
        row = conn.execute(
            sa.select(pipeline_steps.c.run_id, pipeline_steps.c.output_sha256)
            .where(
                pipeline_steps.c.name == name,
                pipeline_steps.c.cache_key == cache_key,
                pipeline_steps.c.status == "succeeded",
                pipeline_steps.c.output_sha256.is_not(None),
            )
            .order_by(pipeline_steps.c.ended_at.desc())
            .limit(1)
        ).first()
    return (row.run_id, row.output_sha256) if row is not None else None


def find_run(db: Database, given: str) -> PipelineRun:
    """The run a person names: its whole id or a prefix only it begins with (``get_run`` takes
    whole ids only, so a run resumed or reopened is always the one meant)."""
    from keel.store.id_prefixes import resolve_id

    with db.read() as conn:
        run_id = resolve_id(conn, pipeline_runs.c.id, given, "pipeline run", "run_id")
    return get_run(db, run_id)


def get_run(db: Database, run_id: str) -> PipelineRun:
    if not isinstance(run_id, str) or not run_id.strip():
        raise InvalidInput("run_id", "a pipeline run id is a non-empty string")
    with db.read() as conn:
        row = conn.execute(sa.select(pipeline_runs).where(pipeline_runs.c.id == run_id)).first()
        if row is None:
            raise NotFound("pipeline run", run_id)
        steps = conn.execute(
            sa.select(pipeline_steps)
            .where(pipeline_steps.c.run_id == run_id)
            .order_by(pipeline_steps.c.position)
        ).all()
    return _run(row, steps)


def list_runs(
    db: Database, *, model: str | None = None, pipeline: str | None = None, limit: int = 50
) -> list[PipelineRun]:
    query = sa.select(pipeline_runs).order_by(pipeline_runs.c.started_at.desc()).limit(limit)
    if model is not None:
        query = query.where(pipeline_runs.c.model == model)
    if pipeline is not None:
        query = query.where(pipeline_runs.c.pipeline == pipeline)
    with db.read() as conn:
        rows = conn.execute(query).all()
        ids = [r.id for r in rows]
        steps = conn.execute(
            sa.select(pipeline_steps)
            .where(pipeline_steps.c.run_id.in_(ids))
            .order_by(pipeline_steps.c.position)
        ).all()
    by_run: dict[str, list[sa.Row[Any]]] = {}
    for s in steps:
        by_run.setdefault(s.run_id, []).append(s)
    return [_run(r, by_run.get(r.id, [])) for r in rows]


def _run(row: sa.Row[Any], steps: Sequence[sa.Row[Any]]) -> PipelineRun:
    return PipelineRun(
        id=row.id,
        pipeline=row.pipeline,
        model=row.model,
        status=row.status,
        executor=row.executor,
        params=dict(row.params),
        created_by=row.created_by,
        started_at=row.started_at,
        ended_at=row.ended_at,
        error=row.error,
        steps=[
            StepRecord(
                name=s.name,
                position=s.position,
                status=s.status,
                cache_key=s.cache_key,
                inputs=dict(s.inputs),
                output_sha256=s.output_sha256,
                output=dict(s.output) if s.output is not None else None,
                cached_from=s.cached_from,
                started_at=s.started_at,
                ended_at=s.ended_at,
                error=s.error,
            )
            for s in steps
        ],
    )
