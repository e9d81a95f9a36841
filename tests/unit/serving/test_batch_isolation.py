"""One bad request never takes its batch down: a model that raises on one request's rows fails
that request only (the batch is scored again request by request), and rows the input policy
rejected are logged, not scored, while the rest of their request is answered."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
import pandas as pd

from keel.serving.batching import Job, MicroBatcher, ModelFailed
from keel.serving.logging import MemoryRecorder, log_table
from keel.serving.served import Scored
from tests.unit.serving.test_batching import served

FRAME = pd.DataFrame({"x": [0.0, 100.0]})
POISON = 13.0
ARRIVAL = 1_700_000_000_000_000_000


class Picky:
    """Doubles x, raises on a batch holding the poison value; the first call waits for a gate
    so that the requests sent meanwhile queue up and share the next call."""

    def __init__(self) -> None:
        self.calls: list[list[float]] = []
        self.entered = threading.Event()
        self.gate = threading.Event()

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        self.entered.set()
        self.gate.wait(5)
        values = frame["x"].tolist()
        self.calls.append(values)
        if POISON in values:
            raise ValueError(f"cannot score x={POISON:g}")
        return np.asarray(frame["x"] * 2)


def job(xs: list[float], name: str, future: Any, **extra: Any) -> Job:
    """A request of one row per value of x."""
    ids = [f"{name}-{i}" for i in range(len(xs))]
    return Job([[x] for x in xs], ids, ARRIVAL, 0.0, None, "stable", future, **extra)


async def run(model: Picky, first: Job, later: list[Job]) -> tuple[list[Any], MemoryRecorder]:
    """``first`` starts a call that waits; ``later`` queue meanwhile and share one batch."""
    version = served(model, FRAME)
    recorder = MemoryRecorder()
    loop = asyncio.get_running_loop()
    batcher = MicroBatcher(version, recorder, loop)
    batcher.submit(first)
    await asyncio.to_thread(model.entered.wait, 5)
    for each in later:
        batcher.submit(each)
    model.gate.set()
    futures = [j.future for j in [first, *later] if j.future is not None]
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    await asyncio.to_thread(batcher.close)
    return outcomes, recorder


def logged(recorder: MemoryRecorder) -> pd.DataFrame:
    return pd.concat([log_table(b).to_pandas() for b in recorder.batches["m"]], ignore_index=True)


def test_a_request_the_model_raises_on_fails_alone() -> None:
    async def scenario() -> tuple[list[Any], MemoryRecorder, Picky]:
        model = Picky()
        loop = asyncio.get_running_loop()
        first = job([0.0], "warm", loop.create_future())
        values = [[1.0], [2.0, 3.0], [POISON], [4.0], [5.0, POISON]]
        later = [job(rows, f"r{i}", loop.create_future()) for i, rows in enumerate(values)]
        outcomes, recorder = await run(model, first, later)
        return outcomes, recorder, model

    outcomes, recorder, model = asyncio.run(scenario())
    assert model.calls[1] == [1.0, 2.0, 3.0, POISON, 4.0, 5.0, POISON]  # one batch, raised
    assert model.calls[2:] == [[1.0], [2.0, 3.0], [POISON], [4.0], [5.0, POISON]]  # one by one
    answers = outcomes[1:]
    assert [a.predictions for a in answers if isinstance(a, Scored)] == [[2.0], [4.0, 6.0], [8.0]]
    failed = [answers[2], answers[4]]
    assert all(isinstance(f, ModelFailed) for f in failed)
    assert all("cannot score x=13" in f.message and "m/3" in f.message for f in failed)
    rows = logged(recorder).set_index("request_id")
    assert len(rows) == 8  # every row of every request, answered or not
    errors = rows[rows["status"] == "error"]
    assert sorted(errors.index) == ["r2-0", "r4-0", "r4-1"]
    assert errors["error"].str.contains("cannot score x=13").all()
    assert errors["prediction"].isna().all()
    ok = rows[rows["status"] == "ok"]
    assert (ok["prediction"] == ok["x"] * 2).all()


def test_rejected_rows_are_logged_unscored_and_the_others_answered() -> None:
    async def scenario() -> tuple[list[Any], MemoryRecorder, Picky]:
        model = Picky()
        loop = asyncio.get_running_loop()
        first = job([0.0], "warm", loop.create_future())
        notes = [None, '[{"field":"x","code":"out_of_range"}]', None]
        mixed = job(
            [1.0, 500.0, 2.0],
            "mixed",
            loop.create_future(),
            warnings=notes,
            rejected={1: "rejected: x: outside the training range (500.0; expected [0, 100])"},
        )
        refused = job([600.0], "refused", loop.create_future(), rejected={0: "rejected: x: ..."})
        outcomes, recorder = await run(model, first, [mixed, refused])
        return outcomes, recorder, model

    outcomes, recorder, model = asyncio.run(scenario())
    assert model.calls[1] == [1.0, 2.0]  # rejected rows never reach the model
    mixed, refused = outcomes[1], outcomes[2]
    assert mixed.predictions == [2.0, None, 4.0]
    assert refused.predictions == [None]
    rows = logged(recorder).set_index("request_id")
    assert rows.loc["mixed-1", "status"] == "rejected"
    assert rows.loc["mixed-1", "error"].startswith("rejected: x: outside")
    assert rows.loc["mixed-1", "x"] == 500.0  # its value is logged for drift and quality
    assert rows.loc["mixed-1", "warnings"] == '[{"field":"x","code":"out_of_range"}]'
    assert rows.loc["refused-0", "status"] == "rejected"
    assert list(rows.loc[["mixed-0", "mixed-2", "warm-0"], "status"]) == ["ok"] * 3
    assert rows.loc[["mixed-0", "warm-0"], "warnings"].isna().all()


def test_a_rejected_row_in_a_request_the_model_fails_stays_rejected() -> None:
    async def scenario() -> list[Any]:
        model = Picky()
        loop = asyncio.get_running_loop()
        first = job([0.0], "warm", loop.create_future())
        bad = job([POISON, 700.0], "bad", loop.create_future(), rejected={1: "rejected: x"})
        good = job([1.0], "good", loop.create_future())
        outcomes, recorder = await run(model, first, [bad, good])
        rows = logged(recorder).set_index("request_id")
        assert dict(rows["status"]) == {
            "warm-0": "ok",
            "bad-0": "error",
            "bad-1": "rejected",
            "good-0": "ok",
        }
        return outcomes

    outcomes = asyncio.run(scenario())
    assert isinstance(outcomes[1], ModelFailed) and outcomes[2].predictions == [2.0]


def test_every_part_of_the_log_has_the_warnings_column() -> None:
    async def scenario() -> MemoryRecorder:
        model = Picky()
        loop = asyncio.get_running_loop()
        _, recorder = await run(model, job([0.0], "a", loop.create_future()), [])
        return recorder

    table = log_table(asyncio.run(scenario()).batches["m"][0])
    assert str(table.schema.field("warnings").type) == "string"
