"""A pipeline: steps wired by their parameter names, run on an executor, recorded, cached and
resumable.

>>> from keel.pipelines.step import step
>>> @step
... def doubled(rows: list[int]) -> list[int]:
...     return [2 * r for r in rows]
>>> @step
... def total(doubled: list[int]) -> int:
...     return sum(doubled)
>>> Pipeline("toy", [total, doubled]).order
['doubled', 'total']

``Pipeline.run(stores, params)`` (a ``keel.stores.Stores``, or a ``keel.Client``) runs the
steps in that order (independent ones side by side on executors that can), records each step's
inputs and output, reuses a step's stored output when an earlier run saw the same code and
inputs, and on failure raises :class:`PipelineFailed` naming the run, which
``run(stores, resume=run_id)`` continues from the failed step.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import TYPE_CHECKING, Any

from keel.errors import InvalidInput, PipelineFailed
from keel.pipelines import records
from keel.pipelines.executors import Executor, make_executor
from keel.pipelines.fingerprint import describe, fingerprint
from keel.pipelines.records import PipelineRun
from keel.pipelines.step import CONTEXT, Step, StepContext, step
from keel.stores import HasStores, Stores

if TYPE_CHECKING:
    from keel.store.artifacts import ArtifactStore

__all__ = ["Pipeline", "PipelineResult"]

#: the length of the stored run id (a UUID's 32 hex digits by default)
RUN_ID_LENGTH = 32


@dataclass(frozen=True)
class _Where:
    """Where a run records itself, and what its steps' ``context.client()`` opens."""

    stores: Stores
    client_class: type | None


@dataclass
class PipelineResult:
    run_id: str
    outputs: dict[str, Any]
    record: PipelineRun
    reused: list[str] = field(default_factory=list)  # steps taken from the cache or a resume

    def __getitem__(self, name: str) -> Any:
        return self.outputs[name]


