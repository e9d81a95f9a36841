"""The autopilot keeps its verdicts on retraining, on SQLite and PostgreSQL: a run of identical
verdicts is one row, a changed one another, every retrain started one with its id; and a
retrain can be read back in full (moves, run, gate, the training setup it chose)."""

from __future__ import annotations

import copy
import logging
from datetime import timedelta
from typing import Any

import pytest

from keel.client import Client
from keel.controller import decision_log, retrain_report, retrains
from keel.controller.decisions import Decision
from keel.errors import NotFound

from .scenario import POLICY, START, batch, launch, serve

MODEL = "risk"
TRIGGER = POLICY["retraining"]["triggers"][0]


def _policy(**retraining: Any) -> dict[str, Any]:
    policy = copy.deepcopy(POLICY)
    policy["retraining"].update(retraining)
    return policy


def _kept(client: Client, limit: int = 50) -> list[decision_log.RetrainDecision]:
    """The model's stored verdicts, newest first (``Retrains.decisions`` reads these)."""
    return decision_log.decisions(client.db, MODEL, limit)


def _pass(client: Client, minutes: int) -> str:
    """One pass at ``minutes`` after START; the action of its verdict on retraining."""
    decisions = client.autopilot(now=START + timedelta(minutes=minutes))
    return next(d.action for d in decisions if d.action != "monitor")


def test_identical_verdicts_are_one_row_and_a_changed_one_another(client: Client) -> None:
    from sklearn.linear_model import LogisticRegression

    train = batch(300, 0, flipped=False)
    fitted = LogisticRegression().fit(train[["x0", "x1"]], train["y"])
    client.register_model(MODEL, fitted, training_data=train, target="y")
    client.set_policy(MODEL, POLICY)
    assert [_pass(client, m) for m in (10, 20, 30)] == ["idle"] * 3
    [first] = _kept(client)
    assert (first.action, first.champion_version, first.trigger, first.retrain) == (
        "idle",
        None,
        None,
        None,
    )
    assert first.reason == "no champion to retrain"
    assert first.decided_at == START + timedelta(minutes=10)  # the first pass that said it

    client.set_alias(MODEL, "champion", 1, reason="launch")
    assert [_pass(client, m) for m in (40, 50)] == ["idle", "idle"]
    newest, older = _kept(client)
    assert older == first
    assert (newest.action, newest.champion_version, newest.reason) == (
        "idle",
        1,
        "no trigger fired",
    )
    assert newest.decided_at == START + timedelta(minutes=40)
    assert [d.id for d in _kept(client, 1)] == [newest.id]
    assert newest.to_dict()["decided_at"] == newest.decided_at.isoformat()


def test_a_held_trigger_is_kept_with_its_numbers_and_a_retrain_with_its_id(
    client: Client,
) -> None:
    launch(client, MODEL, _policy(min_new_labels=500))
    serve(client, MODEL, 200, 10, flipped=True, at=START)
    assert [_pass(client, m) for m in (60, 70)] == ["hold", "hold"]  # no new label between
    [held] = _kept(client)
    assert (held.action, held.trigger, held.champion_version) == ("hold", TRIGGER, 1)
    assert held.reason.startswith("accuracy = ")
    assert held.reason.endswith(
        "held by min_new_labels: 200 labelled since the last retrain, 500 needed"
    )
    assert held.details["new_labels"] == 200 and held.details["value"] < 0.8

    serve(client, MODEL, 200, 11, flipped=True, at=START + timedelta(minutes=80))
    assert _pass(client, 120) == "hold"  # 400 labelled now: the numbers changed
    assert [d.details["new_labels"] for d in _kept(client)] == [400, 200]

    serve(client, MODEL, 200, 12, flipped=True, at=START + timedelta(minutes=130))
    assert _pass(client, 180) == "retrain"
    [retrain] = client.retrains(MODEL)
    started = _kept(client)[0]
    assert (started.action, started.retrain, started.trigger) == ("retrain", retrain.id, TRIGGER)
    assert started.reason == retrain.reason and started.details["new_labels"] == 600
    assert started.decided_at == retrain.created_at == START + timedelta(minutes=180)
    assert len(_kept(client)) == 3


