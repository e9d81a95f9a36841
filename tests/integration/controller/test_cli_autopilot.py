"""``keel autopilot``, ``keel retrain``, ``keel retrains`` and ``keel pipelines`` against a real
SQLite store: JSON lines for scripts, tables for people, one-line errors with an exit code."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from keel.cli.app import main
from keel.client import Client

from .scenario import POLICY, launch, serve

MODEL = "risk"
TRIGGER = POLICY["retraining"]["triggers"][0]


@pytest.fixture
def launched(tmp_path: Path) -> list[str]:
    """The global options of a store where ``risk`` has its first champion."""
    options = ["--store", f"sqlite:///{tmp_path / 'k.db'}", "--artifacts", str(tmp_path / "art")]
    with Client(options[1], options[3], actor="ann") as client:
        launch(client, MODEL)
    return options


@pytest.fixture
def drifted(launched: list[str]) -> list[str]:
    """Two healthy hours of ``risk``, then two after the concept flipped, ending just now (the
    command line runs on the real clock)."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    options = launched
    with Client(options[1], options[3], actor="ann") as client:
        for hour in range(4):
            at = start + timedelta(hours=hour)
            serve(client, MODEL, 200, 10 + hour, flipped=hour >= 2, at=at)
    return options


def _lines(capsys: pytest.CaptureFixture[str], args: list[str]) -> list[dict[str, Any]]:
    assert main(args) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _json(capsys: pytest.CaptureFixture[str], args: list[str]) -> Any:
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_one_autopilot_pass_prints_its_decisions_and_records_the_retrain(
    drifted: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    decisions = _lines(capsys, [*drifted, "autopilot", "--once", "--json"])
    actions = [d["action"] for d in decisions]
    assert actions[:3] == ["monitor", "retrain", "train"]
    assert actions[-1] in ("rejected", "promoted")
    fired = decisions[1]
    assert fired["model"] == MODEL and fired["retrain"] == 1
    assert fired["reason"].startswith(f"{TRIGGER}: accuracy = ")

    [retrain] = _json(capsys, [*drifted, "retrains", MODEL, "--json"])
    assert retrain["id"] == 1 and retrain["trigger"] == TRIGGER
    assert retrain["state"] == actions[-1] and retrain["candidate_version"] == 2
    run_id = retrain["pipeline_run_id"]
    assert main([*drifted, "retrains"]) == 0
    table = capsys.readouterr().out
    assert retrain["state"] in table and "accuracy < 0.8" in table

    [run] = _json(capsys, [*drifted, "pipelines", "runs", "--model", MODEL, "--json"])
    assert (run["id"], run["pipeline"], run["status"]) == (run_id, "retrain", "succeeded")
    shown = _json(capsys, [*drifted, "pipelines", "show", run_id, "--json"])
    steps = [(s["name"], s["status"]) for s in shown["steps"]]
    assert steps == [
        ("training_window", "succeeded"),
        ("setup", "succeeded"),
        ("candidate", "succeeded"),
        ("registered", "succeeded"),
        ("gate", "succeeded"),
    ]
    assert main([*drifted, "pipelines", "show", run_id]) == 0
    text = capsys.readouterr().out
    assert f"run {run_id}: retrain (succeeded, inline)" in text
    assert "training_window" in text and "registered" in text
    assert main([*drifted, "pipelines", "runs"]) == 0
    assert run_id in capsys.readouterr().out
    # the retrained version's lineage names its retrain and pipeline run
    assert main([*drifted, "lineage", f"{MODEL}/2"]) == 0
    assert f"retrain #1, pipeline run {run_id}" in " ".join(capsys.readouterr().out.split())
    # the 8 characters ``keel retrains`` prints name the run
    assert _json(capsys, [*drifted, "pipelines", "show", run_id[:8], "--json"])["id"] == run_id


def test_a_manual_retrain_from_the_command_line(
    drifted: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    queue = ["retrain", MODEL, "--reason", "new bureau data", "--queue", "--json"]
    queued = _lines(capsys, [*drifted, *queue])
    assert [(d["action"], d["retrain"]) for d in queued] == [("retrain", 1)]
    assert main([*drifted, "retrain", MODEL, "--reason", "once more"]) == 4
    captured = capsys.readouterr()
    assert f"a retrain of {MODEL} is already in flight (#1, queued)" in captured.err
    assert "Traceback" not in captured.err + captured.out

    assert main([*drifted, "autopilot", "--once", "--model", MODEL]) == 0  # runs the queued one
    assert f"{MODEL} #1: train: pipeline run" in capsys.readouterr().out
    [retrain] = _json(capsys, [*drifted, "retrains", MODEL, "--json"])
    assert (retrain["trigger"], retrain["reason"]) == ("manual", "new bureau data")
    assert retrain["state"] not in ("queued", "training") and retrain["ended_at"]

    ran = _lines(capsys, [*drifted, "retrain", MODEL, "--reason", "new features", "--json"])
    # no label has arrived since retrain #1 made its window: nothing new to learn from
    assert [d["action"] for d in ran] == ["retrain", "held"]
    assert {d["retrain"] for d in ran} == {2}
    assert main([*drifted, "autopilot", "--every", "1s", "--for", "1s", "--json"]) == 0
    looped = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {d["model"] for d in looped} == {MODEL} and looped[0]["action"] == "monitor"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["retrain", "nobody", "--reason", "x"], 3, "nobody"),
        (["retrain", MODEL], 2, "a manual retrain needs a reason"),
        (["retrain", MODEL, "--reason", "  "], 2, "a manual retrain needs a reason"),
        (["autopilot", "--every", "soon"], 2, "'soon' is not a duration"),
        (["autopilot", "--every", "0s"], 2, "'0s' must be longer than zero"),
        (["autopilot", "--once", "--lease", "-1m"], 2, "lease"),
        (["pipelines", "show", "no-such-run"], 3, "no-such-run"),
        (["pipelines", "show", "abc"], 2, "at least 4 characters"),
        (["autopilot", "--once", "--model", "ghost"], 3, "model 'ghost' not found"),
        (["autopilot", "--once", "--every", "soon"], 2, "'soon' is not a duration"),
        (["retrains", "ghost"], 3, "model 'ghost' not found"),
        (["retrains", "-n", "0"], 2, "at least 1"),
        (["pipelines", "runs", "-n", "0"], 2, "at least 1"),
        (["runs", "list", "--limit", "-1"], 2, "at least 1"),
    ],
)
def test_bad_input_is_one_line_and_an_exit_code(
    launched: list[str],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    message: str,
) -> None:
    assert main([*launched, *args]) == code
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err + captured.out
    with Client(launched[1], launched[3]) as client:
        assert client.retrains() == []