class Pipeline:
    """Named steps; a step's parameters name the steps (or run parameters) it needs."""

    def __init__(self, name: str, steps: Sequence[Step | Callable[..., Any]]) -> None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput("name", "a pipeline needs a non-empty name")
        self.name = name
        wrapped = [s if isinstance(s, Step) else step(s) for s in steps]
        if not wrapped:
            raise InvalidInput("steps", "a pipeline needs at least one step")
        self.steps: dict[str, Step] = {}
        for s in wrapped:
            if s.name in self.steps:
                raise InvalidInput("steps", f"two steps are named {s.name!r}")
            if s.name == CONTEXT:
                raise InvalidInput("steps", f"{CONTEXT!r} is reserved for the step context")
            self.steps[s.name] = s
        graph = {s.name: {n for n in s.needs if n in self.steps} for s in wrapped}
        try:
            self.order = list(TopologicalSorter(graph).static_order())
        except CycleError as exc:
            raise InvalidInput(
                "steps", f"the steps depend on each other in a circle: {exc.args[1]}"
            ) from exc

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, {' -> '.join(self.order)})"

    def run(
        self,
        stores: Stores | HasStores,
        params: dict[str, Any] | None = None,
        *,
        executor: str | Executor = "inline",
        model: str | None = None,
        resume: str | None = None,
        cache: bool = True,
        run_id: str | None = None,
        client_class: type | None = None,
    ) -> PipelineResult:
        """Run (or, with ``resume``, continue) the pipeline; return every step's output.

        ``run_id`` names a new run in advance, so a caller can record it before anything runs
        and resume it after a crash. A step's ``context.client()`` opens a ``client_class``
        (by default the class of ``stores`` when that is a client).
        """
        if run_id is not None and (
            not isinstance(run_id, str) or not run_id.strip() or len(run_id) > RUN_ID_LENGTH
        ):  # PostgreSQL would refuse a longer one as a store error, while SQLite keeps it
            raise InvalidInput(
                "run_id", f"a run id is a non-empty string of at most {RUN_ID_LENGTH} characters"
            )
        own_executor = isinstance(executor, str)
        runner = make_executor(executor) if isinstance(executor, str) else executor
        try:
            opened = stores if isinstance(stores, Stores) else stores.stores
            if client_class is None and not isinstance(stores, Stores):
                client_class = type(stores)
            where = _Where(opened, client_class)
            return self._run(where, params, runner, model, resume, cache, run_id)
        finally:
            if own_executor:
                runner.close()

    def _run(
        self,
        where: _Where,
        params: dict[str, Any] | None,
        runner: Executor,
        model: str | None,
        resume: str | None,
        cache: bool,
        new_id: str | None,
    ) -> PipelineResult:
        db, artifacts = where.stores.db, where.stores.artifacts
        outputs: dict[str, Any] = {}
        reused: list[str] = []
        if resume is not None:
            run_id, params = resume, self._resumable(where.stores, resume, runner, outputs, reused)
        else:
            params = _json_params(params or {})
            self._check_inputs(params)  # before anything is recorded or run
            run_id = new_id or uuid.uuid4().hex
            records.create_run(
                db,
                run_id,
                self.name,
                model,
                runner.name,
                params,
                where.stores.actor,
                [(n, i) for i, n in enumerate(self.order)],
            )
        remaining = [n for n in self.order if n not in outputs]
        while remaining:
            ready = [
                n
                for n in remaining
                if all(d in outputs for d in self.steps[n].needs if d in self.steps)
            ]
            futures: dict[str, Future[Any]] = {}
            for name in ready:
                current = self.steps[name]
                kwargs = self._inputs(current, outputs, params, run_id, where)
                plain = {k: v for k, v in kwargs.items() if k != CONTEXT}
                key = fingerprint([current.name, current.code_hash, plain])
                inputs = {
                    k: {**describe(v), "fingerprint": fingerprint(v)} for k, v in plain.items()
                }
                records.start_step(db, run_id, name, key, inputs)
                hit = records.cached_output(db, name, key) if cache and current.cache else None
                if hit is not None:
                    outputs[name] = _load(artifacts, hit[1])
                    records.finish_step(
                        db,
                        run_id,
                        name,
                        status="cached",
                        output_sha256=hit[1],
                        output=describe(outputs[name]),
                        cached_from=hit[0],
                    )
                    reused.append(name)
                    continue
                futures[name] = runner.submit(current.fn, kwargs)
            failure: tuple[str, str] | None = None
            for name, future in futures.items():
                try:
                    value = future.result()
                    # an output that cannot be stored (not picklable) fails the step, as it
                    # does in a worker process, which pickles it to send it back
                    address = _store(artifacts, value)
                except Exception as exc:  # recorded, then raised as PipelineFailed
                    error = f"{type(exc).__name__}: {exc}"
                    records.finish_step(db, run_id, name, status="failed", error=error)
                    failure = failure or (name, error)
                    continue
                records.finish_step(
                    db,
                    run_id,
                    name,
                    status="succeeded",
                    output_sha256=address,
                    output=describe(value),
                )
                outputs[name] = value
            if failure is not None:
                records.finish_run(db, run_id, "failed", f"{failure[0]}: {failure[1]}")
                raise PipelineFailed(run_id, failure[0], failure[1])
            remaining = [n for n in remaining if n not in outputs]
        records.finish_run(db, run_id, "succeeded")
        return PipelineResult(run_id, outputs, records.get_run(db, run_id), reused)

    def _resumable(
        self,
        stores: Stores,
        run_id: str,
        runner: Executor,
        outputs: dict[str, Any],
        reused: list[str],
    ) -> dict[str, Any]:
        """Load the finished steps' outputs of a run to continue it; returns its parameters."""
        record = records.get_run(stores.db, run_id)
        if record.pipeline != self.name:
            raise InvalidInput(
                "resume", f"run {run_id} belongs to pipeline {record.pipeline!r}, not {self.name!r}"
            )
        if record.status == "succeeded":
            raise InvalidInput("resume", f"run {run_id} already succeeded; nothing to resume")
        known = {s.name for s in record.steps}
        if known != set(self.steps):
            raise InvalidInput(
                "resume",
                f"run {run_id} had steps {sorted(known)}; this pipeline has {sorted(self.steps)}",
            )
        for s in record.steps:
            if s.done and s.output_sha256 is not None:
                outputs[s.name] = _load(stores.artifacts, s.output_sha256)
                reused.append(s.name)
        records.reopen_run(stores.db, run_id, runner.name)
        return record.params

    def _check_inputs(self, params: dict[str, Any]) -> None:
        for current in self.steps.values():
            for need in current.needs:
                known = need in self.steps or need == CONTEXT or need in params
                if not known and need not in current.defaults:
                    raise InvalidInput(
                        f"steps.{current.name}",
                        f"needs {need!r}, which is neither a step of {self.name!r} "
                        "nor a run parameter",
                    )

    def _inputs(
        self,
        current: Step,
        outputs: dict[str, Any],
        params: dict[str, Any],
        run_id: str,
        where: _Where,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for need in current.needs:
            if need in self.steps:
                kwargs[need] = outputs[need]
            elif need == CONTEXT:
                settings = where.stores.settings
                kwargs[need] = StepContext(
                    run_id=run_id,
                    pipeline=self.name,
                    step=current.name,
                    store_url=settings.store_url,
                    artifacts=settings.artifacts,
                    actor=where.stores.actor,
                    params=params,
                    artifact_options=dict(settings.artifact_options),
                    client_class=where.client_class,
                )
            elif need in params:
                kwargs[need] = params[need]
            elif need not in current.defaults:
                raise InvalidInput(
                    f"steps.{current.name}",
                    f"needs {need!r}, which is neither a step of {self.name!r} nor a run parameter",
                )
        return kwargs


def _json_params(params: dict[str, Any]) -> dict[str, Any]:
    """Run parameters are stored with the run (to resume it), so they must be plain JSON."""
    if not isinstance(params, dict):
        raise InvalidInput("params", f"run parameters are a mapping of names, not {params!r}")
    try:
        # allow_nan=False: NaN and infinity are not JSON (the store would keep them as null)
        out: dict[str, Any] = json.loads(json.dumps(params, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInput("params", f"run parameters must be JSON values: {exc}") from exc
    return out


def _store(artifacts: ArtifactStore, value: Any) -> str:
    import cloudpickle

    return str(artifacts.put(cloudpickle.dumps(value)))


def _load(artifacts: ArtifactStore, address: str) -> Any:
    import cloudpickle

    return cloudpickle.loads(artifacts.get(address))
