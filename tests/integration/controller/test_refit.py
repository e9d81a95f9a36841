"""``training.refit``: once the candidate passed the gates on the holdout, the same trainer is
fit again on the training rows and the holdout, registered as its own version (blessed by proxy,
saying so) and shipped; the gated twin stays registered, archived. A crash after the refit was
registered does not make a second one, and with refit off the step hands the gated version on."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from keel.client import Client
from keel.controller.autopilot import Autopilot, Decision
from keel.controller.retraining import standard_pipeline
from keel.registry import governance

from .scenario import POLICY, START, launch, serve

MODEL = "risk"


def _policy(refit: bool) -> dict[str, Any]:
    policy = copy.deepcopy(POLICY)
    policy["retraining"]["training"]["refit"] = refit
    return policy


def _until_promoted(client: Client, pilot: Autopilot | None = None) -> list[Decision]:
    """Serve an hour of flipped traffic and run a pass, until a retrain was promoted."""
    decisions: list[Decision] = []
    for hour in range(12):
        at = START + timedelta(hours=hour)
        serve(client, MODEL, 200, 10 + hour, flipped=hour >= 1, at=at)
        moment = at + timedelta(hours=1)
        decisions += (
            client.autopilot(now=moment) if pilot is None else pilot.reconcile_all(now=moment)
        )
        if any(d.action == "promoted" for d in decisions):
            return decisions
    raise AssertionError([d.to_dict() for d in decisions])


def test_a_blessed_candidate_is_refit_on_all_rows_and_the_refit_ships(store: Client) -> None:
    launch(store, MODEL, _policy(refit=True))
    decisions = _until_promoted(store)
    promoted = next(r for r in store.retrains(MODEL) if r.state == "promoted")
    shipped = int(promoted.candidate_version or 0)
    gated = int(promoted.details["gated_version"])
    assert shipped != gated
    assert store.get_version(f"models:/{MODEL}@champion").version == shipped
    blessed = next(d for d in decisions if d.action == "blessed")
    assert blessed.reason == f"v{shipped} passed the gates"

    refit = store.get_version(f"{MODEL}/{shipped}")
    twin = store.get_version(f"{MODEL}/{gated}")
    assert refit.parent_version == 1 and twin.parent_version == 1
    assert refit.tags["retrain"] == str(promoted.id)
    assert refit.tags["refit_of"] == str(gated)
    assert refit.tags["pipeline_run"] == promoted.pipeline_run_id
    assert "refit_of" not in twin.tags
    assert twin.status == "archived" and refit.status != "archived"
    assert refit.signature == twin.signature

    # trained on the twin's training rows and its holdout: the newest rows are learnt from
    trained = store.load_snapshot(str(refit.training_snapshot))
    twin_rows = store.load_snapshot(str(twin.training_snapshot))
    holdout = store.load_snapshot(twin.tags["holdout"])
    assert len(trained) == len(twin_rows) + len(holdout)
    assert trained.tail(len(holdout)).reset_index(drop=True).equals(holdout)

    # its gate result is the twin's verdict, checks and evaluation, with a reason saying so
    [own] = store.gate_history(f"{MODEL}/{shipped}")
    twins = store.gate_history(f"{MODEL}/{gated}")[-1]
    assert own.verdict == twins.verdict == "blessed"
    assert own.checks == twins.checks
    assert own.evaluation_id == twins.evaluation_id is not None
    assert own.reasons[0].startswith(f"refit of v{gated} on all rows")
    assert f"v{gated} passed the gates on the holdout" in own.reasons[0]
    assert promoted.details["gate"]["reasons"][0] == own.reasons[0]
    [archived] = store.audit_log(subject=f"model:{MODEL}/{gated}", action="version.archive")
    assert f"v{shipped}, its refit on all rows, ships instead" in archived.details["reason"]

    run = store.pipeline_run(str(promoted.pipeline_run_id))
    assert [s.name for s in run.steps][-1] == "refitted"
    # a rejected candidate is never refit: only the blessed one has a refit
    refits = [v for v in store.list_versions(MODEL) if "refit_of" in (v.tags or {})]
    assert [v.version for v in refits] == [shipped]
    for rejected in (r for r in store.retrains(MODEL) if r.state == "rejected"):
        assert "gated_version" not in rejected.details


def test_a_crash_after_the_refit_was_registered_does_not_make_a_second_one(
    store: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    launch(store, MODEL, _policy(refit=True))
    real = governance.record_gate_result
    crashes: list[str] = []

    def crash_once(*args: Any, **kwargs: Any) -> None:
        reasons = kwargs["reasons"]
        if reasons and str(reasons[0]).startswith("refit of") and not crashes:
            crashes.append(str(args[2]))
            raise RuntimeError("killed between registering the refit and its gate result")
        real(*args, **kwargs)

    monkeypatch.setattr(governance, "record_gate_result", crash_once)
    decisions = _until_promoted(store)
    assert crashes, "the refit's gate result was never recorded"
    retry = next(d for d in decisions if d.action == "retry")
    assert "killed between registering the refit" in retry.reason
    promoted = next(r for r in store.retrains(MODEL) if r.state == "promoted")
    refits = [v for v in store.list_versions(MODEL) if "refit_of" in (v.tags or {})]
    assert [v.version for v in refits] == [promoted.candidate_version]
    assert crashes == [f"{MODEL}/{promoted.candidate_version}"]
    [own] = store.gate_history(f"{MODEL}/{promoted.candidate_version}")
    assert own.verdict == "blessed"
    # the resumed run found the versions it had registered: one twin, one refit per retrain
    mine = store.list_versions(MODEL, filter=f"tags.retrain = '{promoted.id}'")
    assert len(mine) == 2
    assert store.get_version(f"{MODEL}/{promoted.details['gated_version']}").status == "archived"


def test_with_refit_off_the_step_hands_on_the_gated_version(store: Client) -> None:
    launch(store, MODEL, _policy(refit=False))
    pilot = Autopilot(store, pipeline=standard_pipeline(refit=True))
    _until_promoted(store, pilot)
    promoted = next(r for r in store.retrains(MODEL) if r.state == "promoted")
    assert "gated_version" not in promoted.details
    assert [v for v in store.list_versions(MODEL) if "refit_of" in (v.tags or {})] == []
    shipped = store.get_version(f"{MODEL}/{promoted.candidate_version}")
    assert shipped.tags["retrain"] == str(promoted.id) and shipped.status != "archived"
    run = store.pipeline_run(str(promoted.pipeline_run_id))
    assert [s.name for s in run.steps][-1] == "refitted"


def test_the_default_pipeline_has_no_refit_step_unless_the_policy_asks(store: Client) -> None:
    assert list(standard_pipeline().steps) == [
        "training_window",
        "setup",
        "candidate",
        "registered",
        "gate",
    ]
    assert list(standard_pipeline(refit=True).steps)[-1] == "refitted"


def test_a_recency_weighted_retrain_goes_through_the_loop(store: Client) -> None:
    policy = _policy(refit=True)
    policy["retraining"]["training"]["recency_half_life"] = 150
    launch(store, MODEL, policy)
    _until_promoted(store)
    promoted = next(r for r in store.retrains(MODEL) if r.state == "promoted")
    assert store.get_version(f"models:/{MODEL}@champion").version == promoted.candidate_version
    # the shipped model is the champion's estimator fit on its rows weighted by their age
    from sklearn.linear_model import LogisticRegression

    from keel.controller.retrain_fitting import recency_weights

    shipped = store.get_version(f"{MODEL}/{promoted.candidate_version}")
    rows = store.load_snapshot(str(shipped.training_snapshot))
    weighted = LogisticRegression().fit(
        rows[["x0", "x1"]], rows["y"], sample_weight=recency_weights(len(rows), 150)
    )
    plain = LogisticRegression().fit(rows[["x0", "x1"]], rows["y"])
    model = store.load_model(f"{MODEL}/{promoted.candidate_version}").model
    assert model.coef_ == pytest.approx(weighted.coef_)
    assert model.coef_ != pytest.approx(plain.coef_)


def test_a_retrain_leaves_the_users_own_holdout_snapshot_alone(store: Client) -> None:
    from .scenario import batch

    launch(store, MODEL, _policy(refit=True))
    mine = store.register_snapshot(batch(300, 99, flipped=False), f"{MODEL}-holdout")
    _until_promoted(store)
    promoted = next(r for r in store.retrains(MODEL) if r.state == "promoted")
    gated = store.get_version(f"{MODEL}/{promoted.details['gated_version']}")
    assert gated.tags["holdout"].startswith(f"{MODEL}-retrain-holdout/")
    # a suite naming MODEL-holdout still evaluates on the user's rows, not a retrain's
    assert [s.version for s in store.list_snapshots(f"{MODEL}-holdout")] == [mine.version]