def test_a_retrain_is_recorded_even_when_it_repeats_the_row_before(client: Client) -> None:
    launch(client, MODEL)
    db = client.db
    for minutes in (0, 1):
        queued = retrains.request(
            db,
            "ann",
            MODEL,
            trigger="manual",
            reason="x",
            now=START + timedelta(minutes=minutes),
        )
        assert retrains.take_lease(db, queued.id, "me", timedelta(minutes=1), now=START)
        retrains.move(db, "ann", queued, "me", "stopped", reason="test", now=START)
        made = Decision(MODEL, "retrain", "manual: x", queued.id)
        decision_log.keep(db, made, champion=1, verdict=None, now=START)
    assert [d.retrain for d in _kept(client)] == [2, 1]


def test_a_failure_to_record_is_logged_and_the_pass_goes_on(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    launch(client, MODEL)

    def broken(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(decision_log, "_write", broken)
    with caplog.at_level(logging.ERROR, logger="keel.autopilot"):
        assert _pass(client, 10) == "idle"
    assert "could not record the autopilot's idle verdict on risk" in caplog.text
    assert "disk full" in caplog.text
    assert _kept(client) == []


SELECTION = {
    "chosen": "newest 30%",
    "validation_rows": 120,
    "metric": "accuracy",
    "candidates": [
        {"name": "all", "rows": 1080, "half_life": None, "score": 0.61, "fit_s": 0.02},
        {"name": "newest 30%", "rows": 324, "half_life": None, "score": 0.93, "fit_s": 0.01},
        {
            "name": "weighted",
            "rows": 1080,
            "half_life": 200,
            "score": None,
            "fit_s": 0.0,
            "skipped": "over budget",
        },
    ],
    "budget": 60.0,
    "cost": 0.03,
    "reason": "the best validation accuracy",
}


def rejected_retrain(client: Client, details: dict[str, Any]) -> int:
    """A retrain of ``MODEL`` (launched) moved by hand to ``rejected`` with ``details``."""
    db = client.db
    queued = retrains.request(
        db, "ann", MODEL, trigger="manual", reason="new bureau data", now=START
    )
    assert retrains.take_lease(db, queued.id, "me", timedelta(minutes=5), now=START)
    training = retrains.move(db, "ann", queued, "me", "training", reason="pipeline run", now=START)
    gate = {"verdict": "rejected", "reasons": ["accuracy 0.70 < 0.85"]}
    retrains.move(
        db,
        "ann",
        training,
        "me",
        "rejected",
        reason="accuracy 0.70 < 0.85",
        now=START + timedelta(minutes=3),
        candidate_version=1,
        outcome="accuracy 0.70 < 0.85",
        details={**training.details, "champion": 1, "gate": gate, **details},
    )
    return queued.id


def test_a_retrain_report_shows_its_moves_gate_and_chosen_setup(client: Client) -> None:
    launch(client, MODEL)
    chose = rejected_retrain(client, {"selection": SELECTION})
    plain = rejected_retrain(client, {})
    report = retrain_report.report(client.services, chose)
    assert [m.state for m in report.moves] == ["queued", "training", "rejected"]
    assert report.moves[-1].reason == "accuracy 0.70 < 0.85"
    assert report.gate is not None and report.gate.verdict == "rejected"
    assert report.pipeline_run is None
    selection = report.selection
    assert selection is not None
    assert (selection.chosen, selection.validation_rows, selection.metric) == (
        "newest 30%",
        120,
        "accuracy",
    )
    assert [(c.name, c.score, c.skipped) for c in selection.candidates] == [
        ("all", 0.61, None),
        ("newest 30%", 0.93, None),
        ("weighted", None, "over budget"),
    ]
    assert report.to_dict()["selection"]["candidates"][2]["half_life"] == 200
    assert selection.reason == "the best validation accuracy"

    other = retrain_report.report(client.services, plain)
    assert other.selection is None and other.to_dict()["selection"] is None
    assert [m.state for m in other.moves] == ["queued", "training", "rejected"]
    with pytest.raises(NotFound):
        retrain_report.report(client.services, 999)
