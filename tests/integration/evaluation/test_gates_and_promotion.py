"""Gates on both back ends: verdicts with reasons, the audit trail, and champion enforcement."""

from __future__ import annotations

from typing import Any

import pytest

from keel.client import Client
from keel.errors import GateFailed, InvalidInput

from .conftest import HOLDOUT_SUITE, Cancer

NON_INFERIOR = "roc_auc not worse than champion by more than {margin} at 95% confidence"


def policy(*checks: str, profile: str = "low", **more: Any) -> dict[str, Any]:
    return {
        "risk_profile": profile,
        "suites": {"holdout": HOLDOUT_SUITE},
        "gates": {"checks": list(checks)},
        **more,
    }


def test_every_kind_of_gate_blesses_a_good_version(registered: Client) -> None:
    rules = policy(
        "accuracy >= 0.9",
        "slice large: recall >= 0.8",
        "size_mb <= 50",
        NON_INFERIOR.format(margin=0.5),
        "accuracy beats baseline majority by 0.1",
    )
    rules["suites"]["holdout"] = {**HOLDOUT_SUITE, "measure_cost": True}
    evaluation, outcome = registered.gate("cancer@champion", policy=rules)
    assert outcome.verdict == "blessed", outcome.reasons
    assert [c["kind"] for c in outcome.checks] == [
        "absolute",
        "slice",
        "cost",
        "comparative",
        "baseline",
    ]
    assert all(c["passed"] for c in outcome.checks)
    comparative = outcome.checks[3]
    assert comparative["detail"] == "no other version is champion: nothing to compare with"
    assert registered.get_policy("cancer") == registered.set_policy("cancer", rules)
    history = registered.gate_history("cancer/1")
    assert [(g.verdict, g.evaluation_id) for g in history] == [("blessed", evaluation.id)]
    assert history[0].checks == outcome.checks and history[0].author == "tester"


def test_each_failing_gate_gives_its_reason(registered: Client) -> None:
    rules = policy(
        "accuracy >= 0.9",
        "slice north: accuracy >= 0.9",
        "slice nowhere: accuracy >= 0.5",
        "latency_p99_ms <= 1000",
        "accuracy beats baseline majority by 0.25",
        "accuracy beats baseline persistence",
    )
    evaluation, outcome = registered.gate("cancer/2", policy=rules)
    assert outcome.verdict == "rejected"
    snap = evaluation.snapshot()
    accuracy = snap["metrics"]["accuracy"]
    majority = snap["baselines"]["majority"]["accuracy"]
    north = snap["slices"]["north"]
    assert outcome.reasons == [
        f"accuracy >= 0.9 on holdout/1: {accuracy:.4g} ({snap['rows']} rows)",
        f"slice north: accuracy >= 0.9 on holdout/1: {north['accuracy']:.4g} "
        f"({north['rows']} rows)",
        "slice nowhere: accuracy >= 0.5 on holdout/1 (the slice has no rows)",
        "latency_p99_ms <= 1000 (cost was not measured)",
        f"accuracy beats baseline majority by 0.25 on holdout/1: {accuracy:.4g} "
        f"(majority scores {majority:.4g})",
        f"accuracy beats baseline persistence on holdout/1: {accuracy:.4g} "
        "(no persistence baseline: the suite is not time-ordered)",
    ]
    assert accuracy > majority  # beats majority, but not by the 0.25 the gate asks


def test_non_inferiority_uses_the_bootstrap_bound(registered: Client) -> None:
    loose = NON_INFERIOR.format(margin=0.5)
    tight = NON_INFERIOR.format(margin=0.05)
    evaluation, outcome = registered.gate("cancer/2", policy=policy(loose, tight))
    difference = evaluation.snapshot()["comparison"]["differences"]["roc_auc"]
    bound = difference["quantiles"]["0.05"]
    assert -0.5 < bound < -0.05 < 0
    assert [c["passed"] for c in outcome.checks] == [True, False]
    assert outcome.checks[0]["value"] == difference["difference"]
    assert f"one-sided lower bound {bound:+.4g}" in outcome.checks[1]["detail"]
    assert outcome.reasons == [
        f"{tight} on holdout/1: {difference['difference']:.4g} ({outcome.checks[1]['detail']})"
    ]


