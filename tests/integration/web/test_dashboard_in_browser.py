"""The dashboard as an on-call engineer uses it: a real ``keel serve`` on 127.0.0.1 (the
dashboard mounted under ``/ui``) over the store the closed-loop demo filled, driven by Debian's
Chromium. Every page renders without console errors and loads nothing from elsewhere, the charts
have one point per monitoring window, a promotion and a rollback done on the page change the
registry and reach the audit trail, and an action without the right token is refused.
Screenshots of every page go to ``test-artifacts/``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from keel.client import Client
from keel.registry import tokens
from keel.settings import Settings
from tests.integration.serving.conftest import Server, assert_clean, start_server, stop_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@dataclass
class Dashboard:
    server: Server
    model: str
    store: Path
    deploy_token: str
    predict_token: str

    @property
    def base(self) -> str:
        return f"{self.server.url}/ui"

    def client(self) -> Client:
        return Client(settings=self.server.settings)


@pytest.fixture(scope="module")
def dashboard(demo_run: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    world, folder, _, _ = demo_run
    store = tmp_path_factory.mktemp("dashboard") / "store"
    shutil.copytree(folder / "store", store)  # the demo's own store stays as the demo left it
    settings = Settings.load(
        store_url=f"sqlite:///{store / 'keel.db'}", artifacts=str(store / "artifacts")
    )
    with Client(settings=settings) as client:
        deploy_token, _ = tokens.create(client.db, "test", "deploy", "on-call")
        predict_token, _ = tokens.create(client.db, "test", "predict", "reader")
    server = start_server(settings, store.parent, "--no-log")
    try:
        yield Dashboard(server, world.model, store, deploy_token, predict_token)
    finally:
        assert_clean(stop_server(server))


def _open(browser: Any, dashboard: Dashboard) -> tuple[Any, Any, list[str], list[str]]:
    """A page recording console errors and every URL it requests."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    requested: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: requested.append(r.url))
    return context, page, problems, requested


def _visit(page: Any, url: str, shot: Path) -> None:
    answer = page.goto(url)
    assert answer is not None and answer.status == 200, url
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(shot), full_page=True)


def test_every_page_renders_offline_with_its_charts(
    browser: Any, dashboard: Dashboard, artifacts_dir: Path
) -> None:
    with dashboard.client() as client:
        windows = client.monitor_windows(dashboard.model, limit=10_000)
        champion = client.get_version(f"{dashboard.model}@champion").version
        versions = [v.version for v in client.list_versions(dashboard.model)]
    drifted = next(w for w in windows if w.drift.get("drifted"))
    context, page, problems, requested = _open(browser, dashboard)
    name = dashboard.model
    answer = page.goto(f"{dashboard.base}/")  # tokens exist: reading needs one
    assert answer is not None and answer.status == 401
    assert "Sign in with an API token" in page.inner_text("h1")
    page.screenshot(path=str(artifacts_dir / "sign-in.png"))
    _sign_in(page, dashboard.predict_token)  # a reader may look, not act
    problems.clear()  # the browser reports the 401 of the first visit
    _visit(page, f"{dashboard.base}/", artifacts_dir / "models.png")
    row = page.locator(f'tr[data-model="{name}"]')
    assert row.count() == 1
    assert f"v{champion}" in row.inner_text()

    _visit(page, f"{dashboard.base}/models/{name}", artifacts_dir / "model.png")
    for chart in ("accuracy", "drift", "latency", "throughput", "cost"):
        points = page.get_attribute(f"#chart-{chart}", "data-points")
        assert points == str(len(windows)), chart
        assert page.locator(f"#chart-{chart} canvas").count() >= 1
    # labelled windows carry "always the most frequent class" on their rows: a line to beat
    assert "majority baseline" in page.inner_text("#chart-accuracy .u-legend")
    assert page.locator("#versions tbody tr").count() == len(versions)
    assert page.locator("#alias-timeline .seg").count() >= 1
    assert page.locator("#retrains tbody tr").count() >= 1

    for version in versions:
        _visit(
            page,
            f"{dashboard.base}/models/{name}/versions/{version}",
            artifacts_dir / f"version-{version}.png",
        )
        assert int(page.get_attribute("#lineage", "data-nodes") or 0) >= 2

    _visit(
        page, f"{dashboard.base}/models/{name}/windows/{drifted.id}", artifacts_dir / "drift.png"
    )
    features = page.locator("#features tbody tr")
    assert features.count() == len(drifted.drift["features"])
    effects = [float(t) for t in page.locator("#features tbody td.effect").all_inner_texts()]
    assert effects == sorted(effects, reverse=True)  # the largest change first
    marked = page.locator("#features tbody tr.drifted").count()
    assert marked == len(drifted.drift["drifted"]) > 0
    assert page.locator("[data-feature-index] canvas").count() >= 1

    _visit(page, f"{dashboard.base}/audit", artifacts_dir / "audit.png")
    page.wait_for_function(
        "!document.querySelector('#chain .muted') || "
        "document.querySelector('#chain .good, #chain .bad')",
        timeout=10_000,
    )
    page.reload()
    assert "the hash chain verifies" in page.inner_text("#chain")
    context.close()
    assert problems == []
    foreign = [
        u for u in requested if not u.startswith(dashboard.server.url) and not u.startswith("data:")
    ]
    assert foreign == []  # no CDN, no fonts, nothing from the network


