"""The demo's last act: the champion in production for eight simulated hours.

Traffic is drawn from the held-out data; from the fifth hour the tumour measurements drift
upwards (a new imaging device, say) and labels arrive late and only for part of the traffic.
Keel logs every prediction, cuts the log into windows, compares each with the held-out
reference, estimates accuracy without labels, joins the labels when they come, fires the
policy's alerts and writes a self-contained HTML report.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console

from keel.client import Client
from keel.monitoring.sinks import MemorySink

HOURS = 8
ROWS_PER_HOUR = 150
DRIFTED = ["mean radius", "mean perimeter", "mean area", "worst radius", "worst area"]


def monitor_production(
    client: Client, console: Console, model: str, holdout: pd.DataFrame, target: str
) -> Path:
    from keel.monitoring.report import to_html

    champion = client.load_model(f"models:/{model}@champion")
    rng = np.random.default_rng(11)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=HOURS + 1)
    sink = MemorySink("demo")
    rows: list[list[Any]] = []
    for hour in range(HOURS):
        sample = holdout.sample(n=ROWS_PER_HOUR, replace=True, random_state=100 + hour)
        features = sample.drop(columns=[target]).reset_index(drop=True)
        features *= rng.normal(1.0, 0.01, size=features.shape)
        if hour >= 4:  # the new device reads sizes 15-30% larger
            features[DRIFTED] *= 1.15 + 0.05 * (hour - 4)
        began = time.perf_counter()
        proba = champion.predict_proba(features)[:, 1]
        latency = (time.perf_counter() - began) * 1000 / len(features)
        stamps = [start + timedelta(hours=hour, seconds=20 * i) for i in range(len(features))]
        receipt = client.log_predictions(
            model,
            features,
            predictions=(proba >= 0.5).astype(int),
            scores=proba,
            timestamps=stamps,
            latency_ms=latency * rng.gamma(4.0, 0.25, len(features)),
        )
        labelled = ROWS_PER_HOUR * 2 // 3  # a third of the outcomes never come back
        client.log_labels(
            model, receipt.request_ids[:labelled], sample[target].to_numpy()[:labelled]
        )
        result = client.monitor(model, now=start + timedelta(hours=hour + 1), sinks=[sink])
        stored_windows = {w["id"]: w for w in client.monitor_windows(model, limit=10)}
        for window in result.windows:
            stored = stored_windows[window["id"]]
            rows.append(
                [
                    f"hour {hour + 1}",
                    window["rows"],
                    ", ".join(window["drifted_features"][:3])
                    + (" ..." if len(window["drifted_features"]) > 3 else "")
                    or "-",
                    window["estimated_accuracy"],
                    stored["performance"].get("accuracy"),
                    window["latency_p99_ms"],
                ]
            )
        for alert in result.alerts:
            console.print(f"   hour {hour + 1}: alert {alert['transition']}: {alert['message']}")
    _print_windows(console, rows)
    report = client.monitor_report(model)
    out = Path(".keel/reports")
    out.mkdir(parents=True, exist_ok=True)
    page = out / f"monitor-{model}.html"
    page.write_text(to_html(report), encoding="utf-8")
    return page


def _print_windows(console: Console, rows: list[list[Any]]) -> None:
    from rich.table import Table

    table = Table(header_style="bold", title="monitoring windows", title_justify="left")
    for column in ("window", "rows", "drifted features", "est. accuracy", "accuracy", "p99 ms"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            *("-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v) for v in row)
        )
    console.print(table)
