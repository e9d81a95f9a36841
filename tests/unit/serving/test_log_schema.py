"""Every part of a model's prediction log has the schema its version implies, whatever its rows:
a log that starts with a batch of failed requests (every prediction null) reads back in pandas
and DuckDB with the class labels' type, through either recorder."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from keel.serving.logging import LogStoreRecorder
from keel.serving.wal import WriteAheadRecorder
from keel.store.prediction_log import ParquetLogStore
from tests.unit.serving.test_batching import run_jobs, served


class FailsFirst:
    """Classes 0 and 1; raises on its first call, answers from then on."""

    classes_ = np.array([0, 1])

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        self.calls += 1
        if self.calls == 1:
            raise ValueError("cold start")
        return (frame["x"].to_numpy() > 5).astype(int)


@pytest.mark.parametrize("recorder_kind", ["parts", "write-ahead"])
def test_a_log_that_starts_with_failed_requests_reads_back_typed(
    tmp_path: Path, recorder_kind: str
) -> None:
    logs = ParquetLogStore(str(tmp_path / "art"))
    recorder: Any = (
        LogStoreRecorder(logs)
        if recorder_kind == "parts"
        else WriteAheadRecorder(logs, tmp_path / "wal")
    )
    version = served(FailsFirst(), pd.DataFrame({"x": [0.0, 10.0]}))
    first = asyncio.run(run_jobs(version, recorder, [1.0]))  # one batch: every row failed
    assert isinstance(first[0], Exception)
    if recorder_kind == "write-ahead":
        recorder.flush()  # the failed batch is a part of its own
    asyncio.run(run_jobs(version, recorder, [2.0, 8.0]))
    if recorder_kind == "write-ahead":
        recorder.close()
    folder = tmp_path / "art" / "log" / "predictions" / "model=m"
    assert len(list(folder.rglob("*.parquet"))) >= 2
    import pyarrow.parquet as pq

    for part in folder.rglob("*.parquet"):  # the failed batch's part too
        assert str(pq.read_schema(part).field("prediction").type) == "int64"
    frame = pd.read_parquet(folder, dtype_backend="numpy_nullable")
    assert str(frame["prediction"].dtype) == "Int64"
    assert sorted(frame["prediction"].dropna().tolist()) == [0, 1]
    assert list(frame.sort_values("status")["status"]) == ["error", "ok", "ok"]
    assert str(frame["x"].dtype) == "Float64"

    duckdb = pytest.importorskip("duckdb")
    labels = duckdb.sql(
        f"SELECT prediction FROM read_parquet('{folder}/**/*.parquet') WHERE status = 'ok'"
    ).fetchall()
    assert sorted(v for (v,) in labels) == [0, 1]
