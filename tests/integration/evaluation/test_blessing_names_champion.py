"""A blessing names the champion it beat: promoting against another champion gates again first.

The case of the issue: under the ``high`` profile, a version blessed when no champion existed
was deployed by canary against a newer champion without ever being compared with it.
"""

from __future__ import annotations

from typing import Any

import pytest

from keel.client import Client
from keel.errors import GateFailed
from keel.registry import deployments
from keel.rollout import actions

from .conftest import HOLDOUT_SUITE, Cancer

NON_INFERIOR = "roc_auc not worse than champion by more than 0.02 at 95% confidence"


def policy(profile: str, *checks: str) -> dict[str, Any]:
    return {
        "risk_profile": profile,
        "suites": {"holdout": {**HOLDOUT_SUITE, "slices": {}, "resamples": 100}},
        "gates": {"checks": ["accuracy >= 0.5", *checks]},
    }


@pytest.fixture
def blessed_alone(client: Client, cancer: Cancer) -> Client:
    """cancer/1 strong, cancer/2 weak, cancer/3 strong again: each blessed under ``high`` while
    no champion existed; then cancer/1 becomes champion."""
    train = client.register_snapshot(cancer.train, "cancer-train")
    client.register_snapshot(cancer.holdout, "holdout")
    for model in (cancer.strong, cancer.weak, cancer.strong):
        client.register_model("cancer", model, training_data=train, target="target")
    client.set_policy("cancer", policy("high", NON_INFERIOR))
    for version in (1, 2, 3):
        _, outcome = client.gate(f"cancer/{version}")
        assert outcome.blessed and outcome.champion is None, outcome.reasons
    client.set_alias("cancer", "champion", 1, reason="first release")
    return client


def test_moving_the_alias_or_deploying_blind_refuses_with_the_gate_command(
    blessed_alone: Client,
) -> None:
    with pytest.raises(GateFailed) as refused:
        blessed_alone.set_alias("cancer", "champion", 2, reason="try")
    assert refused.value.fields["problems"] == [
        "its blessing compared it with no champion, but the champion is now cancer/1"
    ]
    assert "Run `keel gate cancer/2`" in refused.value.message
    assert blessed_alone.get_version("models:/cancer@champion").version == 1
    # a deploy given no artifact store cannot load the models: it refuses with the command
    with pytest.raises(GateFailed) as refused:
        actions.deploy(blessed_alone.db, "ann", "cancer", 2, strategy="canary", steps=[10, 100])
    assert "Run `keel gate cancer/2` before deploying it" in refused.value.message
    assert len(blessed_alone.gate_history("cancer/2")) == 1  # nothing ran


def test_a_canary_against_a_newer_champion_gates_again_and_is_refused(
    blessed_alone: Client,
) -> None:
    with pytest.raises(GateFailed, match="its latest gate verdict is rejected: roc_auc not worse"):
        blessed_alone.deploy("cancer", 2, strategy="canary", steps=[10, 100])
    first, again = blessed_alone.gate_history("cancer/2")
    assert (first.verdict, first.champion_version) == ("blessed", None)
    assert (again.verdict, again.champion_version) == ("rejected", 1)
    [audited] = blessed_alone.audit_log(action="gate.rejected")
    assert audited.details["champion"] == "cancer/1"
    assert audited.details["cause"] == (
        "the champion changed since the blessing (compared with no champion, now cancer/1)"
    )
    assert deployments.running(blessed_alone.db, "cancer") is None


def test_a_canary_whose_fresh_gates_pass_starts_and_is_gated_again_when_the_champion_moves(
    blessed_alone: Client,
) -> None:
    started = blessed_alone.deploy("cancer", 3, strategy="canary", steps=[10, 100])
    assert started.status == "running" and started.stable_version == 1
    assert [g.champion_version for g in blessed_alone.gate_history("cancer/3")] == [None, 1]
    blessed_alone.set_alias("cancer", "champion", 2, reason="hotfix", force=True)
    with pytest.raises(GateFailed, match="compared it with champion cancer/1, but the champion"):
        actions.promote(blessed_alone.db, "ann", started, reason="looks fine")
    done = actions.promote(
        blessed_alone.db, "ann", started, reason="looks fine", artifacts=blessed_alone.artifacts
    )
    assert done.status == "promoted"
    assert blessed_alone.get_version("models:/cancer@champion").version == 3
    assert [g.champion_version for g in blessed_alone.gate_history("cancer/3")] == [None, 1, 2]


def test_a_forced_replace_does_not_gate_again_and_other_profiles_do_not_care(
    blessed_alone: Client,
) -> None:
    done = blessed_alone.deploy("cancer", 2, strategy="replace", reason="incident 7", force=True)
    assert done.status == "completed"
    assert len(blessed_alone.gate_history("cancer/2")) == 1
    [override] = blessed_alone.audit_log(action="gate.override")
    assert override.details["problems"][0].startswith("its blessing compared it with no champion")
    # without a gate that compares with the champion, a blessing does not depend on it
    blessed_alone.set_policy("cancer", policy("medium"))
    blessed_alone.set_alias("cancer", "champion", 3, reason="no gate compares with it")
    assert blessed_alone.get_version("models:/cancer@champion").version == 3
    assert len(blessed_alone.gate_history("cancer/3")) == 1


def test_the_dashboards_promote_gates_again_like_every_other_door(blessed_alone: Client) -> None:
    import warnings

    from starlette.exceptions import StarletteDeprecationWarning

    from keel.web.dashboard import create_dashboard

    with warnings.catch_warnings():  # Starlette asks for httpx2 on import
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from fastapi.testclient import TestClient

    app = create_dashboard(blessed_alone.settings, client=blessed_alone, token_ttl_s=0.0)
    with TestClient(app) as http:
        weak = http.post("/api/models/cancer/promote", json={"version": 2, "reason": "ship it"})
        strong = http.post("/api/models/cancer/promote", json={"version": 3, "reason": "ship it"})
    assert weak.status_code == 409, weak.text
    assert "its latest gate verdict is rejected" in weak.json()["message"]
    assert strong.status_code == 200, strong.text
    assert strong.json()["action"] == "champion_replaced"
    assert blessed_alone.get_version("models:/cancer@champion").version == 3
    assert [g.champion_version for g in blessed_alone.gate_history("cancer/2")] == [None, 1]
