"""A real server answers predictions in every body form, refuses bad input with one 422 entry per
problem (never a 500), reports itself and logs every answered request."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from keel.store.prediction_log import ParquetLogStore
from tests.integration.serving.conftest import Server

pytestmark = pytest.mark.slow


def features(cancer_frame: pd.DataFrame) -> pd.DataFrame:
    return cancer_frame.drop(columns=["target"])


def expected_scores(two_models: tuple[Any, Any], rows: pd.DataFrame) -> np.ndarray:
    return np.asarray(two_models[0].predict_proba(rows)[:, 1])


def test_one_record_records_and_columns_give_the_models_answers(
    server: Server, cancer_frame: pd.DataFrame, two_models: tuple[Any, Any]
) -> None:
    rows = features(cancer_frame).iloc[:5]
    model = two_models[0]
    with server.client() as http:
        one = http.post("/v1/models/cancer/predict", json=rows.iloc[0].to_dict())
        many = http.post("/v1/models/cancer/predict", json={"records": rows.to_dict("records")})
        reordered = rows[list(reversed(rows.columns))]
        columns = http.post(
            "/v1/models/cancer/predict",
            json={"columns": list(reordered.columns), "data": reordered.to_numpy().tolist()},
            headers={"X-Request-Id": "client-chosen-id"},
        )
    assert one.status_code == many.status_code == columns.status_code == 200
    body = one.json()
    assert set(body) == {
        "request_id",
        "model",
        "version",
        "variant",
        "prediction",
        "score",
        "warnings",
    }
    assert body["warnings"] is None
    assert (body["model"], body["version"], body["variant"]) == ("cancer", 1, "stable")
    assert body["prediction"] == int(model.predict(rows.iloc[:1])[0])
    assert math.isclose(body["score"], expected_scores(two_models, rows.iloc[:1])[0], rel_tol=1e-9)
    assert one.headers["x-request-id"] == body["request_id"]
    for answer in (many.json(), columns.json()):
        assert answer["predictions"] == model.predict(rows).tolist()
        np.testing.assert_allclose(answer["scores"], expected_scores(two_models, rows), rtol=1e-9)
        assert answer["row_ids"] == [f"{answer['request_id']}-{i}" for i in range(5)]
        assert answer["warnings"] is None and answer["rejected"] is None
    assert columns.json()["request_id"] == "client-chosen-id"


def test_a_model_that_needs_a_dataframe_is_served_from_records(server: Server) -> None:
    records = [
        {"age": 50, "income": 80.5, "plan": "pro"},
        {"age": 20, "income": 15.0, "plan": "basic"},
    ]
    with server.client() as http:
        answer = http.post("/v1/models/mixed/predict", json={"records": records})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 2
    assert all(0.0 <= s <= 1.0 for s in answer.json()["scores"])


def test_schema_errors_are_422_with_one_entry_per_problem(
    server: Server, cancer_frame: pd.DataFrame
) -> None:
    good = features(cancer_frame).iloc[0].to_dict()
    broken = dict(good)
    del broken["mean radius"]
    broken["mean texture"] = "seventeen"
    broken["mean area"] = 1e9  # never seen in training: flagged, not a problem of the request
    with server.client() as http:
        numbers = http.post("/v1/models/cancer/predict", json=broken)
        mixed = http.post(
            "/v1/models/mixed/predict",
            json={"records": [{"age": 41.5, "income": 20.0, "plan": "gold"}, {"income": None}]},
        )
        flagged = http.post("/v1/models/cancer/predict", json=good | {"mean area": 1e9})
        unseen = http.post(
            "/v1/models/mixed/predict", json={"age": 50, "income": 20.0, "plan": "gold"}
        )
    assert numbers.status_code == 422
    problems = {(p["field"], p["problem"]): p for p in numbers.json()["problems"]}
    assert set(problems) == {
        ("mean radius", "missing field"),
        ("mean texture", "wrong type string"),
    }
    assert problems[("mean texture", "wrong type string")]["value"] == "seventeen"
    assert numbers.json()["error"] == "signature_mismatch"
    assert mixed.status_code == 422
    found = {(p["field"], p["row"], p["problem"]) for p in mixed.json()["problems"]}
    assert found == {
        ("age", 0, "not an integer"),
        ("age", 1, "missing field"),
        ("income", 1, "missing value"),
        ("plan", 1, "missing field"),
    }
    assert flagged.status_code == 200, flagged.text
    (outside,) = flagged.json()["warnings"]
    area = cancer_frame["mean area"]
    assert (outside["field"], outside["code"], outside["value"]) == (
        "mean area",
        "out_of_range",
        1e9,
    )
    assert outside["expected"] == [float(area.min()), float(area.max())]
    # flagged values reach the model; one that cannot take them fails that request, saying why
    assert unseen.status_code == 500
    assert "Found unknown categories ['gold']" in unseen.json()["message"]
    (warning,) = unseen.json()["warnings"]
    assert (warning["field"], warning["code"], warning["value"]) == (
        "plan",
        "unseen_category",
        "gold",
    )
    assert warning["expected"] == ["basic", "pro", "team"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2, 3]",
        b'"text"',
        b'{"records": [1, 2]}',
        b'{"records": []}',
        b'{"columns": ["a"], "data": [[1, 2]]}',
        b'{"columns": "a", "data": []}',
        b'{"columns": ["mean radius"], "data": [[1.0]]}',
        b'{"records": [{"mean radius": {"nested": true}}]}',
        b'{"key": [1], "mean radius": 1}',
        b"",
    ],
)
def test_malformed_bodies_are_422_never_500(server: Server, body: bytes) -> None:
    with server.client() as http:
        answer = http.post("/v1/models/cancer/predict", content=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["problems"], answer.text


def test_unknown_model_is_404_and_management_schema_errors_are_422(server: Server) -> None:
    with server.client() as http:
        unknown = http.post("/v1/models/nothing-here/predict", json={"a": 1})
        schema = http.post("/v1/manage/models/cancer/rollback", json={"why": "no reason field"})
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    assert schema.status_code == 422
    assert [p["field"] for p in schema.json()["problems"]] == ["reason"]


def test_models_health_readiness_docs_and_metrics(
    server: Server, cancer_frame: pd.DataFrame
) -> None:
    record = features(cancer_frame).iloc[3].to_dict()
    with server.client() as http:
        for _ in range(3):
            assert http.post("/v1/models/cancer/predict", json=record).status_code == 200
        http.post("/v1/models/cancer/predict", json={"mean radius": "x"})
        models = http.get("/v1/models").json()["models"]
        one = http.get("/v1/models/cancer").json()
        health = http.get("/healthz")
        ready = http.get("/readyz")
        metrics = http.get("/metrics")
        openapi = http.get("/openapi.json")
        docs = http.get("/docs")
    names = [m["model"] for m in models]
    assert names == sorted(names) and {"cancer", "mixed", "swap"} <= set(names)
    assert one["stable"] == 1 and one["versions"][0]["version"] == 1
    features_listed = [f["name"] for f in one["versions"][0]["signature"]["inputs"]]
    assert features_listed == list(features(cancer_frame).columns)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert ready.status_code == 200 and ready.json()["models"]["cancer"]["stable"] == 1
    text = metrics.text
    assert metrics.headers["content-type"].startswith("text/plain")
    requests = _sample(text, "keel_requests_total", model="cancer", version="1", status="200")
    assert requests >= 3
    assert _sample(text, "keel_request_duration_seconds_count", model="cancer", version="1") >= 3
    assert _sample(text, "keel_request_errors_total", model="cancer", version="1") >= 1
    assert _sample(text, "keel_batch_rows_count", model="cancer", version="1") >= 1
    assert openapi.status_code == 200
    paths = openapi.json()["paths"]
    assert "/v1/models/{name}/predict" in paths and "/v1/manage/models/{name}/deploy" in paths
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def _sample(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        head, value = line.rsplit(" ", 1)
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


def logged_rows(server: Server, model: str) -> pa.Table:
    logs = ParquetLogStore(server.settings.artifacts)
    parts = logs.parts("predictions", model)
    if not parts:
        return pa.table({})
    return pa.concat_tables([logs.read(p) for p in parts], promote_options="permissive")


def test_every_answered_request_is_in_the_prediction_log(
    server: Server, cancer_frame: pd.DataFrame
) -> None:
    rows = features(cancer_frame)
    answered: list[str] = []
    with server.client() as http:
        for index in range(60):
            body = rows.iloc[index].to_dict() | {"key": f"customer-{index}"}
            answer = http.post("/v1/models/counted/predict", json=body)
            assert answer.status_code == 200
            answered.append(answer.json()["request_id"])
        batch = http.post(
            "/v1/models/counted/predict", json={"records": rows.iloc[:4].to_dict("records")}
        )
        answered.extend(batch.json()["row_ids"])
    # durable in the write-ahead log before each answer; in the Parquet log within a second
    server.wait(lambda: logged_rows(server, "counted").num_rows >= 64, what="the logged rows")
    table = logged_rows(server, "counted")
    assert table.num_rows == len(answered) == 64
    assert sorted(table.column("request_id").to_pylist()) == sorted(answered)
    first = table.filter(pc.equal(table.column("request_id"), answered[0])).to_pylist()[0]
    assert (first["version"], first["status"], first["variant"]) == (1, "ok", "stable")
    assert first["entity_key"] == "customer-0"
    assert first["mean radius"] == rows.iloc[0]["mean radius"]
    assert first["latency_ms"] > 0 and first["timestamp"].year >= 2024
    assert abs(time.time() - first["timestamp"].timestamp()) < 600
