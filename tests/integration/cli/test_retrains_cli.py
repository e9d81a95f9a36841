"""``keel retrains``: the list as before, ``--all-decisions`` for every verdict of the autopilot
with its numbers, and ``keel retrains show ID`` for one retrain in full, with or without the
training setup it chose."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from keel.cli.app import main
from keel.client import Client
from tests.integration.controller.scenario import POLICY, START, launch, serve
from tests.integration.controller.test_decision_log import SELECTION, rejected_retrain

MODEL = "risk"
TRIGGER = POLICY["retraining"]["triggers"][0]


@pytest.fixture
def store(tmp_path: Path) -> list[str]:
    """The global options of a store where ``risk`` was idle, then held (waiting for labels),
    and two retrains that were rejected, one with its setup choice and one without."""
    options = ["--store", f"sqlite:///{tmp_path / 'k.db'}", "--artifacts", str(tmp_path / "a")]
    policy = {**POLICY, "retraining": {**POLICY["retraining"], "min_new_labels": 500}}
    with Client(options[1], options[3], actor="ann") as client:
        launch(client, MODEL, policy)
        for minutes in (10, 20):
            client.autopilot(now=START + timedelta(minutes=minutes))
        serve(client, MODEL, 200, 10, flipped=True, at=START + timedelta(minutes=30))
        client.autopilot(now=START + timedelta(minutes=60))
        rejected_retrain(client, {"selection": SELECTION})
        rejected_retrain(client, {})
    return options


def _json(capsys: pytest.CaptureFixture[str], args: list[str]) -> Any:
    assert main(args) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _text(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    assert main(args) == 0, capsys.readouterr().err
    return " ".join(capsys.readouterr().out.split())


def test_all_decisions_lists_every_verdict_newest_first(
    store: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    shown = _json(capsys, [*store, "retrains", MODEL, "--all-decisions", "--json"])
    assert [(d["action"], d["trigger"]) for d in shown] == [("hold", TRIGGER), ("idle", None)]
    held = shown[0]
    assert held["champion_version"] == 1 and held["details"]["new_labels"] == 200
    assert held["decided_at"] == (START + timedelta(minutes=60)).isoformat()
    assert shown[1]["reason"] == "no trigger fired"

    table = _text(capsys, [*store, "retrains", MODEL, "--all-decisions"])
    assert "held by min_new_labels" in table and "no trigger fired" in table
    assert "new_labels=200" in table and "v1" in table
    assert table.index("hold") < table.index("idle")
    assert (
        len(_json(capsys, [*store, "retrains", MODEL, "--all-decisions", "-n", "1", "--json"])) == 1
    )


def test_the_list_works_as_before_with_or_without_a_model(
    store: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    listed = _json(capsys, [*store, "retrains", MODEL, "--json"])
    assert [r["id"] for r in listed] == [2, 1]
    assert [r["id"] for r in _json(capsys, [*store, "retrains", "--json"])] == [2, 1]
    assert [r["id"] for r in _json(capsys, [*store, "retrains", "list", MODEL, "--json"])] == [2, 1]
    assert "new bureau data" not in _text(capsys, [*store, "retrains"])  # the outcome shows
    assert "accuracy 0.70 < 0.85" in _text(capsys, [*store, "retrains", "-n", "1"])


def test_show_prints_a_retrain_with_its_chosen_setup(
    store: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    text = _text(capsys, [*store, "retrains", "show", "1"])
    assert "retrain #1 of risk: rejected" in text
    assert "trigger: manual" in text and "reason: new bureau data" in text
    for state in ("queued", "training", "rejected"):
        assert state in text
    assert "candidate: v1" in text and "gate: rejected: accuracy 0.70 < 0.85" in text
    assert "training setup: newest 30% (metric accuracy, validation rows 120" in text
    assert "* newest 30%" in text and "0.93" in text and "over budget" in text
    assert "why: the best validation accuracy" in text

    shown = _json(capsys, [*store, "retrains", "show", "1", "--json"])
    assert shown["selection"]["chosen"] == "newest 30%"
    assert [m["state"] for m in shown["moves"]] == ["queued", "training", "rejected"]
    assert shown["retrain"]["id"] == 1 and shown["gate"]["verdict"] == "rejected"


def test_show_prints_a_retrain_without_a_setup_choice(
    store: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    text = _text(capsys, [*store, "retrains", "show", "2"])
    assert "retrain #2 of risk: rejected" in text and "training setup: not recorded" in text
    assert _json(capsys, [*store, "retrains", "show", "2", "--json"])["selection"] is None


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["retrains", "show", "99"], 3, "retrain '99' not found"),
        (["retrains", "show", "nine"], 2, "retrain_id"),
        (["retrains", "list", "show"], 3, "model 'show' not found"),
        (["retrains", "ghost", "--all-decisions"], 3, "model 'ghost' not found"),
        (["retrains", "--all-decisions"], 2, "--all-decisions needs a MODEL"),
        (["retrains", MODEL, "--all-decisions", "-n", "0"], 2, "at least 1"),
    ],
)
def test_bad_input_is_one_line_and_an_exit_code(
    store: list[str],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    message: str,
) -> None:
    assert main([*store, *args]) == code
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_help_names_both_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["retrains", "--help"]) == 0
    out = capsys.readouterr().out
    assert "list" in out and "show" in out
