"""The closed-loop demo on a shortened lending scenario (the ``demo_run`` fixture): the loop runs
through the production paths and the story's events happen for the reasons the policy gives."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_every_application_went_through_the_serving_log(demo_run) -> None:  # type: ignore[no-untyped-def]
    from keel.client import Client

    world, folder, _, _ = demo_run
    store = folder / "store"
    with Client(f"sqlite:///{store / 'keel.db'}", str(store / "artifacts")) as client:
        log = client.read_predictions(world.model, labels=True)
    sent = sum(len(t.rows) for t in world.ticks)
    assert len(log) == sent  # answered or failed, every request is in the log
    assert log["timestamp"].min().year == 2025  # stamped by the demo's clock
    assert log["label"].notna().sum() == (log["status"] == "ok").sum()  # outcomes all arrived


def test_the_threshold_fired_the_retrains_and_the_gates_and_canary_judged_them(demo_run) -> None:  # type: ignore[no-untyped-def]
    from keel.client import Client

    world, folder, _, _ = demo_run
    store = folder / "store"
    with Client(f"sqlite:///{store / 'keel.db'}", str(store / "artifacts")) as client:
        retrains = list(reversed(client.retrains(world.model)))
        actions = [e.action for e in client.audit_log(limit=5000)]
    assert retrains, "the accuracy threshold never fired"
    assert all(r.trigger.startswith("accuracy < 0.92") for r in retrains)
    first = retrains[0]
    assert first.state == "rejected"  # the injected label-join bug
    assert "accuracy >= 0.92" in (first.outcome or "")
    if len(retrains) > 1:
        assert retrains[1].state == "rolled_back"  # the injected flaky feature lookup
        assert "error rate" in (retrains[1].outcome or "")
    assert "retrain.request" in actions and "retrain.rejected" in actions


def test_the_summary_and_the_report(demo_run) -> None:  # type: ignore[no-untyped-def]
    world, _, summary, page = demo_run
    assert [row["month"] for row in summary] == sorted({t.period for t in world.ticks})
    assert summary[0]["accuracy"] > 0.92
    assert min(r["accuracy"] for r in summary if r["accuracy"] is not None) < 0.92
    text = Path(page).read_text(encoding="utf-8")
    assert "<script src=" not in text and "http://" not in text.split("<script>")[0]
    assert "rejected" in text and "uPlot" in text


def test_a_rollback_is_counted_in_the_month_it_happened(demo_run) -> None:  # type: ignore[no-untyped-def]
    from keel.client import Client

    world, folder, summary, _ = demo_run
    store = folder / "store"
    with Client(f"sqlite:///{store / 'keel.db'}", str(store / "artifacts")) as client:
        rolled = [d for d in client.deployments(world.model) if d.status == "rolled_back"]
    by_month = {row["month"]: row["rollbacks"] for row in summary}
    assert sum(by_month.values()) == len(rolled)
    for deployment in rolled:  # the retrain may have started the month before
        assert by_month[f"{deployment.finished_at:%Y-%m}"] >= 1


def test_the_registry_carries_the_replayed_dates(demo_run) -> None:  # type: ignore[no-untyped-def]
    from keel.client import Client

    world, folder, _, _ = demo_run
    store = folder / "store"
    first, last = world.ticks[0].start, world.ticks[-1].end
    with Client(f"sqlite:///{store / 'keel.db'}", str(store / "artifacts")) as client:
        periods = client.alias_periods(world.model, "champion")
        versions = client.list_versions(world.model)
        promoted = [d for d in client.deployments(world.model) if d.status == "completed"]
    # versions and champion moves are dated in the replayed months, as the windows are, so
    # the dashboard draws them on the same time axis
    assert all(first <= v.created_at <= last for v in versions)
    assert all(first <= p.start <= last for p in periods)
    for deployment in promoted:  # the champion moved when its deployment finished
        assert any(abs(p.start - deployment.finished_at).days < 1 for p in periods)
