"""A real ``keel serve`` under each model's input policy: a value never seen in training is
answered with a warning and logged (flag, the default), a rejected row is logged and left out
while the rest of its batch is answered (reject), a model that raises fails only its own request,
and ``keel monitor run`` counts flagged and rejected rows per feature."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from keel.cli.app import main
from keel.client import Client
from keel.settings import Settings
from keel.store.prediction_log import ParquetLogStore
from tests.integration.serving.conftest import (
    Server,
    assert_clean,
    mixed_frame,
    post_many,
    start_server,
    stop_server,
)
from tests.integration.serving.test_predict import logged_rows

pytestmark = pytest.mark.slow

REJECT = {"out_of_range": "reject", "unseen_category": "reject"}
GOOD = {"age": 40, "income": 50.0, "plan": "pro"}


def pipeline(frame: pd.DataFrame, *, unknown: str) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prepare = ColumnTransformer(
        [
            ("numbers", StandardScaler(), ["age", "income"]),
            ("plan", OneHotEncoder(handle_unknown=unknown), ["plan"]),
        ]
    )
    model = Pipeline([("prepare", prepare), ("classify", LogisticRegression(max_iter=1000))])
    return model.fit(frame.drop(columns=["target"]), frame["target"])


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return mixed_frame(400)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, frame: pd.DataFrame) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("served-inputs")
    settings = Settings(
        store_url=f"sqlite:///{folder / 'keel.db'}",
        artifacts=str(folder / "artifacts"),
        actor="tester",
    )
    lenient = pipeline(frame, unknown="ignore")
    with Client(settings=settings) as client:
        snapshot = client.register_snapshot(frame, "customers")
        for name, model in (
            ("lenient", lenient),
            ("strict", lenient),
            ("watched", lenient),
            ("fragile", pipeline(frame, unknown="error")),
        ):
            client.register_model(name, model, training_data=snapshot, target="target")
            client.set_alias(name, "champion", 1, reason="first release")
        client.set_policy("strict", {"inputs": REJECT})
        client.set_policy(
            "watched",
            {
                "inputs": {"out_of_range": "reject", "unseen_category": "flag"},
                "monitoring": {"window": {"rows": 20}},
            },
        )
    running = start_server(settings, folder, "--poll", "0.2")
    yield running
    assert_clean(stop_server(running))


def rows_of(server: Server, model: str, count: int) -> pd.DataFrame:
    server.wait(lambda: logged_rows(server, model).num_rows >= count, what=f"{model}'s log")
    table: pa.Table = logged_rows(server, model)
    return table.to_pandas().set_index("request_id")


def test_an_out_of_range_row_is_answered_with_a_warning_and_logged(
    server: Server, frame: pd.DataFrame
) -> None:
    with server.client() as http:
        answer = http.post(
            "/v1/models/lenient/predict",
            json={"age": "95", "income": "50.5", "plan": "pro"},  # numbers sent as text
            headers={"X-Request-Id": "old-customer"},
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["prediction"] in (0, 1) and 0.0 <= body["score"] <= 1.0
    (warning,) = body["warnings"]
    assert (warning["field"], warning["code"], warning["value"]) == ("age", "out_of_range", "95")
    assert warning["expected"] == [float(frame["age"].min()), float(frame["age"].max())]
    row = rows_of(server, "lenient", 1).loc["old-customer"]
    assert (row["status"], row["age"], row["income"]) == ("ok", 95, 50.5)
    assert json.loads(row["warnings"]) == [{"field": "age", "code": "out_of_range"}]


def test_a_rejected_row_leaves_the_rest_of_its_batch_answered(server: Server) -> None:
    records = [GOOD, GOOD | {"age": 95}, GOOD | {"plan": "gold"}, GOOD | {"age": 20}]
    with server.client() as http:
        strict = http.post(
            "/v1/models/strict/predict",
            json={"records": records},
            headers={"X-Request-Id": "batch"},
        )
        lenient = http.post("/v1/models/lenient/predict", json={"records": records})
        single = http.post(
            "/v1/models/strict/predict",
            json=GOOD | {"age": 95},
            headers={"X-Request-Id": "single"},
        )
    assert strict.status_code == 200, strict.text
    body, same_model = strict.json(), lenient.json()
    assert body["predictions"][1] is None and body["predictions"][2] is None
    assert body["scores"][1] is None and body["scores"][2] is None
    for kept in (0, 3):
        assert body["predictions"][kept] == same_model["predictions"][kept]
    assert body["rejected"][0] is None and body["rejected"][3] is None
    assert [e["code"] for e in body["rejected"][1]] == ["out_of_range"]
    assert [(e["field"], e["value"]) for e in body["rejected"][2]] == [("plan", "gold")]
    assert body["warnings"] is None
    assert single.status_code == 422
    assert single.json()["error"] == "signature_mismatch"
    assert [(p["field"], p["code"]) for p in single.json()["problems"]] == [("age", "out_of_range")]

    logged = rows_of(server, "strict", 5)
    assert dict(logged["status"]) == {
        "batch-0": "ok",
        "batch-1": "rejected",
        "batch-2": "rejected",
        "batch-3": "ok",
        "single": "rejected",
    }
    assert logged.loc["batch-1", "error"].startswith("rejected: age: outside the training range")
    assert logged.loc["batch-2", "error"].startswith("rejected: plan: unseen category")
    assert logged.loc[["batch-1", "batch-2", "single"], "prediction"].isna().all()
    assert logged.loc["single", "age"] == 95  # the value is there for drift and data quality
    with server.client() as http:
        metrics = http.get("/metrics").text
    rejected = (
        'keel_input_values_total{action="rejected",check="out_of_range",field="age",'
        'model="strict",version="1"}'
    )
    assert f"{rejected} 2.0" in metrics  # batch-1 and single; a scraper sees it at once


def test_a_model_that_raises_fails_only_its_own_request(server: Server) -> None:
    bodies = [GOOD | {"age": 20 + i} for i in range(15)]
    bodies[7] = GOOD | {"plan": "gold"}  # flagged; this pipeline cannot take it
    ids = [{"X-Request-Id": f"r{i}"} for i in range(len(bodies))]
    answers = post_many(server, "/v1/models/fragile/predict", bodies, ids, concurrency=8)
    assert [a.status_code for a in answers] == [200] * 7 + [500] + [200] * 7
    failed = answers[7].json()
    assert failed["error"] == "model_error"
    assert "Found unknown categories ['gold']" in failed["message"]
    logged = rows_of(server, "fragile", 15)
    assert logged.loc["r7", "status"] == "error"
    assert "unknown categories" in logged.loc["r7", "error"]
    assert json.loads(logged.loc["r7", "warnings"]) == [
        {"field": "plan", "code": "unseen_category"}
    ]
    others = logged.drop(index="r7")
    assert set(others["status"]) == {"ok"} and others["prediction"].notna().all()


def test_every_part_of_the_log_has_the_same_types_for_keels_columns(server: Server) -> None:
    """A part whose rows have no warnings or errors still types those columns as text, so
    readers that take the schema from the first part (DuckDB) read every part."""
    with server.client() as http:
        assert http.post("/v1/models/lenient/predict", json=GOOD).status_code == 200
    rows_of(server, "lenient", 1)
    logs = ParquetLogStore(server.settings.artifacts)
    for part in logs.parts("predictions", "lenient"):
        schema = logs.read(part).schema
        assert str(schema.field("warnings").type) == "string", part.name
        assert str(schema.field("error").type) == "string", part.name


def test_keel_monitor_run_counts_flagged_and_rejected_rows_per_feature(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    bodies = [GOOD | {"age": 20 + i} for i in range(20)]
    for index in (2, 5, 11):
        bodies[index] = GOOD | {"age": 120 + index}  # rejected
    for index in (4, 9):
        bodies[index] = GOOD | {"plan": "enterprise"}  # flagged, answered
    answers = post_many(server, "/v1/models/watched/predict", bodies, concurrency=4)
    assert [a.status_code for a in answers].count(422) == 3
    rows_of(server, "watched", 20)
    settings = server.settings
    store = ["--store", settings.store_url, "--artifacts", settings.artifacts]
    assert main([*store, "monitor", "run", "watched", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    (window,) = run["windows"]
    assert (window["rows"], window["rejected_rows"], window["flagged_rows"]) == (20, 3, 2)
    issues = {(i["column"], i["code"]): (i["rows"], i["rejected"]) for i in window["input_issues"]}
    assert issues == {("age", "out_of_range"): (3, 3), ("plan", "unseen_category"): (2, 0)}

    assert main([*store, "monitor", "windows", "watched", "--json"]) == 0
    (stored,) = json.loads(capsys.readouterr().out)
    quality = stored["quality"]
    assert (quality["rejected_rows"], quality["flagged_rows"], quality["error_rows"]) == (3, 2, 0)
    assert stored["drift"]["rows"] == 20  # rejected rows are part of the inputs' drift
    assert stored["operations"]["rejected"] == 3 and stored["operations"]["errors"] == 0


def test_the_policy_reaches_a_running_server(server: Server, tmp_path: Path) -> None:
    settings = server.settings
    with server.client() as http:
        before = http.post("/v1/models/lenient/predict", json=GOOD | {"age": 99})
        assert before.status_code == 200 and before.json()["warnings"]
        with Client(settings=settings) as client:
            client.set_policy("lenient", {"inputs": {"out_of_range": "reject"}})
        try:
            server.wait(
                lambda: (
                    http.post("/v1/models/lenient/predict", json=GOOD | {"age": 99}).status_code
                    == 422
                ),
                what="the new input policy",
            )
        finally:
            with Client(settings=settings) as client:
                client.set_policy("lenient", {})
