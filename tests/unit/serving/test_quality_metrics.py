"""The quality gauges: built at scrape time from a cached reading, the store read at most once
per refresh interval, a failed read counted and the previous figures kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from keel.serving.metrics import ServingMetrics
from keel.serving.quality import QualityReading, VersionQuality
from keel.serving.quality_metrics import QualityCollector, QualityReader

END = datetime(2026, 3, 1, 12, tzinfo=UTC)
READING = QualityReading(
    versions=[
        VersionQuality(
            model="fraud",
            version=2,
            realized={"accuracy": 0.81, "roc_auc": 0.9},
            realized_end=END,
            labelled_rows=400,
            estimated={"accuracy": 0.76},
            drifted_features=2,
            newest_end=END,
            main_metric="accuracy",
            baseline="majority",
            baseline_margin=0.11,
        ),
        VersionQuality(model="quiet", version=1),
    ],
    open_alerts={("fraud", "critical", "firing"): 1, ("fraud", "warning", "firing"): 0},
)


class FakeStore:
    """Counts reads; fails when told to."""

    def __init__(self) -> None:
        self.reads = 0
        self.fail = False

    def read(self, db: Any) -> QualityReading:
        self.reads += 1
        if self.fail:
            raise RuntimeError("the store is down")
        return READING


def scrape(collector: QualityCollector) -> str:
    registry = CollectorRegistry()
    registry.register(collector)
    return generate_latest(registry).decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by name and sorted labels."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def test_every_figure_is_a_labelled_gauge() -> None:
    store = FakeStore()
    reader = QualityReader(lambda: object(), read=store.read)  # type: ignore[arg-type,return-value]
    found = samples(scrape(QualityCollector(reader)))
    fraud = {"model": "fraud", "version": "2"}
    expected = {
        key("keel_model_realized_metric", metric="accuracy", **fraud): 0.81,
        key("keel_model_realized_metric", metric="roc_auc", **fraud): 0.9,
        key("keel_model_labelled_rows", **fraud): 400,
        key("keel_model_estimated_metric", metric="accuracy", **fraud): 0.76,
        key("keel_model_main_metric", metric="accuracy", source="realized", **fraud): 0.81,
        key("keel_model_main_metric", metric="accuracy", source="estimated", **fraud): 0.76,
        key("keel_model_drifted_features", **fraud): 2,
        key("keel_model_baseline_margin", metric="accuracy", baseline="majority", **fraud): 0.11,
        key("keel_model_window_end_timestamp_seconds", source="realized", **fraud): END.timestamp(),
        key("keel_model_window_end_timestamp_seconds", source="newest", **fraud): END.timestamp(),
        key("keel_model_open_alerts", model="fraud", severity="critical", state="firing"): 1,
        key("keel_model_open_alerts", model="fraud", severity="warning", state="firing"): 0,
        key("keel_quality_read_errors_total"): 0,
    }
    for wanted, value in expected.items():
        assert found.get(wanted) == value, wanted
    assert not [k for k in found if ("model", "quiet") in k[1]]  # never monitored: no figures
    assert found[key("keel_quality_read_timestamp_seconds")] == reader.read_wall_time


def test_scrapes_within_the_refresh_interval_share_one_read() -> None:
    store, now = FakeStore(), [100.0]
    reader = QualityReader(lambda: object(), refresh_s=15.0, clock=lambda: now[0], read=store.read)  # type: ignore[arg-type,return-value]
    collector = QualityCollector(reader)
    for _ in range(5):
        scrape(collector)
    assert store.reads == 1
    now[0] += 15.0
    scrape(collector)
    assert store.reads == 2


def test_a_failed_read_keeps_the_last_figures_and_is_counted() -> None:
    store, now = FakeStore(), [0.0]
    reader = QualityReader(lambda: object(), refresh_s=10.0, clock=lambda: now[0], read=store.read)  # type: ignore[arg-type,return-value]
    collector = QualityCollector(reader)
    scrape(collector)
    stamp = reader.read_wall_time
    store.fail, now[0] = True, 10.0
    text = scrape(collector)
    assert "keel_quality_read_errors_total 1.0" in text
    assert 'keel_model_realized_metric{metric="accuracy",model="fraud",version="2"} 0.81' in text
    assert reader.read_wall_time == stamp  # the figures' age shows: not passed off as fresh


def test_no_store_yet_means_no_figures_and_no_read() -> None:
    store = FakeStore()
    text = scrape(QualityCollector(QualityReader(lambda: None, read=store.read)))
    assert store.reads == 0 and "keel_model_realized_metric{" not in text


def test_serving_metrics_expose_an_attached_collector_in_multiprocess_mode(
    tmp_path: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    metrics = ServingMetrics()
    store = FakeStore()
    metrics.attach(QualityCollector(QualityReader(lambda: object(), read=store.read)))  # type: ignore[arg-type,return-value]
    text = metrics.exposition().decode()
    assert 'keel_model_drifted_features{model="fraud",version="2"} 2.0' in text


def test_the_documented_alerting_rules_name_only_metrics_that_exist() -> None:
    import re
    from pathlib import Path

    import yaml

    page = Path(__file__).parents[3] / "docs" / "deploy" / "prometheus.md"
    block = page.read_text().split("```yaml\n", 1)[1].split("```", 1)[0]
    rules = [rule for group in yaml.safe_load(block)["groups"] for rule in group["rules"]]
    metrics = ServingMetrics()
    metrics.attach(QualityCollector(QualityReader(lambda: None)))
    exported = set()
    for family in metrics.registry.collect():
        exported |= (
            {family.name, f"{family.name}_total"} if family.type == "counter" else {family.name}
        )
    named = {name for rule in rules for name in re.findall(r"keel_\w+", rule["expr"])}
    assert named and named <= exported, named - exported
    assert all(rule["annotations"]["summary"] for rule in rules)
