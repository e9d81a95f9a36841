"""``keel serve --wal``: answers are acknowledged by the write-ahead log, and every answered row
reaches the prediction log (within the flush interval) with the log's column types."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from keel.settings import Settings
from tests.integration.serving.conftest import assert_clean, post_many, start_server, stop_server
from tests.integration.serving.test_predict import logged_rows

pytestmark = pytest.mark.slow


def test_rows_acknowledged_by_the_write_ahead_log_reach_the_prediction_log(
    store: Settings, tmp_path_factory: pytest.TempPathFactory, cancer_frame: pd.DataFrame
) -> None:
    folder = tmp_path_factory.mktemp("wal")
    server = start_server(store, folder, "--wal", str(folder / "segments"), "--poll", "0.2")
    try:
        rows = cancer_frame.drop(columns=["target"]).to_dict("records")[:80]
        answers = post_many(server, "/v1/models/walled/predict", rows)
        assert {a.status_code for a in answers} == {200}
        ids = sorted(a.json()["request_id"] for a in answers)

        def flushed() -> bool:
            table = logged_rows(server, "walled")
            return table.num_rows > 0 and set(ids) <= set(table.column("request_id").to_pylist())

        server.wait(flushed, what="the flushed rows")
    finally:
        assert_clean(stop_server(server))
    table = logged_rows(server, "walled")
    logged = table.column("request_id").to_pylist()
    assert len(logged) == len(set(logged))  # nothing twice
    assert table.schema.field("timestamp").type == pa.timestamp("us", "UTC")
    assert set(table.column("variant").to_pylist()) == {"stable"}
    assert list(folder.joinpath("segments").glob("*.wal")) == []


def test_without_the_write_ahead_log_rows_are_in_the_log_before_the_answer(
    store: Settings, tmp_path_factory: pytest.TempPathFactory, cancer_frame: pd.DataFrame
) -> None:
    folder = tmp_path_factory.mktemp("direct")
    server = start_server(store, folder, "--no-wal", "--poll", "0.2")
    try:
        rows = cancer_frame.drop(columns=["target"]).to_dict("records")[:30]
        answers = post_many(server, "/v1/models/walled/predict", rows)
        assert {a.status_code for a in answers} == {200}
        ids = sorted(a.json()["request_id"] for a in answers)
        table = logged_rows(server, "walled")  # no waiting: each batch was a durable part
    finally:
        assert_clean(stop_server(server))
    logged = table.column("request_id").to_pylist()
    assert set(ids) <= set(logged) and len(logged) == len(set(logged))
