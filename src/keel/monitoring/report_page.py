"""The monitoring report's page: one self-contained HTML file for people, drawn from a
``MonitorReport`` (``keel.monitoring.report``) or its saved JSON form. It inlines uPlot and the
data, so it opens anywhere with no network: realized and estimated accuracy over time against
the alert thresholds and the naive baselines, the table of the model's margin over each
baseline per window (``keel.monitoring.report_baselines``), the reference limits table, drifted
features, latency, throughput and cost over time, the drift table of one window with
per-feature distribution overlays, data-quality issues and the alert timeline.
"""

from __future__ import annotations

import html
import itertools
import json
from typing import Any

from keel.evaluation.html_parts import asset, fmt, table
from keel.monitoring.monitor_report import MonitorReport
from keel.monitoring.report_baselines import baselines_section

__all__ = ["MAX_OVERLAYS", "to_html"]


_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2430;max-width:1240px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde}
.muted{color:#667} table{border-collapse:collapse;margin:6px 0 12px}
td,th{padding:4px 10px;border:1px solid #dde;text-align:right}
th{background:#f3f5f9} td:first-child,th:first-child{text-align:left}
.drifted,.behind{color:#b3261e;font-weight:600} .ok{color:#0a7d32}
.charts{display:flex;flex-wrap:wrap;gap:18px} .chart h4{margin:4px 0;font-size:13px}
.firing{color:#b3261e;font-weight:600} .resolved{color:#0a7d32} .acknowledged{color:#a15c00}
.cards{display:flex;gap:14px;flex-wrap:wrap} .card{border:1px solid #dde;border-radius:6px;
padding:8px 14px;min-width:140px} .card b{display:block;font-size:20px}
"""

_CHART_JS = """
const DATA = JSON.parse(document.getElementById('keel-data').textContent);
const COLORS = ['#1f6feb', '#d97706', '#0a7d32', '#b3261e', '#7c3aed'];
function chart(el, title, xs, series, opts) {
  const box = document.createElement('div'); box.className = 'chart';
  box.dataset.points = xs.length;
  const h = document.createElement('h4'); h.textContent = title; box.appendChild(h);
  el.appendChild(box);
  new uPlot({width: opts.width || 560, height: 240,
    scales: {x: {time: !!opts.time}, y: opts.y ? {range: opts.y} : {}},
    axes: [{}, {label: opts.label || ''}],
    series: [{}].concat(series.map((s, i) => ({label: s.label, stroke: s.color || COLORS[i % 5],
      width: s.width || 2, dash: s.dash ? [6, 4] : undefined, spanGaps: true,
      fill: s.fill, paths: s.bars ? uPlot.paths.bars({size: [0.6, 40]}) : undefined,
      points: {show: xs.length < 60}})))}, [xs].concat(series.map(s => s.values)), box);
}
const T = DATA.series, time = T.end;
const over = document.getElementById('charts-time');
if (time.length) {
  const acc = [{label: 'accuracy (labels)', values: T.accuracy},
               {label: 'estimated accuracy', values: T.estimated},
               {label: 'estimate low', values: T.estimated_low, dash: true, width: 1},
               {label: 'estimate high', values: T.estimated_high, dash: true, width: 1}];
  const B = DATA.baselines || {};
  for (const [name, values] of Object.entries(B.accuracy || {})) if (name !== 'model')
    acc.push({label: 'baseline: ' + name, values: values, dash: true, color: '#6b6b6b',
              width: 1.5});
  for (const t of DATA.thresholds) acc.push({label: t.label,
                                             values: t.values || time.map(() => t.value),
                                             dash: true, color: '#b3261e', width: 1});
  chart(over, 'Accuracy and estimated accuracy', time, acc, {time: true, label: 'accuracy'});
  const errors = [];
  for (const metric of ['rmse', 'mae'])
    for (const [name, values] of Object.entries(B[metric] || {}))
      errors.push(name === 'model' ? {label: metric, values: values}
                  : {label: metric + ' of baseline: ' + name, values: values, dash: true,
                     width: 1.5});
  if (errors.length) chart(over, 'Error (labels) and the naive baselines', time, errors,
                           {time: true, label: 'error'});
  chart(over, 'Drifted features', time, [{label: 'drifted features', values: T.drifted}],
        {time: true, label: 'features'});
  chart(over, 'Latency', time, [{label: 'p50', values: T.p50}, {label: 'p95', values: T.p95},
        {label: 'p99', values: T.p99}], {time: true, label: 'ms'});
  chart(over, 'Throughput', time, [{label: 'requests/s', values: T.throughput}],
        {time: true, label: 'requests/s'});
  chart(over, 'Cost per 1,000 predictions', time, [{label: 'cost per 1k', values: T.cost}],
        {time: true, label: 'cost'});
}
const dist = document.getElementById('charts-features');
for (const f of DATA.overlays) {
  const xs = f.xs;
  chart(dist, f.title, xs, [{label: 'reference', values: f.reference, bars: true},
        {label: 'current', values: f.current, bars: true}], {width: 380, label: 'share'});
}
"""

#: distribution overlays drawn for the features with the largest effects
MAX_OVERLAYS = 12


def _overlay(feature: dict[str, Any]) -> dict[str, Any] | None:
    histogram = feature.get("histogram") or {}
    reference, current = histogram.get("reference"), histogram.get("current")
    if not reference or not current or len(reference) != len(current):
        return None
    mark = " (drifted)" if feature.get("drifted") else ""
    edges = histogram.get("edges")
    if edges and len(edges) == len(reference) + 1 and None not in edges:
        xs = [(low + high) / 2 for low, high in itertools.pairwise(edges)]
    else:  # categories: one slot each, named in the title's order
        xs = list(range(len(reference)))
    names = histogram.get("categories") or histogram.get("labels")
    if names and len(names) == len(reference):
        mark += ": " + ", ".join(f"{i}={n}" for i, n in enumerate(names[:8]))
    return {
        "title": f"{feature['feature']}{mark}",
        "xs": xs,
        "reference": reference,
        "current": current,
    }


def _drift_section(detail: dict[str, Any] | None) -> str:
    if detail is None:
        return "<h2>Drift</h2><p class=muted>no window yet</p>"
    drift = detail["drift"] or {}
    rows = []
    for feature in drift.get("features", []):
        verdict = "drifted" if feature.get("drifted") else "ok"
        rows.append(
            [
                html.escape(feature["feature"]),
                feature.get("kind"),
                feature.get("test"),
                fmt(feature.get("statistic")),
                fmt(feature.get("p_adjusted")),
                f"{fmt(feature.get('effect'))} ({feature.get('effect_name')})",
                fmt(feature.get("threshold")),
                fmt(feature.get("psi")),
                f'<span class="{verdict}">{verdict}</span>',
            ]
        )
    features_table = table(
        ["feature", "kind", "test", "statistic", "p (BH)", "effect", "threshold", "PSI", ""],
        rows,
        raw=True,
    )
    multivariate = drift.get("multivariate") or {}
    outputs = drift.get("outputs") or {}
    label = (detail["performance"] or {}).get("label_drift") or {}
    facts = [
        f"window {detail['id']} of version {detail['version']}: {detail['rows']:,} rows from "
        f"{html.escape(detail['start_at'])} to {html.escape(detail['end_at'])}",
        f"drifted features: {', '.join(map(html.escape, drift.get('drifted', []))) or 'none'}",
        f"domain classifier ROC AUC: {fmt(multivariate.get('auc'))}"
        + (" (drift)" if multivariate.get("drifted") else ""),
        f"prediction drift: {'yes' if outputs.get('drifted') else 'no'}; "
        f"label drift: {'yes' if label.get('drifted') else 'no' if label else 'no labels yet'}",
    ]
    found = detail.get("quality") or {}
    counts = [
        f"<li>{found[key]:,} rows {what}</li>"
        for key, what in (
            ("flagged_rows", "answered with values never seen in training (flagged)"),
            ("rejected_rows", "rejected by the input policy (logged, not scored)"),
        )
        if found.get(key)
    ]
    quality = "".join(counts) + "".join(
        f"<li>{html.escape(str(i.get('column', '')))}: "
        f"{html.escape(str(i.get('problem', '')))}</li>"
        for i in found.get("issues", [])
    )
    return (
        "<h2>Drift</h2><ul>"
        + "".join(f"<li>{fact}</li>" for fact in facts)
        + "</ul>"
        + features_table
        + '<div class="charts" id="charts-features"></div>'
        + (f"<h2>Data quality</h2><ul>{quality}</ul>" if quality else "")
    )


def _limits_section(versions: list[dict[str, Any]]) -> str:
    """Each version's reference limits: what a ``METRIC below reference`` rule is held to."""
    if not any(v["metrics"] or v["calibration"] for v in versions):
        return ""
    parts = ["<h2>Reference limits</h2>"]
    for version in versions:
        calibration = version["calibration"]
        source = calibration.get("source", "?")
        where = f" {calibration['snapshot']}" if calibration.get("snapshot") else ""
        rows = f", {calibration['rows']:,} rows" if calibration.get("rows") else ""
        note = f" ({calibration['note']})" if calibration.get("note") else ""
        parts.append(
            f"<p>version {version['version']}: calibrator and limits learnt from "
            f"<b>{html.escape(source + where)}</b>{html.escape(rows + note)}</p>"
        )
        rows_table = [
            [
                html.escape(m["metric"]),
                fmt(m["mean"]),
                f"{fmt(m['sd'])} at {m['chunk_rows']:,} rows",
                f"{m['direction']} {fmt(m['limit'])} at {m['window_rows']:,} rows",
            ]
            for m in version["metrics"]
        ]
        if rows_table:
            parts.append(
                table(
                    ["metric", "reference mean", "chunk spread (sd)", "limit"], rows_table, raw=True
                )
            )
    parts.append(
        "<p class=muted>limit = reference mean - 3 standard deviations of the metric over "
        "reference chunks of the window's size (+ where lower is better), widened by the "
        "reference mean's own uncertainty</p>"
    )
    return "".join(parts)


def _alerts_section(alerts: list[dict[str, Any]]) -> str:
    rows = [
        [
            html.escape(str(a.get("fired_at", ""))),
            html.escape(str(a.get("resolved_at") or "")),
            html.escape(a.get("rule", "")),
            f'<span class="{a.get("state")}">{html.escape(str(a.get("state")))}</span>',
            a.get("severity"),
            fmt(a.get("value")),
            a.get("occurrences"),
        ]
        for a in sorted(alerts, key=lambda a: str(a.get("fired_at")))
    ]
    if not rows:
        return "<h2>Alerts</h2><p class=muted>no alerts</p>"
    return "<h2>Alerts</h2>" + table(
        ["fired", "resolved", "rule", "state", "severity", "value", "occurrences"], rows, raw=True
    )


def to_html(built: MonitorReport | dict[str, Any]) -> str:
    """The page of a report, or of its JSON form as ``keel monitor report`` wrote it (a report
    saved before it had baselines renders without their section)."""
    report = built.to_dict() if isinstance(built, MonitorReport) else built
    detail = report["window"]
    features = ((detail or {}).get("drift") or {}).get("features", [])
    overlays = [o for o in map(_overlay, features[:MAX_OVERLAYS]) if o is not None]
    payload = json.dumps(
        {
            "series": report["series"],
            "thresholds": report["thresholds"],
            "baselines": (report.get("baselines") or {}).get("series", {}),
            "overlays": overlays,
        }
    ).replace("</", "<\\/")
    series = report["series"]
    latest_accuracy = next((a for a in reversed(series["accuracy"]) if a is not None), None)
    latest_estimate = next((a for a in reversed(series["estimated"]) if a is not None), None)
    open_alerts = sum(1 for a in report["alerts"] if a.get("state") != "resolved")
    cards = [
        ("windows", f"{report['windows']:,}"),
        ("predictions", f"{report['rows']:,}"),
        ("labelled", f"{report['labelled_rows']:,}"),
        ("accuracy (latest labelled)", fmt(latest_accuracy)),
        ("estimated accuracy (latest)", fmt(latest_estimate)),
        ("open alerts", str(open_alerts)),
    ]
    title = f"Monitoring of {report['model']}"
    span = f"{report['from']} to {report['to']}" if report["from"] else "no windows yet"
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{asset('uPlot.min.css')}{_STYLE}</style>"
        f"<script>{asset('uPlot.iife.min.js')}</script></head><body>"
        f"<h1>{html.escape(title)}</h1><p class=muted>{html.escape(span)}</p>"
        '<div class="cards">'
        + "".join(f'<div class="card">{html.escape(k)}<b>{v}</b></div>' for k, v in cards)
        + '</div><h2>Over time</h2><div class="charts" id="charts-time"></div>'
        + baselines_section(report.get("baselines"))
        + _drift_section(detail)
        + _limits_section(report.get("reference_limits") or [])
        + _alerts_section(report["alerts"])
        + f'<script type="application/json" id="keel-data">{payload}</script>'
        f"<script>{_CHART_JS}</script></body></html>"
    )
