"""Every door of ``keel serve`` answers bad input with a 4xx and a JSON error body: values too
large for any JSON encoder are echoed as text, a caller without a token is refused before its
body is read, the OpenAPI document lists each route's errors and rules, and health and metrics
can be put behind the predict role. In process (``TestClient``), on a SQLite store."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():  # Starlette asks for httpx2 on import; httpx is what we have
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from keel.client import Client
from keel.registry import tokens
from keel.serving.app import create_app
from keel.settings import Settings
from keel.web.management import router

HUGE = "99999999999999999999999"  # beyond 64 bits


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory, cancer_frame: pd.DataFrame, fitted_model: Any
) -> Settings:
    folder = tmp_path_factory.mktemp("bad-input")
    settings = Settings(
        store_url=f"sqlite:///{folder / 'keel.db'}", artifacts=str(folder / "art"), actor="owner"
    )
    with Client(settings=settings) as client:
        for _ in range(2):
            client.register_model(
                "cancer", fitted_model, training_data=cancer_frame, target="target"
            )
        client.set_alias("cancer", "champion", 1, reason="first")
    return settings


def app_for(settings: Settings, **options: Any) -> FastAPI:
    app = create_app(settings, log_predictions=False, poll_s=0.05, token_ttl_s=0.0, **options)
    app.include_router(router)
    return app


def serving(app: FastAPI, token: str | None = None) -> Iterator[TestClient]:
    """The app, once its champion is loaded (``token``: a predict token, once tokens exist)."""
    headers = bearer(token) if token else {}
    with TestClient(app, raise_server_exceptions=False) as http:
        deadline = time.monotonic() + 30
        while not http.get("/v1/models", headers=headers).json().get("models"):
            assert time.monotonic() < deadline, "the app did not load the champion"
            time.sleep(0.05)
        yield http


@pytest.fixture(scope="module")
def http(store: Settings) -> Iterator[TestClient]:
    yield from serving(app_for(store))


def post(http: TestClient, path: str, body: bytes, **headers: str) -> Any:
    return http.post(path, content=body, headers={"content-type": "application/json", **headers})


ECHOED = [
    ("/v1/manage/models/cancer/rollback", b'{"reason": %s}' % HUGE.encode(), HUGE),
    ("/v1/manage/models/cancer/rollback", b'{"reason": [-%s]}' % HUGE.encode(), ["-" + HUGE]),
    ("/v1/manage/models/cancer/deploy", b'{"version": %s, "strategy": "x"}' % HUGE.encode(), HUGE),
    (
        "/v1/manage/models/cancer/aliases/champion",
        b'{"version": 1, "reason": "r", "force": 1e400}',
        "inf",
    ),
    (
        "/v1/manage/models/cancer/deploy",
        b'{"version": 2, "strategy": "canary", "steps": [NaN]}',
        "nan",
    ),
]


@pytest.mark.parametrize(("path", "body", "echoed"), ECHOED)
def test_a_rejected_value_is_echoed_as_text_when_it_cannot_be_a_json_number(
    http: TestClient, path: str, body: bytes, echoed: Any
) -> None:
    method = http.put if "aliases" in path else http.post
    answer = method(path, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 422, answer.text
    problems = answer.json()["problems"]
    assert echoed in [p["value"] for p in problems], problems


def test_text_that_is_not_unicode_is_refused_and_echoed_escaped(http: TestClient) -> None:
    for path in ("/v1/manage/models/cancer/rollback", "/v1/manage/models/-bad/rollback"):
        answer = post(http, path, b'{"reason": "why \\ud800"}')
        assert answer.status_code == 422, answer.text
        problem = next(p for p in answer.json()["problems"] if p["field"] == "reason")
        assert problem["value"] == "why \\ud800"  # pydantic refuses it; the echo escapes it


def test_deep_long_and_undecodable_bodies_get_a_4xx_with_a_short_json_error(
    http: TestClient,
) -> None:
    path = "/v1/manage/models/cancer/rollback"
    nested = post(http, path, b'{"reason": ' + b"[" * 300 + b"]" * 300 + b"}")
    assert nested.status_code == 422 and "..." in str(nested.json()["problems"][0]["value"])
    deeper = post(http, path, b"[" * 5000 + b"]" * 5000)
    assert deeper.status_code == 400 and deeper.json()["error"] == "bad_request"
    long = post(http, path, b'{"reason": "' + b"x" * 100_000 + b'"}')
    assert long.status_code == 422 and len(long.content) < 2_000
    for body in (b"\xff\xfe{", b"", b"{", b"null", b'"text"', b"[1, 2]"):
        answer = post(http, path, body)
        assert answer.status_code in (400, 422), body
        assert answer.json()["error"] in ("bad_request", "invalid_input"), body
    unknown = http.get("/v1/nowhere")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    wrong_method = http.delete("/v1/models")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "method_not_allowed"


@pytest.fixture(scope="module")
def guarded(
    store: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A copy of the store with a token of each role, so every protected route needs one."""
    import shutil

    folder = tmp_path_factory.mktemp("guarded")
    source = Path(store.store_url.removeprefix("sqlite:///"))
    shutil.copy(source, folder / "keel.db")
    settings = store.model_copy(update={"store_url": f"sqlite:///{folder / 'keel.db'}"})
    with Client(settings=settings) as client:
        held = {r: tokens.create(client.db, "owner", r, f"{r}-bot")[0] for r in tokens.ROLES}
    for answer in serving(app_for(settings, private_metrics=True), held["predict"]):
        yield answer, held


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


