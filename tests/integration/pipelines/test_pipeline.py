"""Pipelines on a real store: wiring by name, run records, the cache and resuming a failed run.
Steps count their calls, so "reused" means "not called again".

The tests that read the records back through the store's queries (records, listing, cache
lookups, resuming) take ``client`` and run on SQLite and PostgreSQL; the rest take a SQLite
file store, which keeps the module fast (a PostgreSQL database costs a second to set up)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from keel.client import Client
from keel.errors import Conflict, InvalidInput, NotFound, PipelineFailed
from keel.pipelines.fingerprint import fingerprint
from keel.pipelines.pipeline import Pipeline, PipelineResult
from keel.pipelines.step import StepContext, step
from keel.settings import Settings


@pytest.fixture
def sqlite_client(tmp_path: Path) -> Iterator[Client]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'keel.db'}",
        artifacts=str(tmp_path / "artifacts"),
        actor="tester",
    )
    with Client(settings=settings) as made:
        yield made


# --- wiring -----------------------------------------------------------------------------------


@step
def rows_source(rows: int) -> list[int]:
    return list(range(rows))


@step
def doubled(rows_source: list[int]) -> list[int]:
    return [2 * r for r in rows_source]


@step
def squared(rows_source: list[int]) -> list[int]:
    return [r * r for r in rows_source]


@step
def combined(doubled: list[int], squared: list[int]) -> int:
    return sum(doubled) + sum(squared)


def test_the_order_follows_the_names_not_the_list() -> None:
    pipeline = Pipeline("wired", [combined, squared, doubled, rows_source])
    order = pipeline.order
    assert sorted(order) == ["combined", "doubled", "rows_source", "squared"]
    assert order[0] == "rows_source" and order[-1] == "combined"
    assert repr(pipeline).startswith("Pipeline('wired', rows_source -> ")
    reversed_list = Pipeline("wired", [rows_source, doubled, squared, combined]).order
    assert reversed_list[0] == "rows_source" and reversed_list[-1] == "combined"


def test_plain_functions_are_wrapped_as_steps() -> None:
    def total(parts: list[int]) -> int:
        return sum(parts)

    def parts(count: int) -> list[int]:
        return [1] * count

    pipeline = Pipeline("plain", [total, parts])
    assert pipeline.order == ["parts", "total"]
    assert pipeline.steps["total"].needs == ("parts",)


def test_two_steps_with_one_name_are_refused() -> None:
    copy = step(name="doubled")(lambda rows_source: rows_source)
    with pytest.raises(InvalidInput, match="two steps are named 'doubled'") as caught:
        Pipeline("twice", [rows_source, doubled, copy])
    assert caught.value.field == "steps"


def test_a_step_named_context_is_refused() -> None:
    @step
    def context(rows: int) -> int:
        return rows

    with pytest.raises(InvalidInput, match="'context' is reserved") as caught:
        Pipeline("reserved", [context])
    assert caught.value.field == "steps"


def test_a_circle_of_steps_is_refused_naming_the_steps() -> None:
    @step
    def features(labels: list[int]) -> list[int]:
        return labels

    @step
    def labels(features: list[int]) -> list[int]:
        return features

    with pytest.raises(InvalidInput, match="in a circle") as caught:
        Pipeline("circular", [rows_source, features, labels])
    assert caught.value.field == "steps"
    assert "'features'" in caught.value.problem and "'labels'" in caught.value.problem
    assert "rows_source" not in caught.value.problem


def test_a_step_needing_itself_is_a_circle() -> None:
    @step
    def again(again: int) -> int:
        return again

    with pytest.raises(InvalidInput, match="in a circle"):
        Pipeline("selfish", [again])


@pytest.mark.parametrize(
    ("name", "steps", "field"),
    [("", [rows_source], "name"), ("   ", [rows_source], "name"), ("empty", [], "steps")],
)
def test_a_pipeline_needs_a_name_and_steps(name: str, steps: list[Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Pipeline(name, steps)
    assert caught.value.field == field


def test_a_missing_input_names_the_step_and_the_parameter(sqlite_client: Client) -> None:
    calls: Counter[str] = Counter()

    @step
    def loaded(rows: int) -> list[int]:
        calls["loaded"] += 1
        return list(range(rows))

    @step
    def scored(loaded: list[int], threshold: float) -> int:
        calls["scored"] += 1
        return sum(1 for x in loaded if x > threshold)

    pipeline = Pipeline("incomplete", [loaded, scored])
    with pytest.raises(InvalidInput) as caught:
        pipeline.run(sqlite_client, {"rows": 5})
    assert caught.value.field == "steps.scored"
    assert "'threshold'" in caught.value.problem
    assert "neither a step of 'incomplete' nor a run parameter" in caught.value.problem
    assert calls == Counter()  # refused before anything ran ...
    assert sqlite_client.pipeline_runs(pipeline="incomplete") == []  # ... or was recorded
    assert pipeline.run(sqlite_client, {"rows": 5, "threshold": 2})["scored"] == 2


def test_a_default_stands_in_for_a_missing_parameter(sqlite_client: Client) -> None:
    @step
    def sample(rows: int, fraction: float = 0.5) -> int:
        return int(rows * fraction)

    pipeline = Pipeline("defaults", [sample])
    assert pipeline.run(sqlite_client, {"rows": 10})["sample"] == 5
    assert pipeline.run(sqlite_client, {"rows": 10, "fraction": 0.2})["sample"] == 2


@pytest.mark.parametrize(
    "params",
    [
        {"when": datetime(2026, 1, 1)},
        {"model": object()},
        {"frame": pd.DataFrame({"x": [1]})},
        {"ratio": float("nan")},
        {"limit": float("inf")},
        {"tags": {"a", "b"}},
        ["rows", 5],
    ],
)
def test_run_parameters_must_be_json(sqlite_client: Client, params: Any) -> None:
    pipeline = Pipeline("json-only", [rows_source])
    with pytest.raises(InvalidInput) as caught:
        pipeline.run(sqlite_client, params)
    assert caught.value.field == "params"
    assert sqlite_client.pipeline_runs(pipeline="json-only") == []


# --- run records ------------------------------------------------------------------------------


@step
def frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"x": range(rows), "y": [r % 3 for r in range(rows)]})


@step
def stats(frame: pd.DataFrame, label: str) -> dict[str, Any]:
    return {"label": label, "mean": float(frame["x"].mean()), "n": len(frame)}


@step
def about(context: StepContext, stats: dict[str, Any]) -> dict[str, Any]:
    with context.client() as own:
        record = own.pipeline_run(context.run_id)
    return {
        "run": context.run_id,
        "pipeline": context.pipeline,
        "step": context.step,
        "params": context.params,
        "status": record.status,
        "stats": record.step("stats").status,
        "n": stats["n"],
    }


def test_every_step_is_recorded_with_inputs_output_status_and_times(client: Client) -> None:
    pipeline = Pipeline("recorded", [about, stats, frame])
    result = pipeline.run(client, {"rows": 6, "label": "train"}, model="credit")
    assert isinstance(result, PipelineResult)
    assert result.reused == []
    record = client.pipeline_run(result.run_id)
    assert record == result.record
    assert record.pipeline == "recorded" and record.model == "credit"
    assert record.status == "succeeded" and record.error is None
    assert record.executor == "inline" and record.created_by == "tester"
    assert record.params == {"rows": 6, "label": "train"}
    assert [s.name for s in record.steps] == ["frame", "stats", "about"]
    assert [s.position for s in record.steps] == [0, 1, 2]
    assert {s.status for s in record.steps} == {"succeeded"}

    first, middle, last = record.steps
    assert first.inputs == {"rows": {"type": "int", "value": 6, "fingerprint": fingerprint(6)}}
    assert first.output == {"type": "DataFrame", "rows": 6, "columns": 2}
    assert middle.inputs == {
        "frame": {
            "type": "DataFrame",
            "rows": 6,
            "columns": 2,
            "fingerprint": fingerprint(result["frame"]),
        },
        "label": {"type": "str", "value": "train", "fingerprint": fingerprint("train")},
    }
    assert middle.output == {
        "type": "dict",
        "keys": ["label", "mean", "n"],
        "values": {"label": "train", "mean": 2.5, "n": 6},
    }
    assert set(last.inputs) == {"stats"}  # the context is not an input
    assert all(s.output_sha256 and len(s.output_sha256) == 64 for s in record.steps)
    assert len({s.cache_key for s in record.steps}) == 3
    assert all(s.cached_from is None and s.error is None for s in record.steps)

    for s in record.steps:
        assert s.started_at is not None and s.ended_at is not None
        assert record.started_at <= s.started_at <= s.ended_at
        assert record.ended_at is not None and s.ended_at <= record.ended_at
    assert first.ended_at <= middle.started_at and middle.ended_at <= last.started_at
    json.dumps(record.to_dict())

    # the step with a context saw its run, itself and the parameters, and read the store
    assert result["about"] == {
        "run": result.run_id,
        "pipeline": "recorded",
        "step": "about",
        "params": {"rows": 6, "label": "train"},
        "status": "running",
        "stats": "succeeded",
        "n": 6,
    }
    pd.testing.assert_frame_equal(result["frame"], frame.fn(6))


def test_runs_are_listed_by_model_and_pipeline_newest_first(client: Client) -> None:
    pipeline = Pipeline("listed", [stats, frame])
    first = pipeline.run(client, {"rows": 3, "label": "a"}, model="credit")
    second = pipeline.run(client, {"rows": 4, "label": "b"}, model="credit")
    other = Pipeline("other", [rows_source]).run(client, {"rows": 2}, model="churn")
    assert [r.id for r in client.pipeline_runs(model="credit")] == [second.run_id, first.run_id]
    assert [r.id for r in client.pipeline_runs(model="churn")] == [other.run_id]
    assert [r.id for r in client.pipeline_runs(pipeline="other")] == [other.run_id]
    assert [r.id for r in client.pipeline_runs(model="credit", limit=1)] == [second.run_id]
    assert client.pipeline_runs(model="nobody") == []
    listed = client.pipeline_runs(model="credit")[0]
    assert listed == client.pipeline_run(second.run_id)
    assert [s.status for s in listed.steps] == ["succeeded", "succeeded"]


def test_a_run_id_can_be_chosen_in_advance_once(client: Client) -> None:
    pipeline = Pipeline("named", [rows_source])
    result = pipeline.run(client, {"rows": 2}, run_id="retrain-17")
    assert result.run_id == "retrain-17"
    assert client.pipeline_run("retrain-17").status == "succeeded"
    with pytest.raises(Conflict):
        pipeline.run(client, {"rows": 3}, run_id="retrain-17")
    assert client.pipeline_run("retrain-17").params == {"rows": 2}
    # the same answer from both back ends (PostgreSQL would refuse a long id as a store error)
    for bad in ("x" * 33, "", "  "):
        with pytest.raises(InvalidInput, match="at most 32 characters") as caught:
            pipeline.run(client, {"rows": 3}, run_id=bad)
        assert caught.value.field == "run_id"
    assert [r.id for r in client.pipeline_runs(pipeline="named")] == ["retrain-17"]
    assert pipeline.run(client, {"rows": 3}, run_id="y" * 32).run_id == "y" * 32


def test_unknown_and_empty_run_ids(sqlite_client: Client) -> None:
    with pytest.raises(NotFound, match="pipeline run 'nope' not found"):
        sqlite_client.pipeline_run("nope")
    with pytest.raises(InvalidInput) as caught:
        sqlite_client.pipeline_run(" ")
    assert caught.value.field == "run_id"


# --- the cache --------------------------------------------------------------------------------


def counting(calls: Counter[str]) -> Pipeline:
    """window -> parity -> report <- label, each counting its calls."""

    @step
    def window(rows: int) -> list[int]:
        calls["window"] += 1
        return list(range(rows))

    @step
    def parity(window: list[int]) -> int:
        calls["parity"] += 1
        return len(window) % 2

    @step
    def label(name: str) -> str:
        calls["label"] += 1
        return name.upper()

    @step
    def report(parity: int, label: str) -> str:
        calls["report"] += 1
        return f"{label}:{parity}"

    return Pipeline("counting", [report, label, parity, window])


def test_a_second_run_with_the_same_inputs_reuses_every_output(client: Client) -> None:
    calls: Counter[str] = Counter()
    first = counting(calls).run(client, {"rows": 4, "name": "a"})
    second = counting(calls).run(client, {"rows": 4, "name": "a"})
    assert calls == Counter(window=1, parity=1, label=1, report=1)
    assert (
        second.outputs
        == first.outputs
        == {
            "window": [0, 1, 2, 3],
            "parity": 0,
            "label": "A",
            "report": "A:0",
        }
    )
    assert sorted(second.reused) == ["label", "parity", "report", "window"]
    record = client.pipeline_run(second.run_id)
    assert record.status == "succeeded"
    for s in record.steps:
        assert s.status == "cached"
        assert s.cached_from == first.run_id
        assert s.output_sha256 == first.record.step(s.name).output_sha256  # type: ignore[union-attr]
        assert s.cache_key == first.record.step(s.name).cache_key  # type: ignore[union-attr]
        assert s.inputs == first.record.step(s.name).inputs  # type: ignore[union-attr]
    third = counting(calls).run(client, {"rows": 4, "name": "a"})
    assert {s.cached_from for s in third.record.steps} == {first.run_id}
    assert calls == Counter(window=1, parity=1, label=1, report=1)


def test_only_steps_whose_inputs_changed_run_again(sqlite_client: Client) -> None:
    calls: Counter[str] = Counter()
    first = counting(calls).run(sqlite_client, {"rows": 4, "name": "a"})
    calls.clear()
    # a new window, but the same parity: the report's inputs are unchanged, so it is reused
    second = counting(calls).run(sqlite_client, {"rows": 6, "name": "a"})
    assert calls == Counter(window=1, parity=1)
    statuses = {s.name: s.status for s in second.record.steps}
    assert statuses == {
        "window": "succeeded",
        "parity": "succeeded",
        "label": "cached",
        "report": "cached",
    }
    assert second.record.step("report").cached_from == first.run_id  # type: ignore[union-attr]
    calls.clear()
    third = counting(calls).run(sqlite_client, {"rows": 6, "name": "b"})
    assert calls == Counter(label=1, report=1)
    assert third["report"] == "B:0"


def test_an_edited_step_runs_again_and_the_old_code_finds_its_old_output(
    sqlite_client: Client,
) -> None:
    calls: Counter[str] = Counter()

    @step(name="total")
    def total_v1(rows_source: list[int]) -> int:
        calls["v1"] += 1
        return sum(rows_source)

    @step(name="total")
    def total_v2(rows_source: list[int]) -> int:
        calls["v2"] += 1
        return sum(rows_source) + 1

    assert total_v1.code_hash != total_v2.code_hash
    first = Pipeline("edited", [rows_source, total_v1]).run(sqlite_client, {"rows": 4})
    second = Pipeline("edited", [rows_source, total_v2]).run(sqlite_client, {"rows": 4})
    assert (first["total"], second["total"]) == (6, 7)
    assert calls == Counter(v1=1, v2=1)
    assert second.record.step("rows_source").status == "cached"  # type: ignore[union-attr]
    assert second.record.step("total").status == "succeeded"  # type: ignore[union-attr]
    back = Pipeline("edited", [rows_source, total_v1]).run(sqlite_client, {"rows": 4})
    assert back["total"] == 6 and calls == Counter(v1=1, v2=1)
    assert back.record.step("total").cached_from == first.run_id  # type: ignore[union-attr]


def test_steps_marked_cache_false_always_run(sqlite_client: Client) -> None:
    calls: Counter[str] = Counter()

    @step(cache=False)
    def register(rows_source: list[int]) -> str:
        calls["register"] += 1
        return f"v{calls['register']}"

    pipeline = Pipeline("side-effects", [rows_source, register])
    first = pipeline.run(sqlite_client, {"rows": 3})
    second = pipeline.run(sqlite_client, {"rows": 3})
    assert (first["register"], second["register"]) == ("v1", "v2")
    assert calls == Counter(register=2)
    assert second.reused == ["rows_source"]
    step_record = second.record.step("register")
    assert step_record is not None
    assert step_record.status == "succeeded" and step_record.cached_from is None


def test_cache_false_turns_every_lookup_off(client: Client) -> None:
    calls: Counter[str] = Counter()
    counting(calls).run(client, {"rows": 4, "name": "a"})
    again = counting(calls).run(client, {"rows": 4, "name": "a"}, cache=False)
    assert calls == Counter(window=2, parity=2, label=2, report=2)
    assert again.reused == []
    assert {s.status for s in again.record.steps} == {"succeeded"}
    # the uncached run's results are cache entries too, newest first
    third = counting(calls).run(client, {"rows": 4, "name": "a"})
    assert {s.cached_from for s in third.record.steps} == {again.run_id}


def test_the_cache_is_shared_by_pipelines_with_the_same_step(sqlite_client: Client) -> None:
    first = Pipeline("one", [rows_source, doubled]).run(sqlite_client, {"rows": 3})
    second = Pipeline("two", [rows_source, squared]).run(sqlite_client, {"rows": 3})
    assert second.record.step("rows_source").cached_from == first.run_id  # type: ignore[union-attr]
    assert second.record.step("squared").status == "succeeded"  # type: ignore[union-attr]


# --- failing and resuming ---------------------------------------------------------------------


def fragile(calls: Counter[str], state: dict[str, Any]) -> Pipeline:
    """source -> (left, right) -> join; ``left`` fails while ``state["broken"]`` is set."""

    @step
    def source(rows: int) -> list[int]:
        calls["source"] += 1
        return list(range(rows))

    @step
    def left(source: list[int]) -> int:
        calls["left"] += 1
        if state["broken"]:
            raise ConnectionError("the feature store did not answer")
        return sum(source)

    @step
    def right(source: list[int]) -> int:
        calls["right"] += 1
        return len(source)

    @step
    def join(left: int, right: int) -> dict[str, int]:
        calls["join"] += 1
        if state.get("interrupt"):
            raise SystemExit("the machine went away")
        return {"sum": left, "count": right}

    return Pipeline("fragile", [join, right, left, source])


def test_a_failing_step_fails_the_run_and_keeps_the_finished_steps(sqlite_client: Client) -> None:
    calls: Counter[str] = Counter()
    with pytest.raises(PipelineFailed) as caught:
        fragile(calls, {"broken": True}).run(sqlite_client, {"rows": 4}, model="credit")
    failed = caught.value
    assert failed.step == "left"
    assert failed.error == "ConnectionError: the feature store did not answer"
    assert f"pipeline run {failed.run_id} failed in step 'left'" in str(failed)
    assert failed.to_dict()["run_id"] == failed.run_id
    assert calls == Counter(source=1, left=1, right=1)

    record = sqlite_client.pipeline_run(failed.run_id)
    assert record.status == "failed"
    assert record.error == "left: ConnectionError: the feature store did not answer"
    assert record.ended_at is not None
    statuses = {s.name: s.status for s in record.steps}
    assert statuses == {
        "source": "succeeded",
        "left": "failed",
        "right": "succeeded",
        "join": "pending",
    }
    left_record = record.step("left")
    assert left_record is not None
    assert left_record.error == "ConnectionError: the feature store did not answer"
    assert left_record.output_sha256 is None and left_record.ended_at is not None
    assert left_record.inputs["source"]["fingerprint"] == fingerprint([0, 1, 2, 3])


def test_resuming_runs_only_the_failed_and_later_steps(client: Client) -> None:
    calls: Counter[str] = Counter()
    state = {"broken": True}
    with pytest.raises(PipelineFailed) as caught:
        fragile(calls, state).run(client, {"rows": 4})
    run_id = caught.value.run_id
    state["broken"] = False  # the cause is fixed
    calls.clear()
    result = fragile(calls, state).run(client, resume=run_id)
    assert result.run_id == run_id
    assert calls == Counter(left=1, join=1)
    assert sorted(result.reused) == ["right", "source"]
    assert result["join"] == {"sum": 6, "count": 4}
    assert result["source"] == [0, 1, 2, 3]
    record = client.pipeline_run(run_id)
    assert record.status == "succeeded" and record.error is None
    assert {s.status for s in record.steps} == {"succeeded"}
    assert record.step("left").error is None  # type: ignore[union-attr]
    assert [r.id for r in client.pipeline_runs(pipeline="fragile")] == [run_id]


def test_a_run_that_fails_again_can_be_resumed_again(sqlite_client: Client) -> None:
    calls: Counter[str] = Counter()
    state = {"broken": True}
    with pytest.raises(PipelineFailed) as first:
        fragile(calls, state).run(sqlite_client, {"rows": 3})
    with pytest.raises(PipelineFailed) as second:
        fragile(calls, state).run(sqlite_client, resume=first.value.run_id)
    assert second.value.run_id == first.value.run_id and second.value.step == "left"
    assert calls == Counter(source=1, left=2, right=1)
    state["broken"] = False
    assert fragile(calls, state).run(sqlite_client, resume=first.value.run_id)["join"]["sum"] == 3
    assert calls == Counter(source=1, left=3, right=1, join=1)


def test_a_run_interrupted_mid_step_is_resumed_from_that_step(sqlite_client: Client) -> None:
    calls: Counter[str] = Counter()
    state = {"broken": False, "interrupt": True}
    with pytest.raises(SystemExit):
        fragile(calls, state).run(sqlite_client, {"rows": 2}, run_id="interrupted")
    record = sqlite_client.pipeline_run("interrupted")
    assert record.status == "running"  # nobody was left to record the end
    assert record.step("join").status == "running"  # type: ignore[union-attr]
    state["interrupt"] = False
    calls.clear()
    result = fragile(calls, state).run(sqlite_client, resume="interrupted")
    assert calls == Counter(join=1)
    assert result["join"] == {"sum": 1, "count": 2}


def test_cached_steps_count_as_done_when_resuming(sqlite_client: Client) -> None:
    calls: Counter[str] = Counter()
    state = {"broken": False}
    fragile(calls, state).run(sqlite_client, {"rows": 5})
    state["broken"] = True
    # the same inputs: source, left and right come from the cache, so nothing fails ...
    assert fragile(calls, state).run(sqlite_client, {"rows": 5})["join"] == {"sum": 10, "count": 5}
    # ... but a new window reaches the broken step
    with pytest.raises(PipelineFailed) as caught:
        fragile(calls, state).run(sqlite_client, {"rows": 6})
    state["broken"] = False
    calls.clear()
    result = fragile(calls, state).run(sqlite_client, resume=caught.value.run_id)
    assert calls == Counter(left=1, join=1)
    assert result["join"] == {"sum": 15, "count": 6}


def test_resuming_keeps_the_parameters_of_the_run(sqlite_client: Client) -> None:
    calls: Counter[str] = Counter()
    state = {"broken": True}
    with pytest.raises(PipelineFailed) as caught:
        fragile(calls, state).run(sqlite_client, {"rows": 7})
    state["broken"] = False
    result = fragile(calls, state).run(sqlite_client, resume=caught.value.run_id)
    assert result["join"] == {"sum": 21, "count": 7}
    assert result.record.params == {"rows": 7}


def test_a_resumed_run_keeps_the_output_of_a_step_marked_cache_false(
    sqlite_client: Client,
) -> None:
    calls: Counter[str] = Counter()
    state = {"broken": True}

    @step(cache=False)
    def register(rows: int) -> str:
        calls["register"] += 1
        return f"v{calls['register']}"

    @step
    def deploy(register: str) -> str:
        calls["deploy"] += 1
        if state["broken"]:
            raise RuntimeError("the serving cluster is down")
        return f"deployed {register}"

    pipeline = Pipeline("deploying", [deploy, register])
    with pytest.raises(PipelineFailed) as caught:
        pipeline.run(sqlite_client, {"rows": 1})
    state["broken"] = False
    result = pipeline.run(sqlite_client, resume=caught.value.run_id)
    assert result["deploy"] == "deployed v1"  # registered once, not again on resume
    assert calls == Counter(register=1, deploy=2)
    assert result.reused == ["register"]


def test_what_cannot_be_resumed(sqlite_client: Client) -> None:
    calls: Counter[str] = Counter()
    done = fragile(calls, {"broken": False}).run(sqlite_client, {"rows": 2})
    with pytest.raises(InvalidInput, match="already succeeded") as caught:
        fragile(calls, {"broken": False}).run(sqlite_client, resume=done.run_id)
    assert caught.value.field == "resume"

    with pytest.raises(NotFound):
        fragile(calls, {"broken": False}).run(sqlite_client, resume="0" * 32)

    with pytest.raises(PipelineFailed) as failed:
        fragile(calls, {"broken": True}).run(sqlite_client, {"rows": 3})
    other = Pipeline("other-pipeline", [rows_source])
    with pytest.raises(InvalidInput, match="belongs to pipeline 'fragile'") as caught:
        other.run(sqlite_client, resume=failed.value.run_id)
    assert caught.value.field == "resume"

    @step
    def extra(join: dict[str, int]) -> int:
        return len(join)

    grown = fragile(calls, {"broken": False})
    changed = Pipeline("fragile", [*grown.steps.values(), extra])
    with pytest.raises(InvalidInput, match="had steps") as caught:
        changed.run(sqlite_client, resume=failed.value.run_id)
    assert caught.value.field == "resume"
    assert sqlite_client.pipeline_run(failed.value.run_id).status == "failed"  # untouched


def test_an_output_that_cannot_be_stored_fails_its_step(sqlite_client: Client) -> None:
    @step
    def lazy(rows: int) -> Any:
        return (r for r in range(rows))  # a generator cannot be pickled

    with pytest.raises(PipelineFailed) as caught:
        Pipeline("lazy", [lazy]).run(sqlite_client, {"rows": 3})
    assert caught.value.step == "lazy"
    assert "generator" in caught.value.error
    record = sqlite_client.pipeline_run(caught.value.run_id)
    assert record.status == "failed"
    assert record.step("lazy").status == "failed"  # type: ignore[union-attr]
