"""The same pipeline on a spawned process pool and on a local Ray gives what it gives inline.

Workers load the steps from ``steps_for_tests`` and open the store themselves (the ``run_status``
step reads its own run back), so the store is a SQLite file every worker can reach. One process
pool and one Ray are started for the whole module; starting Ray costs seconds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from keel.client import Client
from keel.errors import InvalidInput, PipelineFailed
from keel.pipelines.executors import (
    EXECUTORS,
    Executor,
    InlineExecutor,
    ProcessExecutor,
    make_executor,
)
from keel.pipelines.fingerprint import fingerprint
from keel.pipelines.pipeline import PipelineResult
from keel.pipelines.ray_executor import RayExecutor
from keel.settings import Settings
from tests.integration.pipelines import steps_for_tests as steps

PARAMS = {"rows": 200, "seed": 11}


@pytest.fixture
def file_client(tmp_path: Path) -> Iterator[Client]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'keel.db'}",
        artifacts=str(tmp_path / "artifacts"),
        actor="tester",
    )
    with Client(settings=settings) as made:
        yield made


@pytest.fixture(scope="module")
def process_pool() -> Iterator[ProcessExecutor]:
    pool = ProcessExecutor(max_workers=2)
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def local_ray() -> Iterator[RayExecutor]:
    import ray

    assert not ray.is_initialized(), "another test left a Ray running"
    executor = RayExecutor(num_cpus=2)
    assert ray.is_initialized()
    yield executor
    executor.close()
    assert not ray.is_initialized()


@pytest.fixture(params=["process", "ray"])
def worker(request: pytest.FixtureRequest) -> Executor:
    fixture = {"process": "process_pool", "ray": "local_ray"}[request.param]
    executor: Executor = request.getfixturevalue(fixture)
    return executor


def assert_same_outputs(first: PipelineResult, second: PipelineResult) -> None:
    assert set(first.outputs) == set(second.outputs)
    for name in ("window", "features"):
        pd.testing.assert_frame_equal(first[name], second[name])
    for name in ("positive_rate", "moments", "summary"):
        assert first[name] == second[name], name
    for result in (first, second):
        assert result["run_status"] == {
            "run": result.run_id,
            "step": "run_status",
            "status": "running",
            "features": "succeeded",
            "rows": PARAMS["rows"],
        }


def test_a_worker_gives_the_same_outputs_as_inline(file_client: Client, worker: Executor) -> None:
    pipeline = steps.training()
    inline = pipeline.run(file_client, PARAMS)
    remote = pipeline.run(file_client, PARAMS, executor=worker, cache=False)
    assert_same_outputs(inline, remote)
    assert inline["worker_pid"] == os.getpid()
    assert remote["worker_pid"] != os.getpid()
    assert remote.reused == []

    record = file_client.pipeline_run(remote.run_id)
    assert record.executor == worker.name
    assert record.status == "succeeded"
    assert {s.status for s in record.steps} == {"succeeded"}
    first = file_client.pipeline_run(inline.run_id)
    for ran_inline, ran_remote in zip(first.steps, record.steps, strict=True):
        assert ran_remote.name == ran_inline.name
        assert ran_remote.cache_key == ran_inline.cache_key
        assert ran_remote.inputs == ran_inline.inputs
        name = ran_inline.name
        if name not in ("run_status", "worker_pid"):  # they hold the run id, a pid
            assert ran_remote.output == ran_inline.output, name
            # equal content; the pickled bytes (the output's address) may differ by process
            assert fingerprint(remote[name]) == fingerprint(inline[name]), name


def test_a_worker_finds_outputs_cached_by_an_inline_run(
    file_client: Client, worker: Executor
) -> None:
    pipeline = steps.training()
    inline = pipeline.run(file_client, PARAMS)
    cached = pipeline.run(file_client, PARAMS, executor=worker)
    assert sorted(cached.reused) == sorted(set(pipeline.order) - {"worker_pid"})
    assert cached["worker_pid"] != os.getpid()  # the one step that is never cached
    assert cached["summary"] == inline["summary"]
    record = file_client.pipeline_run(cached.run_id)
    assert {s.cached_from for s in record.steps if s.status == "cached"} == {inline.run_id}


def test_a_step_failing_in_a_worker_fails_the_run_with_its_message(
    file_client: Client, worker: Executor
) -> None:
    params = {"rows": 5, "seed": 1, "reason": "the labels are late"}
    with pytest.raises(PipelineFailed) as caught:
        steps.failing().run(file_client, params, executor=worker)
    failure = caught.value
    assert failure.step == "refuse"
    assert failure.error == "WorkerSaysNo: refused 5 rows: the labels are late"
    record = file_client.pipeline_run(failure.run_id)
    assert record.status == "failed" and record.executor == worker.name
    assert record.step("window").status == "succeeded"  # type: ignore[union-attr]
    refused = record.step("refuse")
    assert refused is not None and refused.status == "failed"
    assert refused.error == failure.error
    # the same failure, inline: the recorded error reads the same on every executor
    with pytest.raises(PipelineFailed) as inline:
        steps.failing().run(file_client, params, executor=InlineExecutor())
    assert inline.value.error == failure.error


def test_a_run_failed_on_a_worker_is_resumed_inline(
    file_client: Client, process_pool: ProcessExecutor
) -> None:
    params = {**PARAMS, "reason": "not yet"}
    with pytest.raises(PipelineFailed) as caught:
        steps.failing().run(file_client, params, executor=process_pool)
    with pytest.raises(PipelineFailed) as again:
        steps.failing().run(file_client, resume=caught.value.run_id)
    assert again.value.run_id == caught.value.run_id
    record = file_client.pipeline_run(caught.value.run_id)
    assert record.executor == "inline"  # the executor of the latest attempt
    assert record.step("window").status == "succeeded"  # type: ignore[union-attr]


def test_executors_by_name(file_client: Client) -> None:
    assert isinstance(make_executor("inline"), InlineExecutor)
    pool = make_executor("process", max_workers=1)  # workers start on the first submit
    assert isinstance(pool, ProcessExecutor) and pool.name == "process"
    pool.close()
    result = steps.training().run(file_client, {"rows": 20, "seed": 3}, executor="inline")
    assert file_client.pipeline_run(result.run_id).executor == "inline"
    assert result["worker_pid"] == os.getpid()


@pytest.mark.parametrize("kind", ["spark", "Inline", ""])
def test_unknown_executors_are_refused(file_client: Client, kind: Any) -> None:
    with pytest.raises(InvalidInput, match="is not one of inline, process, ray") as caught:
        make_executor(kind)
    assert caught.value.field == "executor"
    with pytest.raises(InvalidInput):
        steps.training().run(file_client, PARAMS, executor=kind)
    assert file_client.pipeline_runs() == []
    assert EXECUTORS == ("inline", "process", "ray")
