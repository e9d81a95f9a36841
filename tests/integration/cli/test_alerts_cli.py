"""`keel alerts list|ack|notifications`, driving the Typer app directly on a SQLite store (the
command is wired into `keel` elsewhere)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keel.cli.alerts import app
from keel.cli.context import Faces
from keel.client import Client
from keel.domain.alert_rules import parse_alert_rule
from keel.errors import Conflict, NotFound
from keel.monitoring.alerts import Observation, evaluate_rules
from keel.settings import Settings

RULES = [parse_alert_rule("accuracy < 0.92"), parse_alert_rule("error_rate > 0.01 as critical")]


@pytest.fixture
def faces(tmp_path: Path) -> Iterator[Faces]:
    """A store with two firing alerts on ``fraud``, and the CLI's options pointing at it."""
    url, artifacts = f"sqlite:///{tmp_path / 'k.db'}", str(tmp_path / "art")
    with Client(settings=Settings(store_url=url, artifacts=artifacts, actor="ann")) as client:
        evaluate_rules(
            client.db,
            "monitor",
            "fraud",
            RULES,
            lambda rule: Observation(0.5 if rule.metric == "accuracy" else 0.2),
            now=datetime(2026, 1, 1, tzinfo=UTC),
            cooldown=timedelta(hours=1),
        )
    made = Faces(store_url=url, artifacts=artifacts, actor="bob")
    yield made
    if made._client is not None:
        made._client.close()


def run(faces: Faces, *args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, list(args), obj=faces)
    return result.exit_code, result.stdout, result.exception


def test_list_shows_alerts_and_filters_by_state(faces: Faces) -> None:
    code, out, _ = run(faces, "list", "fraud")
    assert code == 0
    assert "accuracy < 0.92" in out and "error_rate > 0.01" in out and "critical" in out
    code, out, _ = run(faces, "list", "--state", "firing", "--json")
    rows = json.loads(out)
    assert [r["rule"] for r in rows] == ["error_rate > 0.01 as critical", "accuracy < 0.92"]
    assert rows[0]["fired_at"] == "2026-01-01T00:00:00+00:00"
    code, out, _ = run(faces, "list", "other-model")
    assert code == 0 and "nothing to show" in out


def test_ack_records_who_and_refuses_twice(faces: Faces) -> None:
    rows = json.loads(run(faces, "list", "--json")[1])
    target = rows[-1]["id"]
    code, out, _ = run(faces, "ack", str(target), "--reason", "on it")
    assert code == 0 and f"alert {target}" in out and "acknowledged by bob" in out
    acked = json.loads(run(faces, "list", "--state", "acknowledged", "--json")[1])
    assert [(a["id"], a["acknowledged_by"]) for a in acked] == [(target, "bob")]
    assert isinstance(run(faces, "ack", str(target), "-r", "again")[2], Conflict)
    assert isinstance(run(faces, "ack", "999", "-r", "x")[2], NotFound)


def test_notifications_lists_the_queued_events(faces: Faces) -> None:
    code, out, _ = run(faces, "notifications", "--json")
    assert code == 0
    events = json.loads(out)
    assert {(n["event"], n["sink"], n["status"]) for n in events} == {
        ("alert.fired", "*", "pending")
    }
    assert len(events) == 2
    code, out, _ = run(faces, "notifications")
    assert "alert.fired" in out and "pending" in out