MALFORMED = [b"{", b"\xff", b'{"version": "x", "reason": 1}', b"[" * 3000 + b"]" * 3000]
PROTECTED = [
    ("POST", "/v1/manage/models/cancer/deploy", "deploy"),
    ("POST", "/v1/manage/models/cancer/rollback", "deploy"),
    ("PUT", "/v1/manage/models/cancer/aliases/champion", "deploy"),
    ("POST", "/v1/manage/models/cancer/versions", "admin"),
    ("POST", "/v1/models/cancer/predict", "predict"),
]


@pytest.mark.parametrize(("method", "path", "role"), PROTECTED)
def test_a_caller_without_a_token_is_refused_before_the_body_is_read(
    guarded: tuple[TestClient, dict[str, str]], method: str, path: str, role: str
) -> None:
    http, held = guarded
    lower = {"deploy": "predict", "admin": "deploy", "predict": None}[role]
    for body in MALFORMED:
        headers = {"content-type": "application/json"}
        anonymous = http.request(method, path, content=body, headers=headers)
        assert anonymous.status_code == 401, (body[:20], anonymous.text)
        assert anonymous.headers["www-authenticate"] == "Bearer"
        unknown = http.request(
            method, path, content=body, headers={**headers, **bearer("keel_0000_nope")}
        )
        assert unknown.status_code == 401, unknown.text
        if lower is not None:
            too_low = http.request(
                method, path, content=body, headers={**headers, **bearer(held[lower])}
            )
            assert too_low.status_code == 403, too_low.text
    allowed = http.request(method, path, content=b"{", headers=bearer(held["admin"]))
    assert allowed.status_code in (400, 422), allowed.text


def test_private_metrics_put_health_readiness_and_metrics_behind_the_predict_role(
    guarded: tuple[TestClient, dict[str, str]], http: TestClient
) -> None:
    private, held = guarded
    for path in ("/healthz", "/readyz", "/metrics"):
        assert private.get(path).status_code == 401
        assert private.get(path, headers=bearer(held["predict"])).status_code == 200
        assert http.get(path).status_code == 200  # open by default
    assert "cancer" not in private.get("/readyz").text


STATUSES = {
    ("post", "/v1/models/{name}/predict"): {401, 403, 404, 413, 422, 500, 503},
    ("get", "/v1/models"): {401, 403},
    ("get", "/v1/models/{name}"): {401, 403, 404, 422},
    ("post", "/v1/manage/models/{name}/deploy"): {400, 401, 403, 404, 409, 422, 503},
    ("post", "/v1/manage/models/{name}/rollback"): {400, 401, 403, 404, 409, 422, 503},
    ("put", "/v1/manage/models/{name}/aliases/{alias}"): {400, 401, 403, 404, 409, 422, 503},
    ("get", "/v1/manage/models/{name}/deployments"): {401, 403, 404, 422, 503},
    ("post", "/v1/manage/models/{name}/versions"): {401, 403, 404, 409, 422, 503},
    ("get", "/readyz"): {503},
}


def test_openapi_lists_each_routes_errors_with_the_error_body_and_the_name_rules(
    http: TestClient, guarded: tuple[TestClient, dict[str, str]]
) -> None:
    from keel.domain.names import ALIAS_PATTERN, NAME_PATTERN

    document = http.get("/openapi.json").json()
    paths = document["paths"]
    listed = {(m, p) for p, ops in paths.items() for m in ops}
    assert set(STATUSES) <= listed
    for (method, path), statuses in STATUSES.items():
        responses = paths[path][method]["responses"]
        errors = {int(code) for code in responses if int(code) >= 400}
        assert errors == statuses, (method, path, errors)
        for code in errors:
            schema = responses[str(code)]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, code)
        for parameter in paths[path][method].get("parameters", []):
            if parameter["name"] == "name":
                assert parameter["schema"]["pattern"] == NAME_PATTERN
            if parameter["name"] == "alias":
                assert parameter["schema"]["pattern"] == ALIAS_PATTERN
    body = document["components"]["schemas"]["ErrorBody"]
    assert {"error", "message"} <= set(body["required"])
    deploy = document["components"]["schemas"]["DeployRequest"]["properties"]
    assert deploy["strategy"]["enum"] == ["replace", "canary", "ab", "shadow"]
    assert deploy["version"]["maximum"] == 2**31 - 1
    private_paths = guarded[0].get("/openapi.json").json()["paths"]
    for path in ("/healthz", "/readyz", "/metrics"):
        assert {"401", "403"} <= set(private_paths[path]["get"]["responses"])
        assert "401" not in paths[path]["get"]["responses"]


def test_names_that_break_the_rules_are_refused_by_the_schema(http: TestClient) -> None:
    bad_name = post(http, "/v1/manage/models/-bad/rollback", b'{"reason": "r"}')
    assert bad_name.status_code == 422 and bad_name.json()["problems"][0]["field"] == "name"
    bad_alias = http.put("/v1/manage/models/cancer/aliases/1st", json={"version": 1, "reason": "r"})
    assert bad_alias.status_code == 422 and bad_alias.json()["problems"][0]["field"] == "alias"
    strategy = post(
        http,
        "/v1/manage/models/cancer/deploy",
        b'{"version": 2, "strategy": "yolo", "reason": "r"}',
    )
    assert strategy.status_code == 422 and strategy.json()["problems"][0]["field"] == "strategy"
