"""The retraining pipeline's typed outputs: the autopilot reads a finished run's outputs
through ``Handover.of``, whether they are the typed values the steps return now or the
mappings a run started before them stored (such a run may be resumed after an upgrade)."""

from __future__ import annotations

import pytest

from keel.controller.handover import GateVerdict, Handover, Registered

REGISTERED = Registered(4, "risk-retrain-holdout/2")


def test_without_a_refit_step_the_gated_version_ships() -> None:
    handover = Handover.of({"registered": REGISTERED, "gate": GateVerdict("rejected", ("low",))})
    assert (handover.version, handover.gated_version, handover.verdict.blessed) == (4, 4, False)
    assert handover.details() == {
        "gate": {"verdict": "rejected", "reasons": ["low"]},
        "holdout": "risk-retrain-holdout/2",
    }


def test_a_refit_names_the_version_that_was_gated() -> None:
    refit = Handover(7, REGISTERED.holdout, GateVerdict("blessed", ("by proxy",)), 4)
    handover = Handover.of({"registered": REGISTERED, "gate": refit.verdict, "refitted": refit})
    assert handover is refit
    assert handover.details()["gated_version"] == 4


def test_mappings_from_runs_started_before_the_types_read_the_same() -> None:
    old = {
        "registered": {"version": 4, "holdout": REGISTERED.holdout},
        "gate": {"verdict": "blessed", "reasons": ["accuracy 0.93 >= 0.92"]},
    }
    typed = {
        "registered": REGISTERED,
        "gate": GateVerdict("blessed", ("accuracy 0.93 >= 0.92",)),
    }
    assert Handover.of(old) == Handover.of(typed)
    refitted = {**old, "refitted": {**Handover.of(typed).to_dict(), "version": 7}}
    assert Handover.of(refitted).details()["gated_version"] == 4


def test_outputs_without_a_gate_are_refused() -> None:
    with pytest.raises(KeyError):
        Handover.of({"registered": REGISTERED})
