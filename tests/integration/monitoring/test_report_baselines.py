"""The monitoring report draws the naive baselines beside the model and tables the margin per
labelled window, in the HTML and the JSON alike; windows without labels or without recorded
baselines (older records) render without them."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from keel.client import Client
from keel.domain.entities import ModelVersion
from keel.evaluation.html_parts import fmt
from keel.monitoring.performance import realized_baselines, realized_metrics
from keel.monitoring.report import build_report
from keel.monitoring.report_page import to_html
from keel.monitoring.stored_window import StoredWindow
from keel.settings import Settings

from .test_monitor_run import log, production

START = datetime(2026, 11, 5, tzinfo=UTC)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    """The report reads stored windows the same way on every store: SQLite only."""
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'k.db'}", artifacts=str(tmp_path / "a"), actor="t"
    )
    with Client(settings=settings) as made:
        yield made


def chart_data(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="keel-data">(.*?)</script>', page)
    assert found is not None
    return dict(json.loads(found.group(1)))


def section(page: str) -> str:
    start = page.index("<h2>Against naive baselines</h2>")
    return page[start : page.index("<h2>", start + 5)]


@pytest.fixture
def monitored(
    client: Client, cancer_version: ModelVersion, cancer_frame: pd.DataFrame, fitted_model: Any
) -> Client:
    """Three windows of 100 rows: labelled all 1 (the majority is always right, the model is
    not), labelled with the model's own answers (the model is always right), and unlabelled."""
    client.set_policy("cancer", {"monitoring": {"window": {"rows": 100}}})
    for index in range(3):
        data, _ = production(cancer_frame, 100, seed=40 + index)
        ids = log(client, fitted_model, data, START + timedelta(hours=index))
        if index == 0:
            client.log_labels("cancer", ids, np.ones(len(ids), dtype=int))
        elif index == 1:
            client.log_labels("cancer", ids, fitted_model.predict(data))
        client.monitor("cancer", sinks=[], now=START + timedelta(hours=index + 1))
    return client


def test_the_report_tables_and_charts_the_majority_baseline_per_window(
    monitored: Client,
) -> None:
    windows = sorted(monitored.monitor_windows("cancer"), key=lambda w: w.end_at)
    assert [w.labelled_rows for w in windows] == [100, 100, 0]
    report = monitored.monitor_report("cancer")
    data = report.baselines
    assert data["baselines"] == ["majority"] and data["unrecorded_windows"] == 0
    rows = data["windows"]
    assert [(r["window"], r["metric"]) for r in rows] == [
        (windows[0].id, "accuracy"),
        (windows[1].id, "accuracy"),
    ]
    for row, window in zip(rows, windows, strict=False):
        mine = window.performance["accuracy"]
        theirs = window.performance["baselines"]["majority"]["accuracy"]
        assert row["model"] == mine
        assert row["baselines"]["majority"]["value"] == theirs
        assert row["baselines"]["majority"]["margin"] == pytest.approx(mine - theirs)
    first, second = rows
    assert first["baselines"]["majority"]["value"] == 1.0 and first["model"] < 1.0
    assert first["beats_all"] is False and first["baselines"]["majority"]["margin"] < 0
    assert second["model"] == 1.0 and second["beats_all"] is True
    # one value per window, aligned with the report's time series; a gap where no labels came
    series = data["series"]["accuracy"]
    assert len(report.series["end"]) == 3
    assert series["model"] == report.series["accuracy"]
    assert series["majority"] == [
        1.0,
        windows[1].performance["baselines"]["majority"]["accuracy"],
        None,
    ]
    # the JSON form carries them
    assert json.loads(json.dumps(report.to_dict()))["baselines"] == data

    page = to_html(report)
    assert chart_data(page)["baselines"] == data["series"]  # drawn beside the model's accuracy
    table = section(page)
    newest = (
        f"<tr><td>{second['window']}</td><td>1</td><td>{second['end_at']}</td><td>100</td>"
        f"<td>accuracy</td><td>1.0000</td>"
        f"<td>{fmt(second['baselines']['majority']['value'])}</td>"
        f"<td>{second['baselines']['majority']['margin']:+.4f}</td>"
        '<td><span class="ok">beats</span></td></tr>'
    )
    losing = (
        f"<tr><td>{first['window']}</td><td>1</td><td>{first['end_at']}</td><td>100</td>"
        f"<td>accuracy</td><td>{fmt(first['model'])}</td><td>1.0000</td>"
        f"<td>{first['baselines']['majority']['margin']:+.4f}</td>"
        '<td><span class="behind">does not beat majority</span></td></tr>'
    )
    assert newest in table and losing in table
    assert table.index(newest) < table.index(losing)  # newest first
    assert table.count("<tr>") == 3  # the header and the two labelled windows


