"""`keel deploy`, `keel rollback` and `keel rollout ...` driven through Typer on a SQLite store
(the commands are wired into `keel` elsewhere), and the SDK's rollout methods on both stores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from keel.cli import rollout as rollout_cli
from keel.cli.context import Faces
from keel.client import Client
from keel.errors import Conflict, InvalidInput
from keel.settings import Settings

from .conftest import MODEL, Rollout

app = typer.Typer()
app.command("deploy")(rollout_cli.deploy)
app.command("rollback")(rollout_cli.rollback)
app.add_typer(rollout_cli.rollout_app, name="rollout")


@pytest.fixture
def faces(tmp_path: Path, cancer_frame: pd.DataFrame, fitted_model: Any) -> Iterator[Faces]:
    url, artifacts = f"sqlite:///{tmp_path / 'k.db'}", str(tmp_path / "art")
    with Client(settings=Settings(store_url=url, artifacts=artifacts, actor="ann")) as client:
        snapshot = client.register_snapshot(cancer_frame, "cancer")
        for _ in range(2):
            client.register_model(MODEL, fitted_model, training_data=snapshot, target="target")
        client.set_alias(MODEL, "champion", 1, reason="first release")
    made = Faces(store_url=url, artifacts=artifacts, actor="bob")
    yield made
    if made._client is not None:
        made._client.close()


def run(faces: Faces, *args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, list(args), obj=faces)
    return result.exit_code, result.stdout, result.exception


def test_deploy_status_history_and_rollback(faces: Faces) -> None:
    code, out, error = run(
        faces, "deploy", MODEL, "--version", "2", "--strategy", "canary",
        "--steps", "5,25,50,100", "--interval", "10m", "--reason", "retrained",
    )  # fmt: skip
    assert code == 0, error
    assert "canary deployment #1 running at 5% against cancer/1" in out
    code, out, _ = run(faces, "rollout", "status", MODEL)
    assert "step 1 of 4 at 5%" in out and "next: wait: waiting for rows" in out
    code, out, _ = run(faces, "rollout", "status", MODEL, "--json")
    found = json.loads(out)
    assert found["deployment"]["interval_s"] == 600 and found["next"]["action"] == "wait"
    code, out, _ = run(faces, "rollout", "advance", "--json")
    assert [r["action"] for r in json.loads(out)] == ["wait"]
    code, out, _ = run(faces, "rollout", "watch", MODEL, "--every", "50ms", "--for", "120ms")
    assert code == 0 and out.count("cancer: wait (#1 at 5%)") >= 2
    code, out, _ = run(faces, "rollback", MODEL, "--reason", "not today")
    assert code == 0 and "deployment #1 of version 2 rolled back; cancer/1 serves" in out
    code, out, _ = run(faces, "rollout", "history", MODEL, "--json")
    assert [(d["status"], d["reason"]) for d in json.loads(out)] == [("rolled_back", "retrained")]
    code, out, _ = run(faces, "rollout", "advance")
    assert "no running deployments" in out
    code, _, error = run(faces, "rollback", MODEL, "--reason", "again")
    assert code != 0 and isinstance(error, Conflict)


def test_deploy_takes_what_is_left_out_from_the_stored_policy(faces: Faces) -> None:
    faces.client().set_policy(
        MODEL, {"rollout": {"strategy": "canary", "steps": [10, 100], "interval": "5m"}}
    )
    code, out, error = run(faces, "deploy", MODEL, "--version", "2", "--json")
    assert code == 0, error
    made = json.loads(out)
    assert (made["strategy"], made["steps"], made["interval_s"]) == ("canary", [10, 100], 300)
    code, out, _ = run(faces, "rollback", MODEL, "-r", "try A/B instead")
    code, out, error = run(
        faces, "deploy", MODEL, "--version", "2", "--strategy", "ab", "--steps", "30",
        "--limit", "max_rows=5000", "--limit", "ab_metric=error_rate", "--json",
    )  # fmt: skip
    made = json.loads(out)
    assert made["sticky"] and made["limits"]["max_rows"] == 5000
    assert made["limits"]["ab_metric"] == "error_rate"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--strategy", "canary", "--steps", "5,x"], "steps"),
        (["--strategy", "canary", "--steps", "5", "--limit", "oops"], "limit"),
        (["--strategy", "canary", "--steps", "5", "--interval", "soon"], "interval"),
        (["--strategy", "canary"], "steps"),
    ],
)
def test_bad_options_are_one_clear_error(faces: Faces, args: list[str], field: str) -> None:
    code, _, error = run(faces, "deploy", MODEL, "--version", "2", *args)
    assert code != 0 and isinstance(error, InvalidInput) and error.field == field


def test_the_sdk_deploys_advances_and_rolls_back(rollout: Rollout) -> None:
    client = Client(settings=rollout.client.settings)
    try:
        client.set_policy(
            MODEL,
            {"rollout": {"strategy": "canary", "steps": [20, 100], "auto_rollback": True}},
        )
        made = client.deploy(MODEL, 2, reason="new features")
        assert (made.steps, made.interval_s, made.limits["auto_rollback"]) == ([20, 100], 600, True)
        assert client.deployment_status(MODEL).next.action == "wait"
        rollout.rows(1, 1_000, variant="stable")
        rollout.rows(2, 250, variant="candidate", error_rate=0.3)
        result = client.advance_rollout(MODEL)
        assert result.action == "rollback"
        status = client.deployment_status(MODEL)
        assert (status.champion, status.deployment) == (1, None)
        assert [d.status for d in client.deployments(MODEL)] == ["rolled_back"]
        done = client.deploy(MODEL, 2, strategy="replace", reason="fixed the error")
        assert done.status == "completed" and client.rollback(MODEL, reason="x").champion == 1
    finally:
        client.close()


def test_status_of_an_ab_test_names_the_unit_of_its_split_check(rollout: Rollout) -> None:
    from keel.rollout import actions

    actions.deploy(
        rollout.client.db, "ann", MODEL, 2, strategy="ab", steps=[50], sticky=True,
        limits={"ab_metric": "error_rate"},
    )  # fmt: skip
    keys = [f"customer-{i % 60}" for i in range(600)]
    rollout.rows(1, 600, variant="stable", entity_keys=keys)
    rollout.rows(2, 560, variant="candidate", entity_keys=[k.upper() for k in keys[:560]])
    settings = rollout.client.settings
    faces = Faces(store_url=settings.store_url, artifacts=settings.artifacts, actor="bob")
    try:
        code, out, error = run(faces, "rollout", "status", MODEL)
    finally:
        if faces._client is not None:
            faces._client.close()
    assert code == 0, error
    assert (
        "split check: split as configured by keys: stable 60 keys 50.0% (expected 50.0%), "
        "candidate 60 keys 50.0% (expected 50.0%)"
    ) in " ".join(out.split())
