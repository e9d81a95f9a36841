"""A served version answers exactly what the model answers, whichever way it is called; the
micro-batcher scores concurrent requests together, logs them before answering, and fails only
the requests of a batch that went wrong."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from keel.domain.entities import ModelVersion
from keel.registry.loaded import LoadedModel
from keel.registry.signatures import infer_signature
from keel.serving.batching import Job, LogUnavailable, MicroBatcher, ModelFailed
from keel.serving.inputs import ParsedRequest
from keel.serving.logging import MemoryRecorder, log_table
from keel.serving.served import ServedModel, quiet_feature_name_warning


def served(model: Any, frame: pd.DataFrame | None, name: str = "m") -> ServedModel:
    signature = infer_signature(frame) if frame is not None else None
    version = ModelVersion(
        name=name,
        version=3,
        artifact_sha256="0" * 64,
        format="cloudpickle",
        model_class=type(model).__name__,
        created_at=datetime.now(UTC),
        author="tester",
        signature=signature,
    )
    return ServedModel(LoadedModel(model, version))


@pytest.fixture
def cancer(cancer_frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    return cancer_frame.drop(columns=["target"]), cancer_frame["target"]


def rows_of(model: ServedModel, frame: pd.DataFrame) -> list[Any]:
    return model.rows(ParsedRequest("records", len(frame), records=frame.to_dict("records")))


def test_arrays_and_dataframes_give_the_models_own_answers(
    cancer: tuple[pd.DataFrame, pd.Series],
) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    quiet_feature_name_warning()  # the server does this once at start-up
    features, target = cancer
    plain = LogisticRegression(max_iter=5000).fit(features, target)
    by_name = Pipeline(
        [
            ("scale", ColumnTransformer([("s", StandardScaler(), list(features.columns))])),
            ("fit", LogisticRegression(max_iter=5000)),
        ]
    ).fit(features, target)
    sample = features.iloc[:25]
    for model in (plain, by_name):  # the pipeline refuses arrays: served from DataFrames
        version = served(model, features)
        for _ in range(2):
            scored = version.score(rows_of(version, sample))
            assert scored.predictions == model.predict(sample).tolist()
            np.testing.assert_allclose(scored.scores, model.predict_proba(sample)[:, 1], rtol=1e-12)
        assert version.input_kind == ("array" if model is plain else "frame")


def test_multiclass_scores_are_the_top_probability_and_regressors_have_none() -> None:
    from sklearn.linear_model import LinearRegression, LogisticRegression

    frame = pd.DataFrame({"a": np.arange(30.0), "b": np.arange(30.0) % 7})
    classes = np.arange(30) % 3
    classifier = served(LogisticRegression(max_iter=1000).fit(frame, classes), frame)
    scored = classifier.score(rows_of(classifier, frame))
    np.testing.assert_allclose(scored.scores, classifier.native.predict_proba(frame).max(axis=1))
    regressor = served(LinearRegression().fit(frame, frame["a"] * 2), frame)
    answer = regressor.score(rows_of(regressor, frame.iloc[:3]))
    assert answer.scores is None
    np.testing.assert_allclose(answer.predictions, [0.0, 2.0, 4.0], atol=1e-9)


class Raising:
    """A model that fails on purpose."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        raise ValueError("broken on purpose")


class Slow:
    """A model that records how many rows each call saw (and takes a moment)."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.gate = threading.Event()

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        self.gate.wait(5)
        self.calls.append(len(frame))
        return np.asarray(frame["x"] * 2)


class BrokenLog:
    def record(
        self, model: str, columns: dict[str, Any], types: dict[str, str] | None = None
    ) -> None:
        raise OSError("disk full")

    def close(self) -> None:
        return None


async def run_jobs(version: ServedModel, recorder: Any, values: list[float]) -> list[Any]:
    """Submit one job per value at once; return each outcome (result or exception)."""
    batcher = MicroBatcher(version, recorder, asyncio.get_running_loop())
    loop = asyncio.get_running_loop()
    futures = []
    for index, value in enumerate(values):
        future: asyncio.Future[Any] = loop.create_future()
        rows = version.rows(ParsedRequest("record", 1, records=[{"x": value}]))
        batcher.submit(Job(rows, [f"r{index}"], 1_700_000_000_000_000_000, 0.0, None, "stable",
                           future))  # fmt: skip
        futures.append(future)
    if isinstance(version.native, Slow):
        version.native.gate.set()
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    await asyncio.to_thread(batcher.close)
    return outcomes


def test_queued_requests_share_model_calls_and_are_logged_before_answers() -> None:
    frame = pd.DataFrame({"x": [0.0, 100.0]})
    model = Slow()
    version = served(model, frame)
    recorder = MemoryRecorder()
    outcomes = asyncio.run(run_jobs(version, recorder, [float(v) for v in range(40)]))
    assert [o.predictions for o in outcomes] == [[2.0 * v] for v in range(40)]
    assert sum(model.calls) == 40 and len(model.calls) < 40
    batches = recorder.batches["m"]
    assert len(batches) == len(model.calls)
    logged = pd.concat([log_table(b).to_pandas() for b in batches])
    assert sorted(logged["request_id"]) == sorted(f"r{i}" for i in range(40))
    assert set(logged["status"]) == {"ok"} and set(logged["version"]) == {3}
    assert str(logged["timestamp"].dtype) == "datetime64[us, UTC]"
    assert (logged["prediction"] == logged["x"] * 2).all()


def test_a_failing_model_fails_its_requests_and_logs_them_as_errors() -> None:
    frame = pd.DataFrame({"x": [0.0, 1.0]})
    recorder = MemoryRecorder()
    outcomes = asyncio.run(run_jobs(served(Raising(), frame), recorder, [0.5, 0.7]))
    assert all(isinstance(o, ModelFailed) for o in outcomes)
    assert "broken on purpose" in outcomes[0].message
    logged = pd.concat([log_table(b).to_pandas() for b in recorder.batches["m"]])
    assert set(logged["status"]) == {"error"}
    assert logged["error"].str.contains("broken on purpose").all()


def test_an_unwritable_log_means_no_acknowledged_answer() -> None:
    from sklearn.linear_model import LinearRegression

    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0]})
    model = LinearRegression().fit(frame, frame["x"])
    outcomes = asyncio.run(run_jobs(served(model, frame), BrokenLog(), [0.5, 1.5]))
    assert all(isinstance(o, LogUnavailable) for o in outcomes)
