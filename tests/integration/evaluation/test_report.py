"""Reports: JSON for machines, one self-contained HTML page for people."""

from __future__ import annotations

import html
import json
import re
from importlib import resources

from keel.client import Client
from keel.evaluation.html_parts import fmt
from keel.evaluation.report import COST_FIGURES, to_html, to_json
from keel.evaluation.runner import Evaluation

from .conftest import HOLDOUT_SUITE


def uplot() -> str:
    folder = resources.files("keel").joinpath("_assets", "uplot")
    return folder.joinpath("uPlot.iife.min.js").read_text(encoding="utf-8")


def test_the_html_report_is_self_contained(registered: Client) -> None:
    rules = {
        "suites": {"holdout": {**HOLDOUT_SUITE, "measure_cost": True}},
        "gates": {
            "cost_runs": 3,
            "checks": [
                "accuracy >= 0.9",
                "slice large: recall >= 0.5",
                "roc_auc not worse than champion by more than 0.01",
            ],
        },
    }
    evaluation, outcome = registered.gate("cancer/2", policy=rules)
    page = to_html(evaluation, outcome)

    assert page.startswith("<!doctype html>") and page.endswith("</html>")
    assert uplot() in page  # the chart library is inlined, not loaded
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "<link" not in page and "@import" not in page
    # the gate table, with the verdict and a row per check
    assert '<span class="verdict rejected">rejected</span>' in page
    for check in outcome.checks:
        assert f"<td>{html.escape(check['gate'])}</td>" in page
    assert page.count('<span class="fail">FAIL</span>') == sum(
        not c["passed"] for c in outcome.checks
    )
    assert "risk profile low" in page
    # one section per snapshot: metrics beside baselines and champion, slices, tests, charts
    assert "<h2>Snapshot holdout/1</h2>" in page
    assert "baseline: majority" in page and "<th>champion</th>" in page
    assert "<h3>Slices</h3>" in page and "<td>large</td>" in page
    assert "<h3>Confusion matrix</h3>" in page
    assert "<h3>Paired tests against the champion</h3>" in page and "delong" in page
    assert 'id="charts-s0"' in page and "<h2>Cost</h2>" in page
    assert "slice nowhere has no rows in holdout/1" in page
    data = re.search(r'<script type="application/json" id="keel-data">(.*?)</script>', page)
    assert data is not None
    chart = json.loads(data.group(1))
    snap = evaluation.snapshot()
    assert chart["snapshots"] == [
        {"key": "s0", "curves": snap["curves"], "champion": snap["comparison"]["champion_curves"]}
    ]
    assert snap["comparison"]["champion_curves"]["roc"]["fpr"][0] == 0.0

    # the cost: per figure the median of the runs, its spread, the champion's and the ratio
    cost, detail = evaluation.results["cost"], evaluation.results["cost_detail"]
    assert detail["runs"] == 3 and detail["champion"] and detail["ratio"]
    assert "median of 3 interleaved runs" in page
    section = page[page.index("<h2>Cost</h2>") :]
    for key in ("latency_p50_ms", "latency_p99_ms", "latency_batch_p50_ms", "latency_batch_p99_ms"):
        low, high = detail["spread"][key]
        theirs = detail["champion_spread"][key]
        row = (
            f"<tr><td>{html.escape(COST_FIGURES[key])}</td><td>{fmt(cost[key])}</td>"
            f"<td>{fmt(low)} to {fmt(high)}</td><td>{fmt(detail['champion'][key])}</td>"
            f"<td>{fmt(theirs[0])} to {fmt(theirs[1])}</td><td>{fmt(detail['ratio'][key])}</td>"
            "</tr>"
        )
        assert row in section, key
        assert low <= cost[key] <= high
    size = detail["ratio"]["size_mb"]
    assert f"<td>{fmt(size)}</td>" in section and "artifact size (MB)" in section

    report = to_json(evaluation, outcome)
    assert report["gates"] == outcome.to_dict()
    assert report["id"] == evaluation.id and report["status"] == "finished"
    assert json.loads(json.dumps(report)) == report


def test_a_failed_evaluation_report_says_why() -> None:
    failed = Evaluation("m/3", "holdout", "failed", {"task": "binary"}, "m/3 failed: <boom>")
    page = to_html(failed)
    assert '<p class="fail">Evaluation failed: m/3 failed: &lt;boom&gt;</p>' in page
    assert "<h2>Gates" not in page and "Snapshot" not in page


def test_text_from_the_data_is_escaped() -> None:
    snap = {
        "ref": "x</script><script>alert(1)</script>/1",
        "sha256": "0" * 64,
        "rows": 3,
        "metrics": {"accuracy": 1.0},
        "slices": {},
        "baselines": {},
        "quality": ["<b>bold</b>"],
        "curves": {"roc": {"fpr": [0.0, 1.0], "tpr": [0.0, 1.0]}, "note": "</script>"},
    }
    page = to_html(Evaluation("m/1", "s", "finished", {"snapshots": [snap]}))
    assert page.count("<script>") == 2  # uPlot and the chart code, nothing injected
    assert "&lt;b&gt;bold&lt;/b&gt;" in page


def test_a_stored_evaluation_without_cost_detail_lists_its_cost_as_before() -> None:
    old = {"snapshots": [], "cost": {"latency_p50_ms": 0.5, "size_mb": 0.0123}}
    page = to_html(Evaluation("m/1", "s", "finished", old))
    section = page[page.index("<h2>Cost</h2>") :]
    assert "<tr><th>measure</th><th>value</th></tr>" in section
    assert "<tr><td>latency_p50_ms</td><td>0.5000</td></tr>" in section
    assert "interleaved" not in page and "spread" not in section


def test_cost_without_a_champion_shows_the_spread_and_says_why_the_champion_is_missing() -> None:
    results = {
        "snapshots": [],
        "cost": {"latency_p99_ms": 2.5, "peak_memory_mb": 1.25},
        "cost_detail": {
            "runs": 4,
            "spread": {"latency_p99_ms": [2.0, 7.75]},
            "champion": None,
            "champion_spread": {},
            "ratio": {},
            "champion_error": "the champion failed to predict: <boom>",
        },
    }
    page = to_html(Evaluation("m/2", "s", "finished", results))
    section = page[page.index("<h2>Cost</h2>") :]
    assert "median of 4 runs;" in section and "interleaved" not in section
    assert "<th>champion median</th>" not in section
    assert (
        "<tr><td>latency p99, single row (ms)</td><td>2.5000</td><td>2.0000 to 7.7500</td></tr>"
        in section
    )
    assert "<tr><td>peak memory while predicting (MB)</td><td>1.2500</td><td></td></tr>" in section
    assert "the champion failed to predict: &lt;boom&gt;" in section and "<boom>" not in page
