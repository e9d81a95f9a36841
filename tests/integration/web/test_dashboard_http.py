"""The dashboard app over HTTP, in process (``TestClient``): every page, the error pages, the
assets shipped in the package (no CDN), the token-guarded actions, and the app as ``keel ui``
and ``keel serve`` mount it under ``/ui``."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():  # Starlette asks for httpx2 on import; httpx is what we have
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from keel.registry import tokens
from keel.web.dashboard import create_dashboard
from tests.integration.web.dashboard_store import Built

TIMING = re.compile(r"^app;dur=\d+(\.\d+)?$")
LINK = re.compile(r"""\b(?:src|href|action)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


def dashboard(found: Built) -> FastAPI:
    return create_dashboard(found.settings, client=found.client, token_ttl_s=0.0)


@pytest.fixture(scope="module")
def http(store_for_actions: Built) -> Iterator[TestClient]:
    with TestClient(dashboard(store_for_actions)) as answering:
        yield answering


def pages(found: Built) -> list[str]:
    evaluation = found.client.list_evaluations("risk", 3)[0].id
    windows = found.window_ids
    return [
        "/",
        "/models/risk",
        "/models/fraud",
        "/models/bare",
        "/models/risk/versions/1",
        "/models/risk/versions/2",
        "/models/risk/versions/3",
        "/models/fraud/versions/3",
        f"/models/risk/windows/{windows[0]}",
        f"/models/risk/windows/{windows[-1]}",
        f"/evaluations/{evaluation}",
        "/audit",
        "/audit?model=risk&action=gate&actor=builder",
        "/audit?since=2026-01-01&until=2099-01-01T00:00",
        "/audit?before=5",
    ]


def html_ok(answer: httpx.Response) -> str:
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["content-type"].startswith("text/html")
    assert TIMING.match(answer.headers["server-timing"]), answer.headers["server-timing"]
    return answer.text


def test_every_page_answers_html_with_its_server_time(
    http: TestClient, store_for_actions: Built
) -> None:
    for path in pages(store_for_actions):
        text = html_ok(http.get(path))
        assert text.lstrip().lower().startswith("<!doctype html>"), path
        assert "Traceback" not in text


def test_the_pages_show_the_store(http: TestClient, store_for_actions: Built) -> None:
    models = html_ok(http.get("/"))
    for name in ("risk", "fraud", "bare"):
        assert f'data-model="{name}"' in models
    risk = html_ok(http.get("/models/risk"))
    alert = store_for_actions.alerts["critical"]
    assert f'data-alert="{alert}"' in risk
    assert "launch" in risk  # the champion period's reason
    assert "majority baseline" in risk  # a column of the windows, a line on the accuracy chart
    window = html_ok(http.get(f"/models/risk/windows/{store_for_actions.window_ids[-1]}"))
    assert 'data-feature="x1"' in window
    audit = html_ok(http.get("/audit?actor=alice"))
    assert "deployment.rollback" in audit and "errors went up" in audit


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/models/nobody", "nobody"),
        ("/models/risk/versions/9", "risk/9"),
        ("/models/risk/windows/999", "risk#999"),
        ("/models/fraud/windows/1", "fraud#1"),  # a window of another model
        ("/evaluations/999", "999"),
    ],
)
def test_what_does_not_exist_answers_an_html_404_naming_it(
    http: TestClient, path: str, named: str
) -> None:
    answer = http.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "server-timing" in answer.headers
    assert "404: not found" in answer.text and named in answer.text
    assert "Traceback" not in answer.text


def test_a_bad_time_on_the_audit_page_answers_an_html_422(http: TestClient) -> None:
    answer = http.get("/audit", params={"since": "last tuesday"})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "since" in answer.text and "last tuesday" in answer.text
    later = http.get("/audit", params={"since": "2026-02-01", "until": "2026-01-01"})
    assert later.status_code == 422 and "must not be after until" in later.text


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/static/dashboard.js", "javascript"),
        ("/static/dashboard.css", "text/css"),
        ("/charts/uPlot.iife.min.js", "javascript"),
        ("/charts/uPlot.min.css", "text/css"),
    ],
)
def test_the_assets_are_served_from_the_package(http: TestClient, path: str, kind: str) -> None:
    answer = http.get(path)
    assert answer.status_code == 200 and len(answer.content) > 500
    assert kind in answer.headers["content-type"]


def test_no_page_loads_anything_from_another_host(
    http: TestClient, store_for_actions: Built
) -> None:
    local: set[str] = set()
    for path in pages(store_for_actions):
        links = LINK.findall(http.get(path).text)
        assert links or path.startswith("/evaluations/"), path  # the report stands alone
        outside = [u for u in links if re.match(r"^(https?:)?//", u, re.IGNORECASE)]
        assert outside == [], path
        local.update(u.split("#")[0] for u in links if u.startswith("/"))
    assert {"/static/dashboard.js", "/charts/uPlot.iife.min.js"} <= local
    for link in sorted(local):  # and every link within the app leads somewhere
        answer = http.get(link)
        assert answer.status_code == 200, link


