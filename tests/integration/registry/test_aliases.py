"""Aliases and their history: which version was champion, from when to when, by whom, why."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from keel.client import Client
from keel.errors import Conflict, InvalidInput, NotFound
from keel.settings import Settings


@pytest.fixture
def bob(settings: Settings, client: Client) -> Iterator[Client]:
    """A second user on the same store."""
    with Client(settings=settings.model_copy(update={"actor": "bob"})) as other:
        yield other


@pytest.fixture
def three(client: Client, fitted_model: Any) -> Client:
    for _ in range(3):
        client.register_model("cancer", fitted_model)
    return client


def test_set_alias_points_at_a_version(three: Client) -> None:
    version = three.set_alias("cancer", "champion", 2, reason="best auc")
    assert version.version == 2
    assert three.get_version("cancer@champion").version == 2
    assert three.list_models()[0].aliases == {"champion": 2}


def test_history_and_periods_answer_who_when_and_why(three: Client, bob: Client) -> None:
    three.set_alias("cancer", "champion", 1, reason="first release")
    three.set_alias("cancer", "challenger", 2, reason="try it")
    bob.set_alias("cancer", "champion", 2, reason="won the A/B test")
    three.set_alias("cancer", "champion", 2, reason="no-op")  # already there: not recorded
    bob.delete_alias("cancer", "champion", reason="incident 42")
    three.set_alias("cancer", "champion", 3, reason="hotfix")

    moves = three.alias_history("cancer", "champion")
    assert [(m.version, m.previous_version, m.moved_by, m.reason) for m in moves] == [
        (1, None, "tester", "first release"),
        (2, 1, "bob", "won the A/B test"),
        (None, 2, "bob", "incident 42"),
        (3, None, "tester", "hotfix"),
    ]
    assert all(m.model == "cancer" and m.alias == "champion" for m in moves)
    assert [m.moved_at for m in moves] == sorted(m.moved_at for m in moves)
    assert len(three.alias_history("cancer")) == 5  # every alias

    periods = three.alias_periods("cancer", "champion")
    assert [(p.version, p.moved_by, p.reason) for p in periods] == [
        (1, "tester", "first release"),
        (2, "bob", "won the A/B test"),
        (3, "tester", "hotfix"),
    ]
    assert periods[0].start == moves[0].moved_at
    assert periods[0].end == moves[1].moved_at == periods[1].start
    assert periods[1].end == moves[2].moved_at  # the deletion closed it
    assert periods[2].end is None  # still champion
    everything = three.alias_periods("cancer")
    assert [(p.alias, p.version) for p in everything] == [
        ("champion", 1),
        ("challenger", 2),
        ("champion", 2),
        ("champion", 3),
    ]


def test_moves_are_audited_with_reason_and_previous(three: Client, bob: Client) -> None:
    three.set_alias("cancer", "champion", 1, reason="first")
    bob.set_alias("cancer", "champion", 3, reason="better")
    three.set_alias("cancer", "champion", 3)  # no-op, no entry
    bob.delete_alias("cancer", "champion", reason="rollback")
    entries = three.audit_log(subject="model:cancer", action="alias", limit=None)
    keys = ("alias", "version", "previous", "reason")
    assert [
        (e.action, e.actor, {k: e.details[k] for k in keys if k in e.details})
        for e in reversed(entries)
    ] == [
        (
            "alias.set",
            "tester",
            {"alias": "champion", "version": 1, "previous": None, "reason": "first"},
        ),
        (
            "alias.set",
            "bob",
            {"alias": "champion", "version": 3, "previous": 1, "reason": "better"},
        ),
        ("alias.delete", "bob", {"alias": "champion", "previous": 3, "reason": "rollback"}),
    ]


def test_deleted_aliases_no_longer_resolve(three: Client) -> None:
    three.set_alias("cancer", "champion", 1)
    three.delete_alias("cancer", "champion")
    with pytest.raises(NotFound) as caught:
        three.load_model("cancer@champion")
    assert caught.value.kind == "alias"
    with pytest.raises(NotFound):
        three.delete_alias("cancer", "champion")


def test_alias_errors(three: Client) -> None:
    with pytest.raises(NotFound) as caught:
        three.set_alias("cancer", "champion", 9)
    assert caught.value.kind == "version"
    with pytest.raises(NotFound) as caught:
        three.set_alias("nothing", "champion", 1)
    assert caught.value.kind == "model"
    with pytest.raises(NotFound):
        three.alias_history("nothing")
    for alias in ("latest", "1st", "two words", ""):
        with pytest.raises(InvalidInput) as caught_input:
            three.set_alias("cancer", alias, 1)
        assert caught_input.value.field == "alias"
    for version in (0, -1, "x"):
        with pytest.raises(InvalidInput) as caught_input:
            three.set_alias("cancer", "champion", version)  # type: ignore[arg-type]
        assert caught_input.value.field == "version"
    with pytest.raises(InvalidInput) as caught_input:
        three.set_alias("bad name", "champion", 1)
    assert caught_input.value.field == "model"
    three.archive_version("cancer/1")
    with pytest.raises(Conflict):
        three.set_alias("cancer", "champion", 1)
    assert three.alias_history("cancer") == []


def test_one_version_may_hold_several_aliases(three: Client) -> None:
    three.set_alias("cancer", "champion", 2)
    three.set_alias("cancer", "stable", 2)
    assert three.list_models()[0].aliases == {"champion": 2, "stable": 2}
    with pytest.raises(Conflict) as caught:
        three.archive_version("cancer/2")
    assert sorted(caught.value.fields["aliases"]) == ["champion", "stable"]
