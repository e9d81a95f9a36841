"""Every door deploys the same way: a canary started from the SDK, the CLI or the management
API over a real server takes what it was not told from the stored policy (steps, interval,
stickiness) and records where the prediction log stood, so its analysis reads only rows served
after it started."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest

from keel.cli.app import main
from keel.client import Client
from keel.domain.deployments import Deployment
from keel.rollout.window import log_position
from keel.settings import Settings
from tests.integration.serving.conftest import Server, assert_clean, start_server, stop_server

pytestmark = pytest.mark.slow

MODEL = "doors"
POLICY = {"rollout": {"strategy": "canary", "steps": [10, 40, 100], "interval": "7m"}}


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory, cancer_frame: pd.DataFrame, two_models: Any
) -> Iterator[tuple[Settings, Server]]:
    folder = tmp_path_factory.mktemp("doors")
    settings = Settings(
        store_url=f"sqlite:///{folder / 'keel.db'}", artifacts=str(folder / "art"), actor="ann"
    )
    with Client(settings=settings) as client:
        for model in two_models:
            client.register_model(MODEL, model, training_data=cancer_frame, target="target")
        client.set_alias(MODEL, "champion", 1, reason="first")
        client.set_policy(MODEL, POLICY)
        features = cancer_frame.drop(columns=["target"]).head(50)
        client.log_predictions(MODEL, features, predictions=two_models[0].predict(features))
    server = start_server(settings, folder, "--poll", "0.2")
    yield settings, server
    assert_clean(stop_server(server))


def by_sdk(settings: Settings, server: Server) -> None:
    with Client(settings=settings) as client:
        client.deploy(MODEL, 2, reason="through the SDK")


def by_cli(settings: Settings, server: Server) -> None:
    args = ["--store", settings.store_url, "--artifacts", settings.artifacts]
    assert main([*args, "deploy", MODEL, "--version", "2", "--reason", "through the CLI"]) == 0


def by_http(settings: Settings, server: Server) -> None:
    with server.client() as http:
        answer = http.post(
            f"/v1/manage/models/{MODEL}/deploy", json={"version": 2, "reason": "through HTTP"}
        )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("door", [by_sdk, by_cli, by_http], ids=["sdk", "cli", "http"])
def test_every_door_deploys_with_the_policy_and_the_log_position(
    store: tuple[Settings, Server], door: Callable[[Settings, Server], None], capsys
) -> None:
    settings, server = store
    door(settings, server)
    capsys.readouterr()
    with Client(settings=settings) as client:
        made: Deployment = client.deployments(MODEL, limit=1)[0]
        position = log_position(client.logs, MODEL)
        client.rollback(MODEL, reason="next door")
    assert position  # the log holds a part, so the position names it
    assert (made.strategy, made.status, made.candidate_version) == ("canary", "running", 2)
    assert made.steps == [10.0, 40.0, 100.0]
    assert made.interval_s == 420.0
    assert made.sticky is False
    assert made.analysis is not None and made.analysis[0]["event"] == "start"
    assert made.analysis[0]["position"] == position