def test_the_same_model_is_not_inferior_to_itself(registered: Client, cancer: Cancer) -> None:
    same = registered.register_model(
        "cancer", cancer.strong, training_data="cancer-train/1", target="target"
    )
    evaluation, outcome = registered.gate(
        f"cancer/{same.version}", policy=policy(NON_INFERIOR.format(margin=0))
    )
    assert outcome.blessed
    difference = evaluation.snapshot()["comparison"]["differences"]["roc_auc"]
    assert difference["difference"] == 0.0 and difference["ci95"] == [0.0, 0.0]


def test_gates_and_evaluations_are_in_the_audit_trail(registered: Client) -> None:
    rules = policy("accuracy >= 0.9", profile="medium")
    registered.set_policy("cancer", rules, source="policies/cancer.yaml")
    blessed_eval, _ = registered.gate("cancer/1")
    rejected_eval, _ = registered.gate("cancer/2")
    by_action = {
        action: registered.audit_log(action=action)
        for action in ("policy.set", "evaluation.record", "gate.blessed", "gate.rejected")
    }
    assert by_action["policy.set"][0].details["source"] == "policies/cancer.yaml"
    assert by_action["policy.set"][0].details["gates"] == ["accuracy >= 0.9"]
    recorded = {e.details["evaluation"]: e for e in by_action["evaluation.record"]}
    assert set(recorded) == {blessed_eval.id, rejected_eval.id}
    assert recorded[blessed_eval.id].subject == "model:cancer/1"
    assert recorded[rejected_eval.id].details["snapshots"] == ["holdout/1"]
    assert recorded[rejected_eval.id].details["champion"] == "cancer/1"
    [blessed] = by_action["gate.blessed"]
    [rejected] = by_action["gate.rejected"]
    assert (blessed.subject, blessed.details["evaluation"]) == ("model:cancer/1", blessed_eval.id)
    assert rejected.subject == "model:cancer/2" and rejected.details["failed"] == 1
    assert rejected.details["risk_profile"] == "medium"
    assert rejected.details["reasons"][0].startswith("accuracy >= 0.9 on holdout/1")
    setting_the_same_policy_again = registered.set_policy("cancer", rules)
    assert setting_the_same_policy_again.risk_profile == "medium"
    assert len(registered.audit_log(action="policy.set")) == 1
    assert registered.verify_audit().intact


def test_medium_profile_needs_a_blessed_gate(registered: Client, cancer: Cancer) -> None:
    registered.set_policy("cancer", policy("accuracy >= 0.9", profile="medium"))
    with pytest.raises(GateFailed) as refused:
        registered.set_alias("cancer", "champion", 2, reason="try")
    assert refused.value.fields["problems"] == ["it has not passed the gates (none were run)"]
    assert refused.value.fields["risk_profile"] == "medium"
    _, outcome = registered.gate("cancer/2")
    assert outcome.verdict == "rejected"
    with pytest.raises(GateFailed, match=r"its latest gate verdict is rejected: accuracy >= 0\.9"):
        registered.set_alias("cancer", "champion", 2, reason="try again")
    assert registered.get_version("models:/cancer@champion").version == 1
    registered.set_alias("cancer", "challenger", 2, reason="other aliases are not guarded")
    better = registered.register_model(
        "cancer", cancer.strong, training_data="cancer-train/1", target="target"
    )
    _, outcome = registered.gate(f"cancer/{better.version}")
    assert outcome.blessed
    registered.set_alias("cancer", "champion", better.version, reason="blessed")
    assert registered.get_version("models:/cancer@champion").version == better.version
    assert registered.audit_log(action="gate.override") == []


