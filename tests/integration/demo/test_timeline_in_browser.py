"""The closed-loop report as a person sees it: rendered offline by a real headless Chromium,
without script errors, with both charts drawn and every event listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.demo.timeline import to_html

pytestmark = pytest.mark.browser

SUMMARY = [
    {
        "month": f"2025-{m:02d}",
        "accuracy": 0.95 - (0.05 if 5 <= m <= 7 else 0.0),
        "estimated_accuracy": 0.95 if m < 12 else None,
        "drifted_features": max(0, m - 4),
        "retrains": int(m == 7),
        "rejected": 0,
        "rollbacks": 0,
        "alerts": int(m == 6),
    }
    for m in range(1, 13)
]
EVENTS = [
    {"at": "2025-06-15T00:00:00+00:00", "kind": "alert", "text": "alert: accuracy is 0.90"},
    {
        "at": "2025-07-15T00:00:00+00:00",
        "kind": "rejected",
        "text": "rejected: v2 <script>x</script>",
    },
    {"at": "2025-07-31T00:00:00+00:00", "kind": "promoted", "text": "promoted: v3"},
]
RETRAINS = [
    {
        "id": 1,
        "created_at": "2025-07-15T00:00:00+00:00",
        "trigger": "accuracy < 0.92",
        "state": "rejected",
        "candidate_version": 2,
        "outcome": "accuracy >= 0.92: 0.89",
        "reason": "accuracy = 0.90",
    },
]


def test_timeline_renders_offline(browser, artifacts_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page_file = tmp_path / "timeline.html"
    page_file.write_text(
        to_html("credit-risk", 0.92, SUMMARY, EVENTS, RETRAINS, ["month 4: shock"]),
        encoding="utf-8",
    )
    context = browser.new_context(offline=True, viewport={"width": 1300, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_file.as_uri())
    page.wait_for_selector("#accuracy canvas")
    page.wait_for_selector("#drift canvas")
    page.screenshot(path=str(artifacts_dir / "closed-loop-report.png"), full_page=True)
    legends = page.eval_on_selector_all(
        "#accuracy .u-legend .u-label", "els => els.map(e => e.textContent)"
    )
    rows = page.eval_on_selector_all(
        "body > table, body > div > table", "els => els.map(t => t.rows.length)"
    )
    injected = page.eval_on_selector_all("script", "els => els.length")
    context.close()
    assert problems == []
    assert requests == [page_file.as_uri()]  # nothing fetched: the page is self-contained
    assert {"accuracy", "estimated accuracy", "threshold"} <= set(legends)
    assert rows == [len(SUMMARY) + 1, len(EVENTS) + 1, len(RETRAINS) + 1]
    assert injected == 3  # uPlot, the data and the chart code: event text is escaped, not run
