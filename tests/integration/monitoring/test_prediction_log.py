"""The prediction and label logs: what is acknowledged is on disk, readable without Keel, and bad
input is refused with the field named."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keel.client import Client
from keel.domain.entities import ModelVersion
from keel.errors import InvalidInput, NotFound
from keel.store.prediction_log import ParquetLogStore
from tests.crashing import acknowledged_before_sigkill


def features(cancer_frame: pd.DataFrame, rows: int = 50) -> pd.DataFrame:
    return cancer_frame.drop(columns=["target"]).head(rows)


def test_logged_rows_read_back_with_keel_pandas_and_duckdb(
    client: Client, cancer_version: ModelVersion, cancer_frame, fitted_model
) -> None:
    data = features(cancer_frame)
    proba = fitted_model.predict_proba(data)[:, 1]
    receipt = client.log_predictions(
        "cancer",
        data,
        predictions=fitted_model.predict(data),
        scores=proba,
        latency_ms=np.full(len(data), 1.5),
        entity_keys=[f"customer-{i % 7}" for i in range(len(data))],
    )
    assert receipt.rows == 50 and receipt.version == cancer_version.version
    assert len(set(receipt.request_ids)) == 50
    frame = client.read_predictions("cancer")
    assert list(frame["request_id"]) == receipt.request_ids
    assert np.allclose(frame["score"], proba)
    assert np.allclose(frame["mean radius"], data["mean radius"])
    assert set(frame["status"]) == {"ok"} and set(frame["version"]) == {1}

    root = Path(client.settings.artifacts) / "log" / "predictions"
    plain = pd.read_parquet(root / "model=cancer")
    assert sorted(plain["request_id"]) == sorted(receipt.request_ids)
    import duckdb

    [(count, models)] = duckdb.sql(
        f"SELECT count(*), min(model) FROM read_parquet('{root}/*/*/*.parquet', "
        "hive_partitioning = true)"
    ).fetchall()
    assert (count, models) == (50, "cancer")


def test_labels_report_unknown_ids_and_duplicates(
    client: Client, cancer_version: ModelVersion, cancer_frame, fitted_model
) -> None:
    data = features(cancer_frame, 20)
    receipt = client.log_predictions(
        "cancer",
        data,
        predictions=fitted_model.predict(data),
        request_ids=[f"r{i}" for i in range(20)],
    )
    report = client.log_labels(
        "cancer", [*receipt.request_ids[:10], "r3", "nobody", "ghost"], [1] * 13
    )
    assert (report.rows, report.matched, report.unknown_count) == (13, 11, 2)
    assert sorted(report.unknown) == ["ghost", "nobody"]
    assert report.duplicates == 1
    labelled = client.read_predictions("cancer", labels=True)
    assert labelled["label"].notna().sum() == 10


def test_bad_input_is_refused_with_the_field_named(
    client: Client, cancer_version: ModelVersion, cancer_frame, fitted_model
) -> None:
    data = features(cancer_frame, 5)
    predicted = fitted_model.predict(data)
    cases = [
        (dict(data=data.iloc[0:0], predictions=[]), "data"),
        (dict(data=data, predictions=None), "predictions"),
        (dict(data=data, predictions=predicted[:3]), "predictions"),
        (dict(data=data, predictions=predicted, scores=[np.inf] * 5), "scores"),
        (dict(data=data, predictions=predicted, latency_ms=[-1.0] * 5), "latency_ms"),
        (dict(data=data, predictions=predicted, status=["ok", "ok", "ok", "ok", "boom"]), "status"),
        (dict(data=data.assign(version=1), predictions=predicted), "data"),
        (dict(data=data, predictions=predicted, timestamps=["not a time"] * 5), "timestamps"),
        (dict(data=data, predictions=predicted, request_ids=[None] * 5), "request_ids"),
        (dict(data=data, predictions=predicted, version=7), None),
        # what would break the log for every later read: a missing input, text in a number
        (dict(data=data.drop(columns=["mean area"]), predictions=predicted), "data.mean area"),
        (
            dict(data=data.assign(**{"mean radius": ["abc", 1, 2, 3, 4]}), predictions=predicted),
            "data.mean radius",
        ),
    ]
    for kwargs, field in cases:
        frame = kwargs.pop("data")
        expected = NotFound if field is None else InvalidInput
        with pytest.raises(expected) as caught:
            client.log_predictions("cancer", frame, **kwargs)
        if field is not None:
            assert caught.value.field == field, kwargs
    with pytest.raises(NotFound):
        client.log_predictions("nobody", data, predictions=predicted)
    with pytest.raises(NotFound):  # labels for a model that does not exist are not written
        client.log_labels("nobody", ["a"], [1])
    assert not (Path(client.settings.artifacts) / "log" / "labels" / "model=nobody").exists()
    with pytest.raises(InvalidInput) as caught:
        client.log_labels("cancer", [], [])
    assert caught.value.field == "request_ids"
    with pytest.raises(InvalidInput) as caught:
        client.log_labels("cancer", ["a", "b"], [1, None])
    assert caught.value.field == "labels"
    assert client.read_predictions("cancer").empty  # nothing refused was written


def test_numbers_written_as_text_are_logged_as_numbers(
    client: Client, cancer_version: ModelVersion, cancer_frame, fitted_model
) -> None:
    data = features(cancer_frame, 5)
    predicted = fitted_model.predict(data)
    client.log_predictions("cancer", data, predictions=predicted)
    as_text = data.assign(**{"mean radius": data["mean radius"].astype(str)})
    client.log_predictions("cancer", as_text, predictions=predicted)
    # drifted values are logged as they are: out of range is production's news, not an error
    client.log_predictions("cancer", data.assign(**{"mean radius": 1e6}), predictions=predicted)
    frame = client.read_predictions("cancer")  # every batch reads back as one table
    assert len(frame) == 15 and frame["mean radius"].dtype == "float64"
    assert frame["mean radius"].iloc[5:10].tolist() == data["mean radius"].tolist()


def test_without_a_champion_the_version_must_be_named(
    client: Client, cancer_frame, fitted_model
) -> None:
    client.register_model("plain", fitted_model, training_data=cancer_frame, target="target")
    data = features(cancer_frame, 3)
    with pytest.raises(InvalidInput) as caught:
        client.log_predictions("plain", data, predictions=fitted_model.predict(data))
    assert caught.value.field == "version"
    assert client.log_predictions("plain", data, predictions=[0, 1, 0], version=1).rows == 3


def test_the_log_works_on_an_object_store_too() -> None:
    import pyarrow as pa

    logs = ParquetLogStore(f"memory://keel-{time.time_ns()}")
    logs.append("predictions", "m", pa.table({"request_id": ["a"], "x": [1.0]}))
    logs.append("predictions", "m", pa.table({"request_id": ["b"], "x": [2.0]}))
    parts = logs.parts("predictions", "m")
    assert len(parts) == 2 and parts[0].name < parts[1].name
    assert [logs.read(p).column("request_id")[0].as_py() for p in parts] == ["a", "b"]
    assert logs.parts("labels", "m") == []


WRITER = """
import sys
import numpy as np, pandas as pd
from keel.client import Client
client = Client(sys.argv[1], sys.argv[2], actor="writer")
frame = pd.DataFrame({"x": np.arange(10.0)})
batch = 0
while True:
    ids = [f"b{batch}-{i}" for i in range(10)]
    client.log_predictions("crash", frame, predictions=np.zeros(10), request_ids=ids, version=1)
    print("ack", batch, flush=True)
    batch += 1
"""


def test_acknowledged_predictions_survive_a_sigkill(client: Client, tmp_path: Path) -> None:
    from sklearn.dummy import DummyClassifier

    frame = pd.DataFrame({"x": np.arange(10.0)})
    model = DummyClassifier().fit(frame, np.zeros(10))
    client.register_model("crash", model, input_example=frame)
    acknowledged = acknowledged_before_sigkill(
        WRITER, tmp_path, [client.settings.store_url, client.settings.artifacts], 15
    )
    assert len(acknowledged) >= 15
    logged = set(client.read_predictions("crash")["request_id"])
    for batch in acknowledged:
        assert {f"b{batch}-{i}" for i in range(10)} <= logged
    # every part on disk is whole: the reader above would have failed on a torn one
    assert len(logged) % 10 == 0
