"""The closed-loop demo's report: one self-contained HTML page (uPlot inlined, no fetches).

Month by month: realized and estimated accuracy against the threshold, drifted features, and
every event the loop produced (alerts, retrains, gate rejections, canaries, rollbacks).
"""

from __future__ import annotations

import html
import json
from typing import Any

from keel.evaluation.html_parts import asset, fmt, table

__all__ = ["to_html"]

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2430;max-width:1240px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde}
.muted{color:#667} table{border-collapse:collapse;margin:6px 0 12px}
td,th{padding:4px 10px;border:1px solid #dde;text-align:right;vertical-align:top}
th{background:#f3f5f9} td:first-child,th:first-child{text-align:left} td.text{text-align:left}
.cards{display:flex;gap:14px;flex-wrap:wrap} .card{border:1px solid #dde;border-radius:6px;
padding:8px 14px;min-width:140px} .card b{display:block;font-size:20px}
.rejected,.rolled_back,.alert,.errors{color:#b3261e} .promoted{color:#0a7d32}
.injected{color:#8a2be2} .left td{text-align:left}
"""

_CHART_JS = """
const data = JSON.parse(document.getElementById('keel-data').textContent);
const xs = data.months.map((_, i) => i);
const axis = {values: (u, ticks) => ticks.map(t => data.months[t] || '')};
function chart(id, title, series, values) {
  const el = document.getElementById(id);
  new uPlot({title, width: 1100, height: 260, scales: {x: {time: false}},
    axes: [axis, {}], series: [{}, ...series]}, [xs, ...values], el);
}
chart('accuracy', 'accuracy by month',
  [{label: 'accuracy', stroke: '#1f5fbf', width: 2},
   {label: 'estimated accuracy', stroke: '#a15c00', dash: [6, 4]},
   {label: 'threshold', stroke: '#b3261e', width: 1}],
  [data.accuracy, data.estimated, data.months.map(() => data.threshold)]);
chart('drift', 'drifted features (most in a window)',
  [{label: 'drifted features', stroke: '#7a3db8', width: 2}], [data.drifted]);
"""


def to_html(
    model: str,
    threshold: float,
    summary: list[dict[str, Any]],
    events: list[dict[str, Any]],
    retrains: list[dict[str, Any]],
    story: list[str],
) -> str:
    payload = json.dumps(
        {
            "months": [r["month"] for r in summary],
            "accuracy": [r["accuracy"] for r in summary],
            "estimated": [r["estimated_accuracy"] for r in summary],
            "drifted": [r["drifted_features"] for r in summary],
            "threshold": threshold,
        }
    ).replace("</", "<\\/")
    labelled = [r["accuracy"] for r in summary if r["accuracy"] is not None]
    cards = [
        ("months", str(len(summary))),
        ("lowest monthly accuracy", fmt(min(labelled)) if labelled else "-"),
        ("threshold", fmt(threshold)),
        ("retrains", str(len(retrains))),
        ("promoted", str(sum(r["state"] == "promoted" for r in retrains))),
        ("rejected by gates", str(sum(r["state"] == "rejected" for r in retrains))),
        ("rolled back", str(sum(r["state"] == "rolled_back" for r in retrains))),
    ]
    months = table(
        ["month", "accuracy", "estimated", "drifted features", "retrains", "rollbacks", "alerts"],
        [
            [
                r["month"],
                r["accuracy"],
                r["estimated_accuracy"],
                r["drifted_features"],
                r["retrains"],
                r["rollbacks"],
                r["alerts"],
            ]
            for r in summary
        ],
    )
    timeline = table(
        ["when", "what", ""],
        [
            [
                html.escape(e["at"][:10]),
                f'<span class="{e["kind"]}">{html.escape(e["kind"])}</span>',
                f'<span class="text">{html.escape(e["text"])}</span>',
            ]
            for e in events
        ],
        raw=True,
    )
    retrain_rows = table(
        ["#", "started", "trigger", "state", "candidate", "outcome"],
        [
            [
                r["id"],
                (r["created_at"] or "")[:10],
                r["trigger"],
                r["state"],
                r["candidate_version"],
                r["outcome"] or r["reason"],
            ]
            for r in reversed(retrains)
        ],
    )
    title = f"Closed loop: {model}"
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{asset('uPlot.min.css')}{_STYLE}</style>"
        f"<script>{asset('uPlot.iife.min.js')}</script></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        + "".join(f"<p class=muted>{html.escape(line)}</p>" for line in story)
        + '<div class="cards">'
        + "".join(f'<div class="card">{html.escape(k)}<b>{v}</b></div>' for k, v in cards)
        + '</div><h2>Over time</h2><div id="accuracy"></div><div id="drift"></div>'
        + f"<h2>Months</h2>{months}<h2>Every event</h2><div class=left>{timeline}</div>"
        + f"<h2>Retrains</h2><div class=left>{retrain_rows}</div>"
        + f'<script type="application/json" id="keel-data">{payload}</script>'
        + f"<script>{_CHART_JS}</script></body></html>"
    )
