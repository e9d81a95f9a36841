"""A/B tests (sample ratio mismatch, sequential decisions) and shadows, on both stores."""

from __future__ import annotations

import numpy as np

from keel.monitoring.outbox import list_notifications
from keel.registry import deployments
from keel.rollout import actions

from .conftest import MODEL, Rollout


def _ab(rollout: Rollout, **limits: object) -> int:
    return actions.deploy(
        rollout.client.db,
        "ann",
        MODEL,
        2,
        strategy="ab",
        steps=[50],
        sticky=True,
        limits={"min_labelled_rows": 100, **limits},
        reason="does the retrained model convert better?",
    ).id


def test_a_skewed_split_stops_the_test_for_sample_ratio_mismatch(rollout: Rollout) -> None:
    deployment_id = _ab(rollout)
    rollout.rows(1, 1_000, variant="stable")
    rollout.rows(2, 780, variant="candidate")
    result = rollout.advance(60)
    assert result.action == "stop"
    assert "sample ratio mismatch" in result.reasons[0]
    srm = result.analysis["srm"]
    assert srm["mismatch"] and srm["counts"] == {"stable": 1_000, "candidate": 780}
    record = deployments.get(rollout.client.db, deployment_id)
    assert (
        record.status == "stopped" and "sample ratio mismatch" in record.analysis[-1]["reasons"][0]
    )
    assert rollout.champion() == 1
    events = [n["event"] for n in list_notifications(rollout.client.db) if n["sink"] == "*"]
    assert events == ["deployment.stopped"]
    from keel.web.dashboard.model_view import model_page

    shown = model_page(rollout.client.services, MODEL)["deployments"][0]["split_check"]
    assert shown.startswith("sample ratio mismatch by rows: stable 1,000 rows 56.2%")


def test_a_better_candidate_wins_and_is_promoted(rollout: Rollout) -> None:
    deployment_id = _ab(rollout)
    stable = rollout.rows(1, 600, variant="stable")
    candidate = rollout.rows(2, 600, variant="candidate")
    rollout.label(stable, wrong=0.20)
    rollout.label(candidate, wrong=0.05)
    early = rollout.advance(60, at=None)
    assert early.action == "promote", early.reasons
    test = early.analysis["test"]
    assert test["decision"] == "candidate_better" and test["metric"] == "accuracy"
    assert test["interval"][0] > 0 and test["p_value"] < 0.05
    assert rollout.champion() == 2
    assert deployments.get(rollout.client.db, deployment_id).status == "promoted"


def test_a_worse_candidate_stops_the_test_and_the_stable_version_stays(rollout: Rollout) -> None:
    _ab(rollout)
    stable = rollout.rows(1, 600, variant="stable")
    candidate = rollout.rows(2, 600, variant="candidate")
    rollout.label(stable, wrong=0.05)
    rollout.label(candidate, wrong=0.20)
    result = rollout.advance(60)
    assert result.action == "stop" and "the candidate is worse" in result.reasons[0]
    assert rollout.champion() == 1


def test_an_undecided_test_waits_and_then_stops_at_its_maximum_size(rollout: Rollout) -> None:
    _ab(rollout, max_rows=1_000)
    stable = rollout.rows(1, 300, variant="stable")
    candidate = rollout.rows(2, 300, variant="candidate")
    rollout.label(stable, wrong=0.10)
    rollout.label(candidate, wrong=0.10)
    first = rollout.advance(60)
    assert first.action == "wait" and first.analysis["test"]["decision"] == "continue"
    stable = rollout.rows(1, 300, variant="stable")
    candidate = rollout.rows(2, 300, variant="candidate")
    rollout.label(stable, wrong=0.10)
    rollout.label(candidate, wrong=0.10)
    second = rollout.advance(120)
    assert second.action == "stop" and "maximum size" in second.reasons[0]
    assert rollout.champion() == 1


