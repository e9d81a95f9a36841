"""A candidate whose own code raises is a failed candidate, never a crashed controller.

Preparing a canary's accuracy comparison runs the candidate on its training data. A model that
raises there (on some rows, on every row, or only on batches larger than a request) is rolled
back with an alert and the exception's type and message in the audit trail, and the controller
goes on with the other models; ``keel rollout status`` reports it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from keel.cli import rollout as rollout_cli
from keel.cli.context import Faces
from keel.client import Client
from keel.controller.autopilot import Autopilot
from keel.monitoring.outbox import list_notifications
from keel.registry import deployments
from keel.registry.predictions import log_predictions, prediction_table
from keel.rollout import actions, controller
from keel.settings import Settings

from .conftest import MODEL, Rollout
from .raising import Mode, Raising

MODES: list[Mode] = ["some", "every", "large"]
#: what the router logs for each kind: a share of failed requests (one request, one call)
SERVED_ERRORS = {"some": 0.3, "every": 1.0, "large": 0.0}


def _register(client: Client, name: str, frame: pd.DataFrame, fitted: Any, mode: Mode) -> None:
    """``name``/1 the fitted model (champion), ``name``/2 the same model raising by ``mode``."""
    snapshot = client.register_snapshot(frame, f"{name}-train")
    client.register_model(name, fitted, training_data=snapshot, target="target")
    client.register_model(
        name,
        Raising(fitted, mode),
        training_data=snapshot,
        target="target",
        trust="code",  # a pickled model runs code when it loads: we trust this one's
    )
    client.set_alias(name, "champion", 1, reason="first release")


def _canary(client: Client, name: str) -> int:
    return actions.deploy(
        client.db,
        "ann",
        name,
        2,
        strategy="canary",
        steps=[50, 100],
        interval_s=600,
        limits={"auto_rollback": True},
        reason="retrained",
    ).id


def _serve(
    client: Client, name: str, frame: pd.DataFrame, fitted: Any, errors: float, seed: int
) -> None:
    """400 requests on each side of a 50% canary, as the router logs them; a share ``errors``
    of the candidate's failed."""
    rng = np.random.default_rng(seed)
    features = frame.drop(columns=["target"]).sample(400, random_state=seed)
    for version, variant, share in ((1, "stable", 0.0), (2, "candidate", errors)):
        status = np.where(rng.random(len(features)) < share, "error", "ok")
        table = prediction_table(
            features.reset_index(drop=True),
            version=version,
            predictions=fitted.predict(features),
            scores=fitted.predict_proba(features)[:, 1],
            latency_ms=rng.lognormal(np.log(20.0), 0.3, len(features)),
            status=status,
            variant=variant,
        )
        log_predictions(client.logs, name, version, table)


@pytest.fixture(params=MODES)
def raising(
    request: pytest.FixtureRequest, client: Client, cancer_frame: pd.DataFrame, fitted_model: Any
) -> tuple[Rollout, Mode]:
    mode: Mode = request.param
    _register(client, MODEL, cancer_frame, fitted_model, mode)
    return Rollout(client, cancer_frame, fitted_model), mode


def test_a_candidate_that_raises_is_rolled_back_with_an_alert(
    raising: tuple[Rollout, Mode],
) -> None:
    rollout, mode = raising
    client = rollout.client
    deployment_id = _canary(client, MODEL)
    _serve(client, MODEL, rollout.frame, rollout.model, SERVED_ERRORS[mode], seed=1)

    result = rollout.advance(30)

    assert result.action == "rollback", result
    [why] = result.reasons
    assert why.startswith(f"the candidate {MODEL}/2 raised RuntimeError: ")
    assert "reference data" in why
    assert rollout.champion() == 1
    assert deployments.serving_plans(client.db)[MODEL].candidate is None
    record = deployments.get(client.db, deployment_id)
    assert record.status == "rolled_back"
    failure = record.analysis[-1]["failure"]
    assert failure["raised"] == "RuntimeError" and failure["detail"] in why
    entry = client.audit_log(subject=f"model:{MODEL}/2")[0]
    assert entry.action == "deployment.rollback"
    said = entry.details["reason"]
    assert "RuntimeError" in said and failure["detail"] in said
    (alert,) = client.list_alerts(MODEL)
    assert (alert.rule, alert.state, alert.severity) == (
        f"rollout of {MODEL}/2",
        "firing",
        "critical",
    )
    assert "RuntimeError" in alert.message
    events = [n for n in list_notifications(client.db) if n["sink"] == "*"]
    assert [(n["event"], n["alert_id"]) for n in events] == [("deployment.rollback", alert.id)]
    assert client.verify_audit().intact