# -- actions ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def held(store_for_actions: Built, http: TestClient) -> dict[str, str]:
    """Tokens by role (created after the page tests, which need none); the app now asks for
    them on every action."""
    return {
        role: tokens.create(store_for_actions.client.db, "owner", role, f"{role}-bot")[0]
        for role in tokens.ROLES
    }


def post(http: TestClient, path: str, body: dict[str, Any], token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http.post(f"/api{path}", json=body, headers=headers)


def champion(found: Built, model: str) -> int:
    return found.client.get_version(f"models:/{model}@champion").version


def test_actions_need_a_deploy_token(
    http: TestClient, held: dict[str, str], store_for_actions: Built
) -> None:
    body = {"version": 3, "reason": "the canary looks fine"}
    nobody = post(http, "/models/risk/promote", body, None)
    assert nobody.status_code == 401 and nobody.json()["error"] == "unauthorized"
    assert nobody.headers["www-authenticate"] == "Bearer"
    unknown = post(http, "/models/risk/promote", body, "not-a-token")
    assert unknown.status_code == 401
    for path in ("/models/risk/rollback", "/models/risk/retrain", "/alerts/1/acknowledge"):
        refused = post(http, path, {"reason": "x"}, held["predict"])
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden", path
    forced = post(http, "/models/risk/promote", {**body, "force": True}, held["deploy"])
    assert forced.status_code == 403 and forced.json()["held"] == "deploy"
    assert champion(store_for_actions, "risk") == 1  # nothing moved


def test_actions_name_what_is_wrong_with_a_request(http: TestClient, held: dict[str, str]) -> None:
    missing = post(http, "/models/risk/promote", {"version": 3}, held["deploy"])
    assert missing.status_code == 422
    assert [p["field"] for p in missing.json()["problems"]] == ["reason"]
    empty = post(http, "/models/risk/rollback", {"reason": ""}, held["deploy"])
    assert empty.status_code == 422 and empty.json()["problems"][0]["field"] == "reason"
    for path, body in [
        ("/models/nobody/promote", {"version": 1, "reason": "x"}),
        ("/models/nobody/rollback", {"reason": "x"}),
        ("/models/nobody/retrain", {"reason": "x"}),
        ("/alerts/999/acknowledge", {"reason": "x"}),
    ]:
        answer = post(http, path, body, held["deploy"])
        assert answer.status_code == 404, (path, answer.text)
        assert answer.json()["error"] == "not_found"


def test_promote_then_roll_back_with_a_deploy_token(
    http: TestClient, held: dict[str, str], store_for_actions: Built
) -> None:
    client = store_for_actions.client
    done = post(
        http, "/models/risk/promote", {"version": 3, "reason": "canary held"}, held["deploy"]
    )
    assert done.status_code == 200, done.text
    assert done.json()["action"] == "deployment_promoted"
    assert done.json()["deployment"]["status"] == "promoted"
    assert champion(store_for_actions, "risk") == 3
    moved = client.audit_log(subject="model:risk/3", action="deployment.promote")
    assert [(e.actor, e.details["reason"]) for e in moved] == [("deploy-bot", "canary held")]

    back = post(http, "/models/risk/rollback", {"reason": "too slow"}, held["deploy"])
    assert back.status_code == 200, back.text
    assert (back.json()["action"], back.json()["champion"]) == ("champion_restored", 1)
    assert champion(store_for_actions, "risk") == 1
    last = client.alias_history("risk", "champion")[-1]
    assert (last.version, last.moved_by, last.reason) == (1, "deploy-bot", "rollback: too slow")


def test_a_rejected_version_is_promoted_only_by_force_with_an_admin_token(
    http: TestClient, held: dict[str, str], store_for_actions: Built
) -> None:
    body = {"version": 2, "reason": "we know better"}
    refused = post(http, "/models/risk/promote", body, held["deploy"])
    assert refused.status_code in (409, 422), refused.text
    assert champion(store_for_actions, "risk") == 1
    forced = post(http, "/models/risk/promote", {**body, "force": True}, held["admin"])
    assert forced.status_code == 200, forced.text
    assert forced.json()["action"] == "champion_replaced"
    assert champion(store_for_actions, "risk") == 2
    entry = store_for_actions.client.audit_log(subject="model:risk", action="alias.set", limit=1)[0]
    assert entry.actor == "admin-bot"


def test_an_admin_may_force_the_running_candidate_through(
    http: TestClient, held: dict[str, str], store_for_actions: Built
) -> None:
    client = store_for_actions.client
    client.deploy("fraud", 3, strategy="canary", steps=[10, 100], reason="second try")
    body = {"version": 3, "reason": "ship it now", "force": True}
    forced = post(http, "/models/fraud/promote", body, held["admin"])
    assert forced.status_code == 200, forced.text
    assert forced.json()["action"] == "deployment_promoted"
    assert champion(store_for_actions, "fraud") == 3
    assert client.deployments("fraud", limit=1)[0].status == "promoted"


def test_a_retrain_is_queued_and_an_alert_acknowledged(
    http: TestClient, held: dict[str, str], store_for_actions: Built
) -> None:
    client = store_for_actions.client
    before = len(client.retrains("fraud"))
    queued = post(http, "/models/fraud/retrain", {"reason": "new data"}, held["deploy"])
    assert queued.status_code == 200, queued.text
    retrains = client.retrains("fraud")
    assert len(retrains) == before + 1
    newest = retrains[0]
    assert (newest.state, newest.requested_by) == ("queued", "deploy-bot")
    assert "new data" in newest.reason
    assert queued.json()["retrain"]["id"] == newest.id

    alert = store_for_actions.alerts["critical"]
    acked = post(http, f"/alerts/{alert}/acknowledge", {"reason": "on it"}, held["deploy"])
    assert acked.status_code == 200, acked.text
    state = {a.id: a for a in client.list_alerts("risk")}[alert]
    assert (state.state, state.acknowledged_by) == ("acknowledged", "deploy-bot")
    reader = {"Authorization": f"Bearer {held['predict']}"}
    page = http.get("/models/risk", headers=reader).text
    assert "acknowledged by deploy-bot" in page


# -- mounted under /ui ----------------------------------------------------------------------------


def test_keel_ui_mounts_the_dashboard_under_ui(
    store_for_actions: Built, held: dict[str, str]
) -> None:
    from starlette.routing import Mount

    from keel.cli.ui import dashboard_app

    app = dashboard_app(store_for_actions.settings)
    mounted = next(r.app for r in app.routes if isinstance(r, Mount) and r.path == "/ui")
    try:
        reader = {"Authorization": f"Bearer {held['predict']}"}  # tokens exist by now
        with TestClient(app, headers=reader) as browser:
            home = browser.get("/", follow_redirects=False)
            assert home.status_code in (302, 307) and home.headers["location"] == "/ui/"
            text = html_ok(browser.get("/ui/"))
            assert 'href="/ui/models/risk"' in text and 'src="/ui/static/dashboard.js"' in text
            html_ok(browser.get("/ui/models/risk"))
            assert browser.get("/ui/static/dashboard.js").status_code == 200
            assert browser.get("/ui/charts/uPlot.iife.min.js").status_code == 200
            assert browser.get("/ui/models/nobody").status_code == 404
    finally:
        mounted.state.dashboard.close()


@pytest.mark.parametrize(
    "small_store", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_the_pages_render_on_postgresql_too(small_store: Built) -> None:
    with TestClient(dashboard(small_store)) as answering:
        for path in pages(small_store):
            html_ok(answering.get(path))


@pytest.mark.parametrize("path", ["/models/risk/versions/abc", "/audit?before=soon"])
def test_a_malformed_page_url_answers_an_html_page_naming_the_field(
    http: TestClient, held: dict[str, str], path: str
) -> None:
    answer = http.get(path, headers={"Authorization": f"Bearer {held['predict']}"})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "valid integer" in answer.text and "Traceback" not in answer.text


# -- signing in ---------------------------------------------------------------------------------


def test_once_tokens_exist_a_page_needs_one_to_be_read(
    http: TestClient, held: dict[str, str]
) -> None:
    http.cookies.clear()
    for path in ["/", "/models/risk", "/audit"]:
        answer = http.get(path)
        assert answer.status_code == 401, path
        assert (
            "Sign in with an API token" in answer.text
            and "risk" not in answer.text.split("<main>")[1].split("</main>")[0]
        )
    wrong = http.get("/", headers={"Authorization": "Bearer keel_nothing_here"})
    assert wrong.status_code == 401
    assert http.get("/static/dashboard.js").status_code == 200  # assets stay public


def test_signing_in_keeps_the_token_in_an_httponly_cookie(
    http: TestClient, held: dict[str, str], store_for_actions: Built
) -> None:
    http.cookies.clear()
    refused = http.post("/api/session", json={"token": "keel_not_a_token"})
    assert refused.status_code == 401 and "keel_token" not in refused.headers.get("set-cookie", "")
    signed = http.post("/api/session", json={"token": held["predict"]})
    assert signed.status_code == 200 and signed.json() == {"name": "predict-bot", "role": "predict"}
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Path=/" in cookie
    page = http.get("/models/risk")
    assert page.status_code == 200 and "signed in as" in page.text and "predict-bot" in page.text
    assert held["predict"] not in page.text  # the page never shows the token itself
    acting = http.post("/api/models/risk/rollback", json={"reason": "a reader tries"})
    assert acting.status_code == 403  # the cookie is a reader's
    http.post("/api/session", json={"token": held["deploy"]})
    alert = store_for_actions.alerts["warning"]
    acked = http.post(f"/api/alerts/{alert}/acknowledge", json={"reason": "signed in, by cookie"})
    assert acked.status_code == 200, acked.text
    assert acked.json()["alert"]["acknowledged_by"] == "deploy-bot"
    http.post("/api/session/end")
    assert http.get("/models/risk").status_code == 401
