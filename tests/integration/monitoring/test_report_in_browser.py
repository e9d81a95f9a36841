"""The monitoring report as a person sees it: rendered by a real headless Chromium, offline,
without script errors, with one point per window in every chart over time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keel.client import Client
from keel.domain.entities import ModelVersion
from keel.monitoring.report_page import to_html
from keel.settings import Settings

from .test_monitor_run import log, production

pytestmark = pytest.mark.browser


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    """The page is the same on every store, so it is rendered from SQLite only."""
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'k.db'}", artifacts=str(tmp_path / "a"), actor="t"
    )
    with Client(settings=settings) as made:
        yield made


def test_report_renders_offline_with_every_chart(
    client: Client,
    cancer_version: ModelVersion,
    cancer_frame,
    fitted_model,
    browser,
    artifacts_dir: Path,
    tmp_path: Path,
) -> None:
    client.set_policy(
        "cancer",
        {
            "monitoring": {
                "window": {"rows": 100},
                "alerts": ["accuracy < 0.95 over the last 100 labelled predictions"],
            }
        },
    )
    start = datetime(2026, 11, 5, tzinfo=UTC)
    for index in range(6):
        data, truth = production(cancer_frame, 100, seed=20 + index, shift=0.1 * max(0, index - 3))
        ids = log(client, fitted_model, data, start + timedelta(hours=index))
        client.log_labels("cancer", ids[:80], truth[:80])
        client.monitor("cancer", sinks=[], now=start + timedelta(hours=index + 1))
    page_file = tmp_path / "report.html"
    page_file.write_text(to_html(client.monitor_report("cancer")), encoding="utf-8")

    context = browser.new_context(offline=True, viewport={"width": 1300, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_file.as_uri())
    page.wait_for_selector("#charts-time .chart canvas")
    page.screenshot(path=str(artifacts_dir / "monitoring-report.png"), full_page=True)
    overlays = page.eval_on_selector_all("#charts-features .chart canvas", "els => els.length")
    charts = page.eval_on_selector_all(
        "#charts-time .chart",
        "els => els.map(e => [e.querySelector('h4').textContent, "
        "Number(e.dataset.points), e.querySelectorAll('canvas').length])",
    )
    context.close()
    assert problems == []
    assert requests == [page_file.as_uri()]  # nothing fetched: the page is self-contained
    titles = [c[0] for c in charts]
    assert titles == [
        "Accuracy and estimated accuracy",
        "Drifted features",
        "Latency",
        "Throughput",
        "Cost per 1,000 predictions",
    ]
    assert all(points == 6 and canvases == 1 for _, points, canvases in charts)
    assert overlays == 12  # the features with the largest effects, reference beside current
