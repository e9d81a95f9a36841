"""Once a token exists, predict needs a predict token and management a deploy token (401 without,
403 below the role), and changes are recorded under the token's name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pandas as pd
import pytest

from keel.client import Client
from keel.registry import tokens
from keel.settings import Settings
from tests.integration.serving.conftest import Server, assert_clean, start_server, stop_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def guarded(
    tmp_path_factory: pytest.TempPathFactory,
    cancer_frame: pd.DataFrame,
    two_models: tuple[Any, Any],
) -> Iterator[tuple[Server, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("access")
    settings = Settings(
        store_url=f"sqlite:///{folder / 'keel.db'}", artifacts=str(folder / "art"), actor="owner"
    )
    with Client(settings=settings) as client:
        for model in two_models:
            client.register_model("guarded", model, training_data=cancer_frame, target="target")
        client.set_alias("guarded", "champion", 1, reason="first")
        held = {r: tokens.create(client.db, "owner", r, f"{r}-bot")[0] for r in tokens.ROLES}
        revoked, record = tokens.create(client.db, "owner", "admin", "gone")
        tokens.revoke(client.db, "owner", record.prefix)
        held["revoked"] = revoked
    server = start_server(settings, folder, "--poll", "0.2")
    yield server, held
    assert_clean(stop_server(server))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_predict_needs_a_live_token(
    guarded: tuple[Server, dict[str, str]], cancer_frame: pd.DataFrame
) -> None:
    server, held = guarded
    record = cancer_frame.drop(columns=["target"]).iloc[0].to_dict()
    path = "/v1/models/guarded/predict"
    with server.client() as http:
        missing = http.post(path, json=record)
        wrong = http.post(path, json=record, headers=bearer("keel_00000000_not-a-token"))
        revoked = http.post(path, json=record, headers=bearer(held["revoked"]))
        basic = http.post(path, json=record, headers={"Authorization": "Basic abc"})
        allowed = http.post(path, json=record, headers=bearer(held["predict"]))
        listing = http.get("/v1/models")
        open_paths = [http.get(p).status_code for p in ("/healthz", "/readyz", "/metrics")]
    for refused in (missing, wrong, revoked, basic):
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"] == "unauthorized"
        assert refused.headers["www-authenticate"] == "Bearer"
    assert allowed.status_code == 200 and allowed.json()["version"] == 1
    assert listing.status_code == 401
    assert open_paths == [200, 200, 200]


def test_management_needs_the_deploy_role_and_records_the_token(
    guarded: tuple[Server, dict[str, str]], cancer_frame: pd.DataFrame
) -> None:
    server, held = guarded
    move = {"version": 2, "reason": "ci promotes version 2"}
    alias_path = "/v1/manage/models/guarded/aliases/champion"
    with server.client() as http:
        anonymous = http.put(alias_path, json=move)
        predictor = http.put(alias_path, json=move, headers=bearer(held["predict"]))
        rollback_by_predictor = http.post(
            "/v1/manage/models/guarded/rollback",
            json={"reason": "no"},
            headers=bearer(held["predict"]),
        )
        forced = http.put(alias_path, json=move | {"force": True}, headers=bearer(held["deploy"]))
        moved = http.put(alias_path, json=move, headers=bearer(held["deploy"]))
    assert anonymous.status_code == 401
    assert predictor.status_code == rollback_by_predictor.status_code == 403
    assert predictor.json()["held"] == "predict"
    assert forced.status_code == 403  # forcing past a policy needs admin
    assert moved.status_code == 200, moved.text
    assert moved.json()["version"]["version"] == 2
    with Client(settings=server.settings) as client:
        last = client.alias_history("guarded", "champion")[-1]
    assert (last.version, last.moved_by, last.reason) == (2, "deploy-bot", "ci promotes version 2")

    record = cancer_frame.drop(columns=["target"]).iloc[0].to_dict()

    def serves_two() -> bool:
        answer = httpx.post(
            f"{server.url}/v1/models/guarded/predict", json=record, headers=bearer(held["predict"])
        )
        return answer.status_code == 200 and answer.json()["version"] == 2

    server.wait(serves_two, what="version 2 to serve")
    with server.client(headers=bearer(held["deploy"])) as http:
        shadow = http.post(
            "/v1/manage/models/guarded/deploy",
            json={"version": 1, "strategy": "shadow", "reason": "compare the old one"},
        )
        listed = http.get("/v1/manage/models/guarded/deployments")
        rolled = http.post("/v1/manage/models/guarded/rollback", json={"reason": "enough"})
    assert shadow.status_code == 200, shadow.text
    assert (shadow.json()["strategy"], shadow.json()["status"]) == ("shadow", "running")
    assert shadow.json()["created_by"] == "deploy-bot"
    assert [d["id"] for d in listed.json()["deployments"]] == [shadow.json()["id"]]
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["action"] == "deployment_rolled_back"


def test_registering_over_http_takes_an_admin_token_and_a_trusted_skops_file(
    guarded: tuple[Server, dict[str, str]], two_models: tuple[Any, Any]
) -> None:
    import skops.io

    server, held = guarded
    path = "/v1/manage/models/uploaded/versions"
    upload = skops.io.dumps(two_models[1])
    query = {"reason": "trained in CI", "description": "C=0.001"}
    with server.client() as http:
        missing = http.post(path, params=query, content=upload)
        deploy = http.post(path, params=query, content=upload, headers=bearer(held["deploy"]))
        garbage = http.post(path, params=query, content=b"no zip", headers=bearer(held["admin"]))
        no_reason = http.post(path, content=upload, headers=bearer(held["admin"]))
        made = http.post(path, params=query, content=upload, headers=bearer(held["admin"]))
    assert (missing.status_code, deploy.status_code) == (401, 403)
    assert garbage.status_code == 422 and garbage.json()["field"] == "body"
    assert no_reason.status_code == 422
    assert made.status_code == 200, made.text
    version = made.json()
    assert (version["name"], version["version"], version["author"]) == ("uploaded", 1, "admin-bot")
    with Client(settings=server.settings) as client:
        loaded = client.load_model("uploaded/1")
    assert type(loaded.model).__name__ == "LogisticRegression"
