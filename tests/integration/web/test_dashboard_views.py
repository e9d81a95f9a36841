"""The dashboard's data functions over a small real store, on SQLite and PostgreSQL: the models
overview, the model, version, drift and audit pages (what the templates show)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from keel.errors import InvalidInput, NotFound
from keel.web.dashboard import audit_view
from keel.web.dashboard.audit_view import audit_page
from keel.web.dashboard.drift_view import window_page
from keel.web.dashboard.model_view import model_page
from keel.web.dashboard.overview import models_overview
from keel.web.dashboard.version_view import version_page
from tests.integration.web.dashboard_store import OTHER_ACTOR, Built


def by_name(found: Built) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in models_overview(found.client.services)}


def test_the_overview_lists_every_model_with_its_champion_challenger_and_split(
    small_store: Built,
) -> None:
    overview = models_overview(small_store.client.services)
    assert [m["name"] for m in overview] == ["bare", "fraud", "risk"]
    risk, fraud, bare = (by_name(small_store)[n] for n in ("risk", "fraud", "bare"))

    assert (risk["champion"], risk["challenger"], risk["versions"]) == (1, 3, 3)
    assert risk["deployment"]["strategy"] == "canary"
    assert risk["deployment"]["split"] == [
        {"version": 1, "share": pytest.approx(0.9)},
        {"version": 3, "share": pytest.approx(0.1), "shadow": False},
    ]
    assert (risk["risk_profile"], risk["threshold"]) == ("medium", 0.92)

    assert (fraud["champion"], fraud["challenger"]) == (2, None)  # v3 was rolled back
    assert fraud["deployment"]["split"] == [{"version": 2, "share": 1.0}]
    assert (fraud["risk_profile"], fraud["threshold"]) == ("low", 0.8)

    assert (bare["champion"], bare["challenger"], bare["risk_profile"]) == (None, None, None)
    assert bare["threshold"] is None
    assert bare["deployment"] == {"strategy": "none", "split": [], "deployment_id": None}


def test_the_overview_health_is_realized_from_the_newest_labelled_window(
    small_store: Built,
) -> None:
    windows = {w.id: w for w in small_store.client.monitor_windows("risk")}
    labelled, newest = windows[small_store.window_ids[3]], windows[small_store.window_ids[4]]
    assert labelled.labelled_rows == 200 and newest.labelled_rows == 0

    models = by_name(small_store)
    health = models["risk"]["health"]
    assert health["window_id"] == newest.id
    assert health["accuracy"] == pytest.approx(labelled.performance["accuracy"])
    assert health["accuracy"] < 0.7  # the flipped concept, not the calm windows before it
    assert datetime.fromisoformat(str(health["accuracy_end_at"])) == labelled.end_at
    assert health["estimated_accuracy"] == pytest.approx(newest.estimate["metrics"]["accuracy"])
    assert health["drifted"] == ["x1"]
    assert health["rows"] == 200
    assert models["risk"]["alerts"] == {"critical": 1, "warning": 1}
    assert models["fraud"]["health"] is None and models["fraud"]["alerts"] == {}


def test_the_model_page_lists_versions_with_their_verdicts_and_reasons(small_store: Built) -> None:
    page = model_page(small_store.client.services, "risk")
    versions = {v["version"]: v for v in page["versions"]}
    assert [v["version"] for v in page["versions"]] == [3, 2, 1]  # newest first
    assert {n: v["verdict"] for n, v in versions.items()} == {
        1: None,
        2: "rejected",
        3: "blessed",
    }
    assert versions[2]["reasons"] and "accuracy" in " ".join(versions[2]["reasons"])
    assert versions[1]["reasons"] == []
    assert versions[3]["model_class"] == "LogisticRegression"
    assert page["threshold"] == 0.92 and page["champion"] == 1
    assert page["deployment"]["strategy"] == "canary"


def test_the_model_page_draws_every_window_oldest_first(small_store: Built) -> None:
    page = model_page(small_store.client.services, "risk")
    assert [w["window_id"] for w in page["windows"]] == small_store.window_ids
    ends = [w["end_at"] for w in page["windows"]]
    assert ends == sorted(ends)
    assert page["latest_labelled"]["window_id"] == small_store.window_ids[3]
    assert [w["labelled_rows"] for w in page["windows"]] == [200, 200, 200, 200, 0]
    assert {a["severity"] for a in page["open_alerts"]} == {"critical", "warning"}
    assert model_page(small_store.client.services, "bare")["windows"] == []


def test_the_model_page_puts_retrains_promotions_rollbacks_and_champion_moves_on_the_axis(
    small_store: Built,
) -> None:
    risk = model_page(small_store.client.services, "risk")
    assert [e["kind"] for e in risk["events"]] == ["champion", "retrain"]
    assert "accuracy fell after the flip" in risk["events"][1]["text"]
    assert [r["state"] for r in risk["retrains"]] == ["queued"]

    fraud = model_page(small_store.client.services, "fraud")
    kinds = [e["kind"] for e in fraud["events"]]
    assert sorted(kinds) == ["champion", "champion", "promotion", "rollback"]
    at = [e["at"] for e in fraud["events"]]
    assert at == sorted(at)
    rollback = next(e for e in fraud["events"] if e["kind"] == "rollback")
    assert rollback["text"] == "v3 rolled back: errors went up"
    promotion = next(e for e in fraud["events"] if e["kind"] == "promotion")
    assert promotion["text"] == "v2 promoted (canary)"
    assert [d["status"] for d in fraud["deployments"]] == ["rolled_back", "promoted"]


def test_the_model_page_shows_which_version_held_each_alias_when(small_store: Built) -> None:
    periods = model_page(small_store.client.services, "fraud")["alias_periods"]
    assert [(p["alias"], p["version"]) for p in periods] == [("champion", 1), ("champion", 2)]
    assert periods[0]["end"] is not None and periods[1]["end"] is None
    assert periods[0]["reason"] == "first release"
    risk = model_page(small_store.client.services, "risk")["alias_periods"]
    assert [(p["alias"], p["version"], p["end"]) for p in risk] == [("champion", 1, None)]


def test_an_unknown_model_is_not_found(small_store: Built) -> None:
    with pytest.raises(NotFound):
        model_page(small_store.client.services, "nobody")


def test_the_version_graph_links_data_run_parent_and_deployments(small_store: Built) -> None:
    page = version_page(small_store.client.services, "risk", 3)
    graph = page["graph"]
    kinds = {n["id"]: n["kind"] for n in graph["nodes"]}
    run = page["run"]
    assert run is not None and run["name"] == "train-risk"
    deployment = page["deployments"][0]
    assert (deployment["role"], deployment["status"]) == ("candidate", "running")
    data = next(n for n, k in kinds.items() if k == "data")
    assert "risk-train" in data
    assert kinds == {
        "v1": "parent",
        "v3": "version",
        data: "data",
        f"run:{run['id']}": "run",
        f"deployment:{deployment['id']}": "deployment",
    }
    edges = {(e["from"], e["to"], e["label"]) for e in graph["edges"]}
    assert edges == {
        (data, f"run:{run['id']}", "train"),
        (f"run:{run['id']}", "v3", "trained"),
        ("v1", "v3", "parent of"),
        ("v3", f"deployment:{deployment['id']}", "candidate"),
    }
    assert page["parents"] == [1]
    assert 'load_model("models:/risk/3")' in page["load"]["python"]


def test_the_version_graph_of_a_parent_shows_its_child_and_its_stable_role(
    small_store: Built,
) -> None:
    page = version_page(small_store.client.services, "risk", 1)
    assert page["children"] == [3] and page["run"] is None
    kinds = {n["id"]: n["kind"] for n in page["graph"]["nodes"]}
    assert kinds["v3"] == "child"
    labels = {(e["from"], e["to"]): e["label"] for e in page["graph"]["edges"]}
    assert labels[("v1", "v3")] == "parent of"
    stable = [e for e in page["graph"]["edges"] if e["to"].startswith("deployment:")]
    assert [e["label"] for e in stable] == ["stable"]
    with pytest.raises(NotFound):
        version_page(small_store.client.services, "risk", 9)


def test_the_window_page_sorts_features_by_effect_largest_first(small_store: Built) -> None:
    newest = small_store.window_ids[-1]
    page = window_page(small_store.client.services, "risk", newest)
    features = page["features"]
    assert [f["feature"] for f in features] == ["x1", "x0"]  # x1 was shifted
    assert [f["drifted"] for f in features] == [True, False]
    effects = [f["effect"] for f in features]
    assert None not in effects and effects == sorted(effects, reverse=True)
    assert page["drifted"] == ["x1"]
    assert (page["previous"], page["next"]) == (small_store.window_ids[-2], None)
    middle = window_page(small_store.client.services, "risk", small_store.window_ids[2])
    assert (middle["previous"], middle["next"]) == (
        small_store.window_ids[1],
        small_store.window_ids[3],
    )
    assert middle["performance"]["accuracy"] > 0.9


def test_a_window_of_another_model_is_not_found(small_store: Built) -> None:
    with pytest.raises(NotFound):
        window_page(small_store.client.services, "fraud", small_store.window_ids[0])
    with pytest.raises(NotFound):
        window_page(small_store.client.services, "risk", small_store.window_ids[-1] + 100)


def test_the_audit_page_filters_by_model_action_and_actor(small_store: Built) -> None:
    services = small_store.client.services
    everything = audit_page(services)["entries"]
    assert [e["seq"] for e in everything] == sorted((e["seq"] for e in everything), reverse=True)

    fraud = audit_page(services, model="fraud")["entries"]
    assert fraud and {e["subject"].split("/")[0] for e in fraud} == {"model:fraud"}
    assert len(fraud) == sum(1 for e in everything if e["subject"].startswith("model:fraud"))

    gates = audit_page(services, action="gate.")["entries"]
    assert sorted(e["action"] for e in gates) == ["gate.blessed", "gate.rejected"]

    alice = audit_page(services, actor=OTHER_ACTOR)["entries"]
    assert alice and {e["actor"] for e in alice} == {OTHER_ACTOR}
    assert "deployment.rollback" in {e["action"] for e in alice}
    assert "gate.rejected" in audit_page(services)["actions"]


def test_the_audit_page_filters_by_time_in_any_time_zone(small_store: Built) -> None:
    services = small_store.client.services
    everything = audit_page(services)["entries"]
    middle = everything[len(everything) // 2]
    moment = datetime.fromisoformat(middle["at"])
    since = audit_page(services, since=moment)["entries"]
    until = audit_page(services, until=moment)["entries"]
    assert [e["seq"] for e in since] == [e["seq"] for e in everything if e["at"] >= middle["at"]]
    assert [e["seq"] for e in until] == [e["seq"] for e in everything if e["at"] <= middle["at"]]
    assert middle["seq"] in {e["seq"] for e in since} & {e["seq"] for e in until}

    east = moment.astimezone(timezone(timedelta(hours=2)))  # the same instant, written elsewhere
    assert audit_page(services, since=east)["entries"] == since
    assert audit_page(services, until=east)["entries"] == until
    assert audit_page(services, since=moment + timedelta(days=1))["entries"] == []


def test_the_audit_page_refuses_a_since_after_until(small_store: Built) -> None:
    now = datetime.now(UTC)
    with pytest.raises(InvalidInput) as raised:
        audit_page(small_store.client.services, since=now, until=now - timedelta(hours=1))
    assert raised.value.field == "since"


def test_the_audit_page_pages_back_with_older(
    small_store: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = small_store.client.services
    everything = [e["seq"] for e in audit_page(services)["entries"]]
    assert audit_page(services)["older"] is None
    monkeypatch.setattr(audit_view, "PAGE_SIZE", 7)
    seen: list[int] = []
    before = None
    pages = 0
    while True:
        page = audit_page(services, before_seq=before)
        seen.extend(e["seq"] for e in page["entries"])
        pages += 1
        assert len(page["entries"]) <= 7
        before = page["older"]
        if before is None:
            break
        assert before == seen[-1]
    assert seen == everything
    assert pages == -(-len(everything) // 7)
    filtered = audit_page(services, model="risk", before_seq=everything[0])
    assert all(e["seq"] < everything[0] for e in filtered["entries"])


def test_the_model_page_draws_the_majority_baseline_of_each_labelled_window(
    small_store: Built,
) -> None:
    page = model_page(small_store.client.services, "risk")
    stored = {w.id: w.performance for w in small_store.client.monitor_windows("risk")}
    drawn = [w["baseline_accuracy"] for w in page["windows"]]
    assert [value is not None for value in drawn] == [True, True, True, True, False]
    for window in page["windows"][:4]:
        majority = stored[window["window_id"]]["baselines"]["majority"]
        assert window["baseline_accuracy"] == majority["accuracy"] >= 0.5
