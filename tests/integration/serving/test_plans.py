"""Changing what serves: an alias move under load fails no request, an A/B split follows the
plan's sticky buckets, a shadow scores every request without ever answering one."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from keel.client import Client
from keel.domain.deployments import bucket
from keel.registry import deployments
from tests.integration.serving.conftest import Server, post_many
from tests.integration.serving.test_predict import logged_rows

pytestmark = pytest.mark.slow


def records(cancer_frame: pd.DataFrame) -> list[dict[str, Any]]:
    return cancer_frame.drop(columns=["target"]).to_dict("records")  # type: ignore[return-value]


def plan_of(server: Server, model: str) -> dict[str, Any]:
    with server.client() as http:
        return http.get(f"/v1/models/{model}").json()  # type: ignore[no-any-return]


def test_moving_the_champion_under_load_fails_no_request(
    server: Server, cancer_frame: pd.DataFrame
) -> None:
    rows = records(cancer_frame)
    total, threads = 1500, 8
    results: list[tuple[float, int, int | None]] = []  # (sent at, status, version)
    lock = threading.Lock()
    failures: list[BaseException] = []

    def traffic(offset: int) -> None:
        try:
            with server.client() as http:
                for index in range(offset, total, threads):
                    sent = time.monotonic()
                    answer = http.post("/v1/models/swap/predict", json=rows[index % len(rows)])
                    version = answer.json().get("version") if answer.status_code == 200 else None
                    with lock:
                        results.append((sent, answer.status_code, version))
        except BaseException as exc:  # a transport error is a failed request too
            failures.append(exc)

    workers = [threading.Thread(target=traffic, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    while len(results) < 300 and any(w.is_alive() for w in workers):
        time.sleep(0.01)
    with Client(settings=server.settings) as client:
        moved_at = time.monotonic()
        client.set_alias("swap", "champion", 2, reason="hot swap under load")
    for worker in workers:
        worker.join(60)
    assert not failures
    assert len(results) == total
    assert [status for _, status, _ in results if status != 200] == []
    before = [v for sent, _, v in results if sent < moved_at]
    assert before and set(before) == {1}
    switched = [sent for sent, _, v in sorted(results) if v == 2]
    assert switched, "no request was answered by the new champion"
    assert switched[0] - moved_at < 3.0
    late = [v for sent, _, v in results if sent > switched[0] + 1.0]
    assert set(late) <= {2}  # once switched, the old version does not come back


def test_an_ab_split_follows_sticky_buckets(server: Server, cancer_frame: pd.DataFrame) -> None:
    with Client(settings=server.settings) as client:
        started = deployments.start(
            client.db, "tester", "ab", 2, strategy="ab", steps=[30], sticky=True, reason="A/B"
        )
    server.wait(lambda: plan_of(server, "ab")["candidate"] == 2, what="the A/B plan")
    rows = records(cancer_frame)
    keys = [f"customer-{i}" for i in range(300)]
    keyed = post_many(
        server,
        "/v1/models/ab/predict",
        [rows[i % len(rows)] | {"key": key} for i, key in enumerate(keys)],
    )
    served = {key: answer.json()["version"] for key, answer in zip(keys, keyed, strict=True)}
    for answer in keyed:
        variant = "candidate" if answer.json()["version"] == 2 else "stable"
        assert answer.json()["variant"] == variant
    again = post_many(
        server,
        "/v1/models/ab/predict",
        [rows[0]] * 40,
        headers=[{"X-Entity-Key": key} for key in keys[:20] * 2],
    )
    assert [a.json()["version"] for a in again] == [served[key] for key in keys[:20] * 2]
    keyless = [
        a.json()["version"]
        for a in post_many(
            server, "/v1/models/ab/predict", [rows[i % len(rows)] for i in range(400)]
        )
    ]
    expected = {key: 2 if bucket(key, started.id) < 30.0 else 1 for key in keys}
    assert served == expected
    assert 0.22 <= sum(v == 2 for v in served.values()) / len(keys) <= 0.38
    assert 0.22 <= keyless.count(2) / len(keyless) <= 0.38
    sent = len(keys[:20]) * 2 + 400 + len(served)
    server.wait(lambda: logged_rows(server, "ab").num_rows >= sent, what="the logged rows")
    variants = logged_rows(server, "ab").to_pandas().groupby("version")["variant"].unique()
    assert list(variants[1]) == ["stable"] and list(variants[2]) == ["candidate"]


def test_a_shadow_scores_every_request_and_answers_none(
    server: Server, cancer_frame: pd.DataFrame, two_models: tuple[Any, Any]
) -> None:
    with Client(settings=server.settings) as client:
        deployments.start(client.db, "tester", "shadow", 2, strategy="shadow", reason="shadow")
    server.wait(lambda: plan_of(server, "shadow")["shadow"] == 2, what="the shadow plan")
    frame = cancer_frame.drop(columns=["target"]).iloc[:40]
    with server.client() as http:
        answers = [
            http.post("/v1/models/shadow/predict", json=row).json()
            for row in frame.to_dict("records")
        ]
        batch = http.post(
            "/v1/models/shadow/predict", json={"records": frame.iloc[:3].to_dict("records")}
        )
    assert {(a["version"], a["variant"]) for a in answers} == {(1, "stable")}
    assert batch.json()["version"] == 1
    ids = [a["request_id"] for a in answers] + batch.json()["row_ids"]

    def shadow_rows() -> pa.Table:
        table = logged_rows(server, "shadow")
        if table.num_rows == 0:
            return table
        return table.filter(pc.equal(table.column("variant"), "shadow"))

    server.wait(lambda: shadow_rows().num_rows == len(ids), what="the shadow's log rows")
    shadow = shadow_rows().to_pandas().set_index("request_id").loc[ids[:40]]
    assert set(shadow["version"]) == {2}
    np.testing.assert_allclose(
        shadow["score"].to_numpy(), two_models[1].predict_proba(frame)[:, 1], rtol=1e-9
    )
    stable = logged_rows(server, "shadow").to_pandas()
    assert set(stable.loc[stable["variant"] == "stable", "request_id"]) == set(ids)
