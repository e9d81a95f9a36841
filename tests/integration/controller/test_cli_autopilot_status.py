"""``keel autopilot --status``: per governed model, the champion, the retrain in flight, the
newest that ended, the open alerts, and a champion that does not beat the trivial baseline
called out on a line of its own."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from keel.cli.app import main
from keel.client import Client

from .scenario import START
from .test_honest_guards import MODEL, _below_the_majority


def test_the_status_calls_out_a_champion_below_the_majority(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--store", f"sqlite:///{tmp_path / 'k.db'}", "--artifacts", str(tmp_path / "art")]
    with Client(options[1], options[3], actor="ann") as client:
        _below_the_majority(client)
        client.autopilot(now=START + timedelta(hours=1))
        [alert] = client.list_alerts(MODEL, state="open")

    assert main([*options, "autopilot", "--status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{MODEL} (low): champion v1"
    assert lines[1].startswith(
        "  baseline: the champion v1 does not beat the majority baseline on its labelled "
        "predictions: accuracy "
    )
    assert lines[2] == (
        f"  alert #{alert.id} (warning, firing): accuracy beats baseline majority as warning"
    )

    assert main([*options, "autopilot", "--status", "--model", MODEL, "--json"]) == 0
    [status] = json.loads(capsys.readouterr().out)
    assert status["champion"] == 1 and status["in_flight"] is None
    assert status["baseline"] == lines[1].removeprefix("  baseline: ")
    assert [a["id"] for a in status["open_alerts"]] == [alert.id]
