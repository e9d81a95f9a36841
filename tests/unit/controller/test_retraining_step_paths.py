"""The retraining pipeline's steps live in modules of their own, yet stay importable under the
dotted paths they always had (``keel.controller.retraining.<step>``), as the same objects."""

from __future__ import annotations

import importlib

import pytest

from keel.controller.retraining import standard_pipeline
from keel.pipelines.step import Step

OLD_HOME = "keel.controller.retraining"
NEW_HOMES = {
    "training_window": "keel.controller.retrain_window",
    "setup": "keel.controller.retrain_setup",
    "candidate": "keel.controller.retrain_fitting",
    "registered": "keel.controller.retrain_registration",
    "gate": "keel.controller.retrain_gate",
    "refitted": "keel.controller.retrain_refit",
}


@pytest.mark.parametrize("name", sorted(NEW_HOMES))
def test_a_step_resolves_under_its_old_dotted_path_to_the_same_step(name: str) -> None:
    old = getattr(importlib.import_module(OLD_HOME), name)
    new = getattr(importlib.import_module(NEW_HOMES[name]), name)
    assert isinstance(old, Step)
    assert old is new
    assert old.fn.__module__ == NEW_HOMES[name]


def test_the_pipeline_runs_the_steps_found_under_the_old_path() -> None:
    pipeline = standard_pipeline(refit=True)
    module = importlib.import_module(OLD_HOME)
    assert list(pipeline.steps) == [
        "training_window",
        "setup",
        "candidate",
        "registered",
        "gate",
        "refitted",
    ]
    for name, found in pipeline.steps.items():
        assert found is getattr(module, name)