def test_without_auto_rollback_a_raising_candidate_is_stopped(
    client: Client, cancer_frame: pd.DataFrame, fitted_model: Any
) -> None:
    _register(client, MODEL, cancer_frame, fitted_model, "every")
    actions.deploy(
        client.db, "ann", MODEL, 2, strategy="canary", steps=[50, 100], interval_s=600,
        limits={"auto_rollback": False}, reason="retrained",
    )  # fmt: skip
    _serve(client, MODEL, cancer_frame, fitted_model, 1.0, seed=2)
    result = Rollout(client, cancer_frame, fitted_model).advance(30)
    assert result.action == "stop" and "raised RuntimeError" in result.reasons[0]
    assert result.deployment_after.status == "stopped"
    assert client.list_alerts(MODEL)[0].rule == f"rollout of {MODEL}/2"


def test_advancing_every_model_goes_on_past_a_raising_candidate(
    client: Client, cancer_frame: pd.DataFrame, fitted_model: Any
) -> None:
    """``cancer`` (first in order) has a raising candidate; ``zeta`` has a candidate whose
    error rate is due a rollback. Both are rolled back in one pass."""
    _register(client, MODEL, cancer_frame, fitted_model, "some")
    snapshot = client.register_snapshot(cancer_frame, "zeta-train")
    for _ in range(2):
        client.register_model("zeta", fitted_model, training_data=snapshot, target="target")
    client.set_alias("zeta", "champion", 1, reason="first release")
    for name in (MODEL, "zeta"):
        _canary(client, name)
    _serve(client, MODEL, cancer_frame, fitted_model, 0.3, seed=3)
    _serve(client, "zeta", cancer_frame, fitted_model, 0.3, seed=4)

    results = controller.advance_all(client.db, client.artifacts, client.logs, "controller")

    assert [(r.model, r.action) for r in results] == [
        (MODEL, "rollback"),
        ("zeta", "rollback"),
    ]
    assert "raised RuntimeError" in results[0].reasons[0]
    assert "error rate" in results[1].reasons[0]
    assert all(plan.candidate is None for plan in deployments.serving_plans(client.db).values())


