"""The typed results of the deployment operations give, through ``to_dict``, the exact JSON the
CLI printed and the HTTP doors answered when they were dicts: same keys, same order, same
values, and plain JSON types."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from keel.domain.deployments import Deployment
from keel.rollout.results import DeploymentStatus, NextStep, Rollback, RolloutStep

STARTED = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
ENTRY = {"at": "2026-03-01T09:40:00+00:00", "step": 0, "weight": 5.0, "verdict": "pass"}


def _canary(**changes: Any) -> Deployment:
    running = Deployment(
        id=7,
        model="fraud",
        strategy="canary",
        stable_version=1,
        candidate_version=2,
        steps=[5.0, 25.0, 100.0],
        step=0,
        candidate_weight=5.0,
        interval_s=600.0,
        sticky=False,
        limits={"max_error_rate_increase": 0.02},
        status="running",
        reason="retrained",
        created_by="ann",
        created_at=STARTED,
        updated_at=STARTED,
        step_started_at=STARTED,
    )
    return dataclasses.replace(running, **changes)


def _json(value: dict[str, Any]) -> Any:
    """What a face sends: the dict through orjson, as the CLI and the HTTP doors encode it."""
    return orjson.loads(orjson.dumps(value))


def test_a_step_gives_the_analysed_deployment_by_id_and_where_it_left_it() -> None:
    before, after = _canary(), _canary(step=1, candidate_weight=25.0)
    step = RolloutStep("fraud", "step", ("passed 5%",), ENTRY, before, after)
    out = step.to_dict()
    assert list(out) == ["model", "deployment", "action", "reasons", "analysis", "deployment_after"]
    assert out == {
        "model": "fraud",
        "deployment": 7,
        "action": "step",
        "reasons": ["passed 5%"],
        "analysis": ENTRY,
        "deployment_after": after.to_dict(),
    }
    assert _json(out)["deployment_after"]["candidate_weight"] == 25.0
    assert _json(out)["deployment_after"]["step_started_at"] == "2026-03-01T09:30:00+00:00"
    assert not step.failed


def test_a_step_with_nothing_running_names_no_deployment() -> None:
    idle = RolloutStep("fraud", "none", ("no running deployment",))
    assert idle.to_dict() == {
        "model": "fraud",
        "deployment": None,
        "action": "none",
        "reasons": ["no running deployment"],
        "analysis": {},
        "deployment_after": None,
    }


@pytest.mark.parametrize("action", ["error", "conflict"])
def test_a_step_not_taken_reports_only_its_reasons(action: Any) -> None:
    failed = RolloutStep("fraud", action, ("deployment #7 moved while it was being analysed",))
    assert failed.failed
    assert failed.to_dict() == {
        "model": "fraud",
        "action": action,
        "reasons": ["deployment #7 moved while it was being analysed"],
    }


def test_rolling_back_a_deployment_gives_it_whole_and_the_version_now_serving() -> None:
    ended = _canary(status="rolled_back", finished_at=STARTED)
    back = Rollback("fraud", "deployment_rolled_back", 1, "p99 doubled", deployment=ended)
    out = back.to_dict()
    assert list(out) == ["model", "action", "deployment", "champion", "reason"]
    assert out == {
        "model": "fraud",
        "action": "deployment_rolled_back",
        "deployment": ended.to_dict(),
        "champion": 1,
        "reason": "p99 doubled",
    }
    assert _json(out)["deployment"]["status"] == "rolled_back"


def test_restoring_the_previous_champion_names_the_one_it_replaced() -> None:
    restored = Rollback("fraud", "champion_restored", 1, "complaints", replaced=2)
    out = restored.to_dict()
    assert list(out) == ["model", "action", "deployment", "champion", "replaced", "reason"]
    assert out == {
        "model": "fraud",
        "action": "champion_restored",
        "deployment": None,
        "champion": 1,
        "replaced": 2,
        "reason": "complaints",
    }


def test_status_nests_the_next_step_and_the_whole_running_deployment() -> None:
    running = _canary(analysis=[ENTRY])
    upcoming = NextStep("wait", ("waiting for rows: 12 of 200",), {"srm": {"summary": "ok"}})
    out = DeploymentStatus("fraud", 1, running, upcoming).to_dict()
    assert out == {
        "model": "fraud",
        "champion": 1,
        "deployment": running.to_dict(),
        "next": {
            "action": "wait",
            "reasons": ["waiting for rows: 12 of 200"],
            "analysis": {"srm": {"summary": "ok"}},
        },
    }
    assert _json(out)["deployment"]["analysis"] == [ENTRY]


def test_status_without_a_deployment_or_an_analysis() -> None:
    failed = NextStep("error", ("unexpected ZeroDivisionError: x",))
    assert DeploymentStatus("fraud", None, None, failed).to_dict() == {
        "model": "fraud",
        "champion": None,
        "deployment": None,
        "next": {"action": "error", "reasons": ["unexpected ZeroDivisionError: x"], "analysis": {}},
    }
