"""A real ``keel serve`` with two workers exports model quality read from the store: whichever
worker answers the scrape, the realized, estimated and main metrics, drift, the baseline margin
and open alerts of the served version are there, with the end of the window they come from."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from keel.client import Client
from keel.settings import Settings
from tests.integration.serving.conftest import Server, assert_clean, start_server, stop_server
from tests.integration.serving.quality_rows import T0, store_alert, store_window

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory, fitted_model: Any) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("quality")
    settings = Settings(
        store_url=f"sqlite:///{folder / 'keel.db'}", artifacts=str(folder / "art"), actor="ann"
    )
    with Client(settings=settings) as client:
        client.register_model("loans", fitted_model)
        client.set_alias("loans", "champion", 1, reason="release")
        performance = {
            "rows": 300,
            "accuracy": 0.64,
            "f1": 0.7,
            "baselines": {"majority": {"accuracy": 0.66}},  # worse than always saying "no"
        }
        store_window(client.db, "loans", 1, end=T0, performance=performance, labelled_rows=300)
        store_window(
            client.db,
            "loans",
            1,
            end=T0 + timedelta(hours=1),
            estimate={"metrics": {"accuracy": 0.7}},
            drifted=["income"],
        )
        store_alert(client.db, "loans", "critical", "firing", "accuracy beats baseline majority")
    server = start_server(settings, folder, "--workers", "2", "--poll", "0.2")
    yield server
    assert_clean(stop_server(server))


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def k(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def test_every_worker_exports_the_quality_of_the_served_version(monitored: Server) -> None:
    loans = {"model": "loans", "version": "1"}
    wanted = {
        k("keel_model_realized_metric", metric="accuracy", **loans): 0.64,
        k("keel_model_estimated_metric", metric="accuracy", **loans): 0.7,
        k("keel_model_main_metric", metric="accuracy", source="realized", **loans): 0.64,
        k("keel_model_drifted_features", **loans): 1.0,
        k("keel_model_labelled_rows", **loans): 300.0,
        k("keel_model_window_end_timestamp_seconds", source="realized", **loans): T0.timestamp(),
        k("keel_model_open_alerts", model="loans", severity="critical", state="firing"): 1.0,
        k("keel_quality_read_errors_total"): 0.0,
    }
    margin = k("keel_model_baseline_margin", metric="accuracy", baseline="majority", **loans)
    for _ in range(8):  # fresh connections: both workers answer some of them
        answer = httpx.get(f"{monitored.url}/metrics", timeout=10.0)
        assert answer.status_code == 200
        found = _samples(answer.text)
        for key, value in wanted.items():
            assert found.get(key) == value, key
        assert found[margin] == pytest.approx(-0.02)  # negative: the baseline wins