def test_older_windows_without_baselines_or_labels_render(monitored: Client) -> None:
    windows = monitored.monitor_windows("cancer")
    older = copy.deepcopy(windows)
    for window in older:
        (window.performance or {}).pop("baselines", None)
    report = build_report("cancer", older, [], None)
    assert report.baselines == {
        "baselines": [],
        "windows": [],
        "unrecorded_windows": 2,
        "series": {},
    }
    page = to_html(report)
    assert "2 labelled windows recorded no baselines (older records)" in section(page)
    assert chart_data(page)["baselines"] == {}
    # a report built before it had baselines at all renders too, without the section
    saved = report.to_dict()
    saved.pop("baselines")
    assert "Against naive baselines" not in to_html(saved)
    # and no labelled window at all: no section
    unlabelled = [w for w in windows if not w.labelled_rows]
    assert "Against naive baselines" not in to_html(build_report("cancer", unlabelled, [], None))


def regression_window(window_id: int, truth: list[float], predicted: list[float]) -> StoredWindow:
    """A labelled window of a regressor, its performance scored as monitoring scores it."""
    joined = pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-11-05", periods=len(truth), freq="s", tz="UTC"),
            "label": truth,
            "prediction": predicted,
        }
    )
    reference = SimpleNamespace(task="regression", classes=[])
    performance = realized_metrics(joined, reference)  # type: ignore[arg-type]
    performance["baselines"] = realized_baselines(joined, reference, persistence=True)  # type: ignore[arg-type]
    end = START + timedelta(hours=window_id)
    return StoredWindow(
        id=window_id,
        model="house",
        version=3,
        kind="time",
        start_at=end - timedelta(hours=1),
        end_at=end,
        rows=len(truth),
        labelled_rows=len(truth),
        reference={},
        drift={},
        estimate={},
        operations={},
        performance=performance,
        quality={},
    )


def test_a_regressor_is_compared_with_the_mean_and_persistence_on_rmse_and_mae() -> None:
    good = regression_window(1, [1.0, 2.0, 3.0, 4.0], [1.1, 2.1, 2.9, 4.0])
    bad = regression_window(2, [1.0, 5.0, 1.0, 5.0], [5.0, 1.0, 5.0, 1.0])
    report = build_report("house", [bad, good], [], None)
    rows = report.baselines["windows"]
    assert report.baselines["baselines"] == ["mean", "persistence"]
    assert [(r["window"], r["metric"]) for r in rows] == [
        (1, "rmse"),
        (1, "mae"),
        (2, "rmse"),
        (2, "mae"),
    ]
    mean_rmse = bad.performance["baselines"]["mean"]["rmse"]
    assert mean_rmse == pytest.approx(2.0)  # every label 2 away from their mean, 3
    bad_rmse = rows[2]
    assert bad_rmse["model"] == pytest.approx(4.0)
    assert bad_rmse["baselines"]["mean"]["margin"] == pytest.approx(-2.0)  # lower is better
    assert rows[0]["beats_all"] is True and bad_rmse["beats_all"] is False
    assert report.baselines["series"]["rmse"]["mean"] == [
        good.performance["baselines"]["mean"]["rmse"],
        mean_rmse,
    ]
    page = to_html(report)
    assert chart_data(page)["baselines"]["mae"]["model"] == [
        good.performance["mae"],
        bad.performance["mae"],
    ]
    assert "<th>margin over mean</th><th>baseline: persistence</th>" in section(page)
    assert "<td>rmse</td><td>4.0000</td><td>2.0000</td><td>-2.0000</td>" in section(page)
    assert "does not beat mean, persistence" in section(page)


def test_names_from_the_records_are_escaped() -> None:
    window = regression_window(1, [1.0, 2.0, 3.0], [1.0, 2.0, 3.5])
    baselines = window.performance["baselines"]
    baselines["<script>x</script>"] = baselines.pop("mean")
    page = to_html(build_report("house", [window], [], None))
    assert "<script>x</script>" not in page
    assert "baseline: &lt;script&gt;x&lt;/script&gt;" in section(page)