def _act(page: Any, button: Any, reason: str) -> None:
    button.click()
    page.fill("#action-reason", reason)
    page.click("#action-confirm")


def _sign_in(page: Any, token: str) -> None:
    """Sign in through the header's form; the page reloads signed in."""
    with page.expect_navigation():
        page.fill("#token", token)
        page.click("#token-form button[type=submit]")
    assert "signed in as" in page.inner_text("#token-state")


def test_actions_need_the_right_token(browser: Any, dashboard: Dashboard) -> None:
    name = dashboard.model
    with dashboard.client() as client:
        champion = client.get_version(f"{name}@champion").version
        before = client.audit_log(limit=1)[0].seq
    context, page, problems, _ = _open(browser, dashboard)
    answer = page.goto(f"{dashboard.base}/models/{name}")
    assert answer is not None and answer.status == 401  # no token: not even a look
    refused = page.evaluate(
        """async (url) => (await fetch(url, {method: "POST", body: "{}",
            headers: {"Content-Type": "application/json"}})).status""",
        f"{dashboard.base}/api/models/{name}/rollback",
    )
    assert refused == 401

    _sign_in(page, dashboard.predict_token)
    _act(page, page.locator("button[data-action=promote]").first, "a reader tries")
    page.wait_for_function("document.getElementById('action-error').textContent.length > 0")
    assert "needs role deploy" in page.inner_text("#action-error")
    context.close()
    with dashboard.client() as client:
        assert client.get_version(f"{name}@champion").version == champion
        assert client.audit_log(limit=1)[0].seq == before  # nothing was done, nothing recorded
    assert [p for p in problems if "401" not in p and "403" not in p] == []


def test_promote_and_roll_back_from_the_page(
    browser: Any, dashboard: Dashboard, artifacts_dir: Path
) -> None:
    name = dashboard.model
    with dashboard.client() as client:
        champion = client.get_version(f"{name}@champion").version
        blessed = [
            v.version
            for v in client.list_versions(name)
            if v.version != champion and _verdict(client, name, v.version) == "blessed"
        ]
    assert blessed, "the demo left no blessed version besides the champion"
    target = blessed[0]
    context, page, problems, _ = _open(browser, dashboard)
    page.goto(f"{dashboard.base}/models/{name}")
    _sign_in(page, dashboard.deploy_token)
    problems.clear()  # the browser reports the 401 of the visit before signing in
    with page.expect_navigation():
        _act(
            page,
            page.locator(f'tr[data-version="{target}"] button[data-action=promote]'),
            "on-call: back to the steadier version",
        )
    with dashboard.client() as client:
        assert client.get_version(f"{name}@champion").version == target
    assert page.inner_text(f'tr[data-version="{target}"] .badge.champion') == "champion"

    with page.expect_navigation():
        _act(page, page.locator("button[data-action=rollback]"), "on-call: that was a mistake")
    with dashboard.client() as client:
        assert client.get_version(f"{name}@champion").version == champion
        moves = [e for e in client.audit_log(limit=20) if e.action == "alias.set"]
    reasons = [str(e.details.get("reason")) for e in moves[:2]]
    assert any("that was a mistake" in r for r in reasons)
    assert any("steadier version" in r for r in reasons)
    assert all(e.actor == "on-call" for e in moves[:2])  # the token's name

    page.goto(f"{dashboard.base}/audit?actor=on-call")
    page.screenshot(path=str(artifacts_dir / "audit-after-actions.png"), full_page=True)
    listed = page.inner_text("#audit")
    assert "steadier version" in listed and "that was a mistake" in listed
    context.close()
    assert problems == []


def _verdict(client: Client, name: str, version: int) -> str | None:
    history = client.gate_history(f"{name}/{version}")
    return history[-1].verdict if history else None
