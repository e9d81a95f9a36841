"""Evaluation and gate reports: JSON for machines, one self-contained HTML file for people.

The HTML inlines the chart library shipped with Keel (uPlot) and the data, so the file opens
anywhere with no network: ROC and precision-recall curves, a calibration plot, the confusion
matrix, metrics beside naive baselines and the champion, slices, cost (per figure the median of
the interleaved runs, its spread, the champion's, and the ratio to the champion), and every gate
check.
"""

from __future__ import annotations

import html
import json
from typing import Any

from keel.evaluation.gates import GateOutcome
from keel.evaluation.html_parts import asset as _asset
from keel.evaluation.html_parts import fmt as _fmt
from keel.evaluation.html_parts import table as _table
from keel.evaluation.runner import Evaluation

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2430;max-width:1200px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde}
h3{font-size:15px;margin:18px 0 6px} .muted{color:#667}
table{border-collapse:collapse;margin:6px 0 12px}
td,th{padding:4px 10px;border:1px solid #dde;text-align:right}
th{background:#f3f5f9} td:first-child,th:first-child{text-align:left}
.pass{color:#0a7d32;font-weight:600} .fail{color:#b3261e;font-weight:600}
.verdict{display:inline-block;padding:4px 12px;border-radius:4px;font-weight:700;color:#fff}
.blessed{background:#0a7d32} .rejected{background:#b3261e}
.charts{display:flex;flex-wrap:wrap;gap:18px} .chart h4{margin:4px 0;font-size:13px}
"""

_CHART_JS = """
const DATA = JSON.parse(document.getElementById('keel-data').textContent);
function line(el, title, xs, series, xl, yl) {
  const box = document.createElement('div'); box.className = 'chart';
  const h = document.createElement('h4'); h.textContent = title; box.appendChild(h);
  el.appendChild(box);
  const colors = ['#1f6feb', '#9aa4b2', '#d97706'];
  new uPlot({width: 340, height: 260, scales: {x: {time: false, range: [0, 1]}, y: {range: [0, 1]}},
    axes: [{label: xl}, {label: yl}],
    series: [{}].concat(series.map((s, i) => ({label: s.label, stroke: colors[i % 3], width: 2,
      dash: s.dash ? [6, 4] : undefined, points: {show: !!s.points}})))},
    [xs].concat(series.map(s => s.values)), box);
}
for (const snap of DATA.snapshots) {
  const el = document.getElementById('charts-' + snap.key);
  const c = snap.curves || {}, k = snap.champion || {};
  if (c.roc) line(el, 'ROC curve', c.roc.fpr, [{label: 'model', values: c.roc.tpr},
    {label: 'chance', values: c.roc.fpr, dash: true}], 'false positive rate', 'true positive rate');
  if (k.roc) line(el, 'ROC curve of the champion', k.roc.fpr, [{label: 'champion',
    values: k.roc.tpr}, {label: 'chance', values: k.roc.fpr, dash: true}],
    'false positive rate', 'true positive rate');
  if (c.pr) line(el, 'Precision-recall', c.pr.recall, [{label: 'model', values: c.pr.precision}],
    'recall', 'precision');
  if (c.calibration) line(el, 'Calibration', c.calibration.predicted,
    [{label: 'observed', values: c.calibration.observed, points: true},
     {label: 'perfect', values: c.calibration.predicted, dash: true}], 'predicted', 'observed');
}
"""


def _metrics_table(snap: dict[str, Any]) -> str:
    metrics = {k: v for k, v in snap["metrics"].items() if isinstance(v, float)}
    baselines = snap.get("baselines", {})
    comparison = snap.get("comparison") or {}
    champion = comparison.get("champion_metrics", {})
    headers = ["metric", "model", *(f"baseline: {b}" for b in baselines)]
    if champion:
        headers += ["champion", "difference", "95% CI"]
    rows = []
    for name, value in metrics.items():
        row: list[Any] = [name, value, *(baselines[b].get(name) for b in baselines)]
        if champion:
            diff = comparison.get("differences", {}).get(name, {})
            ci = diff.get("ci95")
            row += [
                champion.get(name),
                diff.get("difference"),
                f"[{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else "",
            ]
        rows.append(row)
    return _table(headers, rows)


def _confusion(snap: dict[str, Any]) -> str:
    matrix = snap["metrics"].get("confusion_matrix")
    if not matrix:
        return ""
    labels, cells = matrix["labels"], matrix["matrix"]
    total = max(1, sum(sum(r) for r in cells))
    rows = []
    for label, row in zip(labels, cells, strict=True):
        shaded = [
            f'<span style="background:rgba(31,111,235,{0.08 + 0.8 * v / total:.2f});'
            f'padding:2px 6px">{v:,}</span>'
            for v in row
        ]
        rows.append([f"true {html.escape(str(label))}", *shaded])
    return "<h3>Confusion matrix</h3>" + _table(
        ["", *(f"predicted {label}" for label in labels)], rows, raw=True
    )


def _slices(snap: dict[str, Any]) -> str:
    slices = snap.get("slices", {})
    if not slices:
        return ""
    names = [
        k
        for k in ("rows", "accuracy", "recall", "precision", "roc_auc", "mae", "rmse")
        if any(k in s for s in slices.values())
    ]
    rows = [[name, *(s.get(k) for k in names)] for name, s in slices.items()]
    return "<h3>Slices</h3>" + _table(["slice", *names], rows)


def _tests(snap: dict[str, Any]) -> str:
    comparison = snap.get("comparison") or {}
    rows = []
    for key in ("mcnemar", "delong"):
        test = comparison.get(key)
        if test:
            rows.append(
                [
                    test["test"],
                    test["statistic"],
                    test["p_value"],
                    ", ".join(
                        f"{k}={v}" for k, v in test["detail"].items() if not isinstance(v, float)
                    ),
                ]
            )
    return (
        (
            "<h3>Paired tests against the champion</h3>"
            + _table(["test", "statistic", "p-value", "detail"], rows)
        )
        if rows
        else ""
    )


def _gates(outcome: GateOutcome | None) -> str:
    if outcome is None:
        return ""
    rows = [
        [
            c["gate"],
            c["snapshot"] or "(model)",
            c["value"],
            c["threshold"],
            '<span class="pass">pass</span>' if c["passed"] else '<span class="fail">FAIL</span>',
            html.escape(c["detail"] or ""),
        ]
        for c in outcome.checks
    ]
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in outcome.reasons)
    table = _table(
        ["gate", "snapshot", "value", "threshold", "verdict", "detail"],
        [[_fmt(r[0]), _fmt(r[1]), _fmt(r[2]), _fmt(r[3]), r[4], r[5]] for r in rows],
        raw=True,
    )
    return (
        f'<h2>Gates <span class="verdict {outcome.verdict}">{outcome.verdict}</span></h2>'
        f"<p class=muted>risk profile {html.escape(outcome.risk_profile)}</p>{table}"
        + (f"<ul>{reasons}</ul>" if reasons else "")
    )


#: what each cost figure is, in the order the Cost table lists them
COST_FIGURES = {
    "latency_p50_ms": "latency p50, single row (ms)",
    "latency_p99_ms": "latency p99, single row (ms)",
    "latency_batch_p50_ms": "latency p50, batch (ms)",
    "latency_batch_p99_ms": "latency p99, batch (ms)",
    "batch_rows": "rows per batch",
    "peak_memory_mb": "peak memory while predicting (MB)",
    "size_mb": "artifact size (MB)",
}


def _spread(values: list[float] | None) -> str:
    return f"{_fmt(values[0])} to {_fmt(values[1])}" if values and len(values) == 2 else ""


def _cost_section(results: dict[str, Any]) -> str:
    """Each cost figure: the candidate's median over the interleaved runs and its spread (min to
    max), the champion's, and the candidate/champion ratio of the medians. A stored evaluation
    without ``cost_detail`` (one run, no champion) lists its figures as they were measured."""
    cost = results.get("cost")
    if not cost:
        return ""
    detail = results.get("cost_detail")
    order = [*(k for k in COST_FIGURES if k in cost), *(k for k in cost if k not in COST_FIGURES)]
    if not detail:
        return "<h2>Cost</h2>" + _table(["measure", "value"], [[k, cost[k]] for k in order])
    runs = detail.get("runs")
    champion = detail.get("champion") or {}
    spread, theirs = detail.get("spread") or {}, detail.get("champion_spread") or {}
    ratio = detail.get("ratio") or {}
    headers = ["figure", "median", "spread (min to max)"]
    if champion:
        headers += ["champion median", "champion spread", "ratio to champion"]
    rows: list[list[Any]] = []
    for key in order:
        row: list[Any] = [COST_FIGURES.get(key, key), cost[key], _spread(spread.get(key))]
        if champion:
            row += [champion.get(key), _spread(theirs.get(key)), ratio.get(key)]
        rows.append(row)
    how = (
        f"median of {runs} interleaved runs (candidate, champion, candidate, ...) in the same "
        "process, so the ratio to the champion cancels the load both met"
        if champion
        else f"median of {runs} runs"
    )
    notes = [
        f"{how}; a latency's spread is its fastest and slowest run; memory and size are "
        "measured once"
    ]
    if detail.get("champion_error"):
        notes.append(str(detail["champion_error"]))
    return (
        "<h2>Cost</h2>"
        + "".join(f"<p class=muted>{html.escape(n)}</p>" for n in notes)
        + _table(headers, rows)
    )


def to_json(evaluation: Evaluation, outcome: GateOutcome | None = None) -> dict[str, Any]:
    data = evaluation.to_dict()
    if outcome is not None:
        data["gates"] = outcome.to_dict()
    return data


def to_html(evaluation: Evaluation, outcome: GateOutcome | None = None) -> str:
    results = evaluation.results
    sections = []
    chart_data: dict[str, list[dict[str, Any]]] = {"snapshots": []}
    for index, snap in enumerate(results.get("snapshots", [])):
        key = f"s{index}"
        champion_curves = (snap.get("comparison") or {}).get("champion_curves", {})
        chart_data["snapshots"].append(
            {"key": key, "curves": snap.get("curves", {}), "champion": champion_curves}
        )
        quality = "".join(f"<li>{html.escape(q)}</li>" for q in snap.get("quality", []))
        sections.append(
            f"<h2>Snapshot {html.escape(snap['ref'])}</h2>"
            f"<p class=muted>{snap['rows']:,} rows, sha256 {snap['sha256'][:16]}</p>"
            + _metrics_table(snap)
            + f'<div class="charts" id="charts-{key}"></div>'
            + _confusion(snap)
            + _slices(snap)
            + _tests(snap)
            + (f"<h3>Data quality</h3><ul>{quality}</ul>" if quality else "")
        )
    cost_html = _cost_section(results)
    failed = (
        f'<p class="fail">Evaluation failed: {html.escape(evaluation.error or "")}</p>'
        if evaluation.status != "finished"
        else ""
    )
    champion = results.get("champion")
    title = f"Evaluation of {evaluation.model} ({evaluation.suite})"
    payload = json.dumps(chart_data).replace("</", "<\\/")
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_asset('uPlot.min.css')}{_STYLE}</style>"
        f"<script>{_asset('uPlot.iife.min.js')}</script></head><body>"
        f"<h1>{html.escape(title)}</h1><p class=muted>task {results.get('task')}; "
        f"compared with {html.escape(champion or 'no champion')}</p>"
        + failed
        + _gates(outcome)
        + "".join(sections)
        + cost_html
        + f'<script type="application/json" id="keel-data">{payload}</script>'
        f"<script>{_CHART_JS}</script></body></html>"
    )
