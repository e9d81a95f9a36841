"""A retrain's run resumes with the steps it started with: a run stored before the ``setup``
step existed (or with or without ``refitted``) gets exactly its own steps back, or resuming it
would be refused as another pipeline's on every attempt until the retrain failed."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from keel.controller.retrain_states import RetrainStates
from keel.controller.retraining import standard_pipeline
from keel.domain.policy import Policy

OLD = ["training_window", "candidate", "registered", "gate"]
NOW = ["training_window", "setup", "candidate", "registered", "gate"]


def _states() -> Any:
    states: Any = RetrainStates.__new__(RetrainStates)
    states._custom = False
    states.pipeline = standard_pipeline()
    return states


@pytest.mark.parametrize(
    "stored", [OLD, [*OLD, "refitted"], NOW, [*NOW, "refitted"]], ids=lambda s: "+".join(s)
)
def test_a_stored_run_resumes_with_its_own_steps(stored: list[str]) -> None:
    record = SimpleNamespace(steps=[SimpleNamespace(name=name) for name in stored])
    assert list(_states()._pipeline(Policy(), record).steps) == stored


def test_a_new_run_has_the_setup_step_and_the_refit_when_the_policy_asks() -> None:
    assert list(_states()._pipeline(Policy(), None).steps) == NOW
    refits = Policy.parse({})  # the low profile refits
    assert list(_states()._pipeline(refits, None).steps) == [*NOW, "refitted"]