def test_forcing_past_the_gates_needs_a_reason_and_is_audited(registered: Client) -> None:
    registered.set_policy(
        "cancer",
        policy("accuracy >= 0.9", NON_INFERIOR.format(margin=0.01), profile="high"),
    )
    registered.gate("cancer/2")
    for reason in ("", "   "):
        with pytest.raises(InvalidInput) as raised:
            registered.set_alias("cancer", "champion", 2, reason=reason, force=True)
        assert raised.value.field == "reason"
    assert registered.get_version("models:/cancer@champion").version == 1
    registered.set_alias("cancer", "champion", 2, reason="incident 42: v1 leaks", force=True)
    assert registered.get_version("models:/cancer@champion").version == 2
    [override] = registered.audit_log(action="gate.override")
    assert override.subject == "model:cancer/2" and override.actor == "tester"
    assert override.details["reason"] == "incident 42: v1 leaks"
    assert override.details["problems"][0].startswith("its latest gate verdict is rejected")
    moved = registered.audit_log(action="alias.set", limit=1)[0]
    assert moved.details["forced"] is True and moved.details["previous"] == 1


def test_require_approval_needs_a_recorded_approval(registered: Client) -> None:
    rules = policy("accuracy >= 0.9", profile="medium", promotion={"require_approval": True})
    registered.set_policy("cancer", rules)
    registered.set_alias("cancer", "champion", 2, reason="make room", force=True)
    _, outcome = registered.gate("cancer/1")
    assert outcome.blessed
    with pytest.raises(GateFailed) as refused:
        registered.set_alias("cancer", "champion", 1, reason="blessed")
    assert refused.value.fields["problems"] == ["it has no recorded approval"]
    with pytest.raises(InvalidInput):
        registered.approve("cancer/1", reason=" ")
    registered.approve("cancer/1", reason="reviewed the slices")
    registered.set_alias("cancer", "champion", 1, reason="blessed and approved")
    assert registered.get_version("models:/cancer@champion").version == 1
    [approval] = registered.audit_log(action="version.approve")
    assert approval.subject == "model:cancer/1"
    assert approval.details == {"reason": "reviewed the slices"}


def test_the_low_profile_needs_nothing(registered: Client) -> None:
    registered.set_policy("cancer", policy("accuracy >= 0.99"))
    _, outcome = registered.gate("cancer/2")
    assert outcome.verdict == "rejected"
    registered.set_alias("cancer", "champion", 2, reason="low risk")
    assert registered.get_version("models:/cancer@champion").version == 2
    assert registered.audit_log(action="gate.override") == []


def test_gate_needs_a_policy_and_a_known_suite(registered: Client) -> None:
    with pytest.raises(InvalidInput) as raised:
        registered.gate("cancer/2")
    assert raised.value.field == "policy" and "has no policy" in raised.value.problem
    registered.set_policy("cancer", policy("accuracy >= 0.5"))
    with pytest.raises(InvalidInput) as unknown:
        registered.evaluate("cancer/2", "recent")
    assert unknown.value.field == "suite" and "(suites: holdout)" in unknown.value.problem
    evaluation = registered.evaluate("cancer/2")
    assert evaluation.suite == "holdout" and evaluation.status == "finished"


def test_a_failed_evaluation_is_rejected(registered: Client) -> None:
    from .test_runner import Exploding

    broken = registered.register_model(
        "cancer", Exploding(), training_data="cancer-train/1", target="target", trust="code"
    )
    evaluation, outcome = registered.gate(
        f"cancer/{broken.version}", policy=policy("accuracy >= 0.5", profile="medium")
    )
    assert evaluation.status == "failed"
    assert outcome.verdict == "rejected"
    assert outcome.reasons == [f"the evaluation failed: {evaluation.error}"]
    assert registered.gate_history(f"cancer/{broken.version}")[0].evaluation_id == evaluation.id