def test_an_unexpected_error_in_one_model_is_reported_and_the_others_advance(
    client: Client, cancer_frame: pd.DataFrame, fitted_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not the model's fault, so nothing is blamed on it: the model reports ``error`` (status
    says so too, without raising) and the next model is still rolled back."""
    for name in (MODEL, "zeta"):
        snapshot = client.register_snapshot(cancer_frame, f"{name}-train")
        for _ in range(2):
            client.register_model(name, fitted_model, training_data=snapshot, target="target")
        client.set_alias(name, "champion", 1, reason="first release")
        _canary(client, name)
        _serve(client, name, cancer_frame, fitted_model, 0.3, seed=5)
    from keel.rollout import assessment

    real = assessment.read_window

    def broken(logs: Any, model: str, **kwargs: Any) -> Any:
        if model == MODEL:
            raise ZeroDivisionError("a bug, not the model")
        return real(logs, model, **kwargs)

    monkeypatch.setattr(assessment, "read_window", broken)
    results = controller.advance_all(client.db, client.artifacts, client.logs, "controller")
    assert [(r.model, r.action) for r in results] == [(MODEL, "error"), ("zeta", "rollback")]
    assert results[0].reasons == ("unexpected ZeroDivisionError: a bug, not the model",)
    assert deployments.running(client.db, MODEL) is not None  # nothing blamed on the candidate
    from keel.domain.policy import Policy

    found = controller.status(client.db, client.artifacts, client.logs, MODEL, Policy())
    assert found.next.action == "error" and found.deployment.candidate_version == 2


# -- the command line -----------------------------------------------------------------------

app = typer.Typer()
app.add_typer(rollout_cli.rollout_app, name="rollout")


@pytest.fixture
def faces(tmp_path: Path, cancer_frame: pd.DataFrame, fitted_model: Any) -> Iterator[Faces]:
    url, artifacts = f"sqlite:///{tmp_path / 'k.db'}", str(tmp_path / "art")
    with Client(settings=Settings(store_url=url, artifacts=artifacts, actor="ann")) as made:
        _register(made, MODEL, cancer_frame, fitted_model, "some")
        _canary(made, MODEL)
        _serve(made, MODEL, cancer_frame, fitted_model, 0.3, seed=6)
    opened = Faces(store_url=url, artifacts=artifacts, actor="bob")
    yield opened
    if opened._client is not None:
        opened._client.close()


def _run(faces: Faces, *args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, list(args), obj=faces)
    return result.exit_code, result.stdout, result.exception


def test_status_reports_the_failure_and_nothing_moves(faces: Faces) -> None:
    code, out, error = _run(faces, "rollout", "status", MODEL)
    assert code == 0, error
    assert f"next: rollback: the candidate {MODEL}/2 raised RuntimeError" in out
    code, out, error = _run(faces, "rollout", "status", MODEL, "--json")
    assert code == 0, error
    found = json.loads(out)
    assert found["deployment"]["status"] == "running"
    assert found["next"]["analysis"]["failure"]["raised"] == "RuntimeError"


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["rollout", "advance"], id="advance-all"),
        pytest.param(["rollout", "advance", MODEL], id="advance-one"),
        pytest.param(["rollout", "watch", MODEL, "--every", "1s", "--for", "1h"], id="watch"),
    ],
)
def test_advance_and_watch_roll_the_raising_candidate_back(
    faces: Faces, command: list[str]
) -> None:
    code, out, error = _run(faces, *command)
    assert code == 0, error
    assert f"{MODEL}: rollback (#1 at 50%): the candidate {MODEL}/2 raised RuntimeError" in out
    assert [d.status for d in faces.client().deployments(MODEL)] == ["rolled_back"]


# -- the autopilot --------------------------------------------------------------------------


def test_monitoring_passes_over_a_raising_version_and_goes_on(
    client: Client, cancer_frame: pd.DataFrame, fitted_model: Any
) -> None:
    """Monitoring the canary's windows builds the candidate's reference too: when its code
    raises, its rows are passed over (and said so) while the champion's windows are measured,
    so a rolled-back canary never stops the monitoring, alerts and triggers of its model."""
    _register(client, MODEL, cancer_frame, fitted_model, "large")
    _canary(client, MODEL)
    _serve(client, MODEL, cancer_frame, fitted_model, 0.0, seed=7)
    snapshot = client.register_snapshot(cancer_frame, "zeta-train")
    client.register_model("zeta", fitted_model, training_data=snapshot, target="target")
    client.set_alias("zeta", "champion", 1, reason="first release")
    policy = {"monitoring": {"target": "target", "window": {"rows": 200}}}
    for name in (MODEL, "zeta"):
        client.set_policy(name, policy)

    result = client.monitor(MODEL)
    assert [w.version for w in result.windows] == [1, 1]
    assert [(s["version"], s["rows"]) for s in result.skipped] == [(2, 200), (2, 200)]
    assert all("raised RuntimeError" in s["reason"] for s in result.skipped)
    assert client.monitor(MODEL).skipped == []  # the rows were consumed, not retried forever

    decisions = Autopilot(client, monitor=True).reconcile_all()
    by_model = {(d.model, d.action) for d in decisions}
    assert (MODEL, "error") not in by_model
    assert ("zeta", "monitor") in by_model