def test_a_shadow_reports_agreement_and_finishes_without_promoting(rollout: Rollout) -> None:
    deployment = actions.deploy(
        rollout.client.db, "ann", MODEL, 2, strategy="shadow", limits={"max_rows": 400}
    )
    ids = rollout.rows(1, 250, variant="stable")
    rollout.rows(2, 250, variant="shadow", request_ids=ids, same_requests=True)
    waiting = rollout.advance(60)
    assert waiting.action == "wait" and "250 of 400" in waiting.reasons[0]
    assert waiting.analysis["agreement"] == {
        "paired": 250,
        "agreement": 1.0,
        "mean_abs_difference": 0.0,
    }
    ids = rollout.rows(1, 200, variant="stable")
    rollout.rows(2, 200, variant="shadow", request_ids=ids, same_requests=True)
    done = rollout.advance(120)
    assert done.action == "finish" and done.deployment_after.status == "completed"
    assert rollout.champion() == 1
    trail = rollout.client.audit_log(subject=f"model:{MODEL}/2")
    assert (
        trail[0].action == "deployment.complete" and trail[0].details["deployment"] == deployment.id
    )


def test_an_error_rate_test_promotes_the_candidate_with_fewer_errors(rollout: Rollout) -> None:
    _ab(rollout, ab_metric="error_rate")
    rollout.rows(1, 1_500, variant="stable", error_rate=0.06)
    rollout.rows(2, 1_500, variant="candidate", error_rate=0.005)
    result = rollout.advance(60)
    assert result.action == "promote", result.reasons
    test = result.analysis["test"]
    assert test["metric"] == "error_rate" and test["estimate"] < 0 and not test["higher_is_better"]
    assert rollout.champion() == 2


def _keys(rng: np.random.Generator, names: list[str], per_key: int) -> list[str]:
    return list(rng.permutation(np.repeat(names, per_key)))


def test_a_sticky_test_counts_keys_not_rows_and_says_so(rollout: Rollout) -> None:
    """The live case: 209 of 400 keys on the candidate with 20 requests each (p = 5.7e-5 by
    rows) is a healthy split by keys; the test goes on, and its variance is by key too."""
    _ab(rollout, ab_metric="error_rate")
    rng = np.random.default_rng(5)
    customers = [f"customer-{i}" for i in range(400)]
    chosen = set(rng.choice(400, 209, replace=False).tolist())
    on_candidate = [c for i, c in enumerate(customers) if i in chosen]
    on_stable = [c for i, c in enumerate(customers) if i not in chosen]
    rollout.rows(1, 3_820, variant="stable", error_rate=0.02, entity_keys=_keys(rng, on_stable, 20))
    rollout.rows(
        2, 4_180, variant="candidate", error_rate=0.02, entity_keys=_keys(rng, on_candidate, 20)
    )
    result = rollout.advance(60)
    assert result.action == "wait", result.reasons
    split = result.analysis["srm"]
    assert not split["mismatch"] and split["unit"] == "keys"
    assert split["counts"] == {"stable": 191, "candidate": 209}
    assert split["rows"] == {"stable": 3_820, "candidate": 4_180}
    assert split["summary"].startswith("split as configured by keys: stable 191 keys")
    test = result.analysis["test"]
    assert test["unit"] == "keys" and test["units"] == [191, 209]
    assert test["rows"] == [3_820, 4_180]


def test_a_test_that_is_not_sticky_counts_rows(rollout: Rollout) -> None:
    actions.deploy(
        rollout.client.db, "ann", MODEL, 2, strategy="ab", steps=[50], sticky=False,
        limits={"ab_metric": "error_rate"},
    )  # fmt: skip
    rng = np.random.default_rng(6)
    names = [f"customer-{i}" for i in range(50)]
    rollout.rows(1, 1_000, variant="stable", entity_keys=_keys(rng, names, 20))
    rollout.rows(2, 780, variant="candidate", entity_keys=_keys(rng, names, 20)[:780])
    result = rollout.advance(60)
    assert result.action == "stop" and "sample ratio mismatch by rows" in result.reasons[0]
    assert result.analysis["srm"]["unit"] == "rows"


def test_an_accuracy_test_by_keys_still_finds_a_better_candidate(rollout: Rollout) -> None:
    _ab(rollout)
    rng = np.random.default_rng(7)
    stable = rollout.rows(
        1, 600, variant="stable", entity_keys=_keys(rng, [f"s{i}" for i in range(60)], 10)
    )
    candidate = rollout.rows(
        2, 600, variant="candidate", entity_keys=_keys(rng, [f"c{i}" for i in range(60)], 10)
    )
    rollout.label(stable, wrong=0.20)
    rollout.label(candidate, wrong=0.05)
    result = rollout.advance(60)
    assert result.action == "promote", result.reasons
    test = result.analysis["test"]
    assert test["metric"] == "accuracy" and test["unit"] == "keys" and test["units"] == [60, 60]
    assert "by keys: 60 and 60" in result.reasons[0]
