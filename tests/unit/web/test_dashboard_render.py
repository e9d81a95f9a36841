"""The dashboard's pure pieces: the template filters, the policy's accuracy threshold, the traffic
split of a deployment row, and the background audit-chain verification."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from keel.domain.stored_policy import accuracy_floor
from keel.registry import audit
from keel.store.database import Database
from keel.web.dashboard.audit_view import ChainWatcher
from keel.web.dashboard.overview import traffic_split
from keel.web.dashboard.render import (
    MISSING,
    Renderer,
    as_json,
    number,
    percent,
    readable,
    when,
)

# -- filters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "digits", "shown"),
    [
        (None, 3, MISSING),
        (float("nan"), 3, MISSING),
        (True, 3, "yes"),
        (False, 3, "no"),
        (1234567, 3, "1,234,567"),
        (0, 3, "0"),
        (0.91234, 3, "0.912"),
        (0.91234, 1, "0.9"),
        (-0.5, 2, "-0.50"),
        (12345.6, 3, "12,346"),
        (-1000.0, 3, "-1,000"),
        ("v3", 3, "v3"),
    ],
)
def test_number(value: Any, digits: int, shown: str) -> None:
    assert number(value, digits) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, MISSING),
        ("", MISSING),
        (datetime(2026, 3, 1, 12, 5, 59, tzinfo=UTC), "2026-03-01 12:05"),
        ("2026-03-01T12:05:59.123456+00:00", "2026-03-01 12:05"),
        ("2026-03-01", "2026-03-01 00:00"),
        ("not a time", "not a time"),
        (42, "42"),
    ],
)
def test_when(value: Any, shown: str) -> None:
    assert when(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, MISSING), (0.1, "10%"), (1.0, "100%"), (0, "0%"), (0.125, "12%"), ("0.5", "50%")],
)
def test_percent(value: Any, shown: str) -> None:
    assert percent(value) == shown


def test_as_json_is_markup_with_dates_and_records_spelled_out() -> None:
    @dataclass
    class Record:
        name: str

        def to_dict(self) -> dict[str, Any]:
            return {"name": self.name}

    moment = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    text = as_json({"at": moment, "record": Record("r"), "other": Path("/x"), "n": [1, 2.5]})
    assert isinstance(text, Markup)
    assert json.loads(text) == {
        "at": "2026-03-01T12:00:00+00:00",
        "record": {"name": "r"},
        "other": "/x",
        "n": [1, 2.5],
    }
    assert str(as_json("</script><script>alert(1)</script>")) == (
        '"<\\/script><script>alert(1)<\\/script>"'
    )


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from("</>sScript\\\"' \u2028\x00"), max_size=30)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet="</sx\\", max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_as_json_never_ends_a_script_block_and_round_trips(value: Any) -> None:
    text = str(as_json(value))
    assert "</" not in text
    assert json.loads(text) == value


def test_the_renderer_escapes_text_but_not_the_json_block() -> None:
    env = Renderer().env
    page = env.from_string(
        "<p>{{ name }}</p><script type='application/json'>{{ data | as_json }}</script>"
    )
    shown = page.render(name="<b>x</b>", data={"t": "</script>"})
    assert "<p>&lt;b&gt;x&lt;/b&gt;</p>" in shown
    assert '{"t":"<\\/script>"}' in shown
    assert env.from_string("{{ v | number(1) }} {{ s | percent }}").render(v=2.25, s=0.5) == (
        "2.2 50%"
    )


@given(JSON_VALUES)
def test_readable_json_round_trips_and_is_escaped_as_page_text(value: Any) -> None:
    assert json.loads(readable(value)) == value
    shown = Renderer().env.from_string("<td>{{ v | readable }}</td>").render(v=value)
    assert "<" not in shown[4:-5]  # the page's own tags aside, text only


def test_readable_json_shows_what_an_audit_entry_says() -> None:
    entry = {"rule": "accuracy < 0.92", "reason": "it's 0.9 > 0.8", "n": 3}
    shown = Renderer().env.from_string("{{ v | readable }}").render(v=entry)
    assert "\\u003c" not in shown and "u0027" not in shown
    assert "accuracy &lt; 0.92" in shown and "it&#39;s 0.9 &gt; 0.8" in shown
    assert readable({"a": [1, 2]}, 2) == '{\n  "a": [\n    1,\n    2\n  ]\n}'


# -- the accuracy threshold of a policy ---------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "threshold"),
    [
        (None, None),
        ({}, None),
        ({"risk_profile": "low"}, None),
        ({"monitoring": {"accuracy_threshold": 0.8}}, 0.8),
        ({"monitoring": {"accuracy_threshold": 0.8, "alerts": ["accuracy < 0.9"]}}, 0.8),
        (
            {
                "monitoring": {
                    "alerts": [
                        "accuracy < 0.92 over the last 1,000 labelled predictions as critical"
                    ]
                }
            },
            0.92,
        ),
        ({"monitoring": {"alerts": ["accuracy <= 0.75"]}}, 0.75),
        ({"monitoring": {"alerts": [{"rule": "accuracy < 0.7"}]}}, 0.7),
        (
            {
                "monitoring": {
                    "alerts": ["drifted_features >= 3", "latency_p99_ms > 50", "f1 < 0.9"]
                }
            },
            None,
        ),
        ({"monitoring": {"alerts": ["accuracy > 0.99"]}}, None),  # not a floor
        ({"monitoring": {"alerts": ["accuracy < lots", "accuracy < 0.6"]}}, 0.6),
        ({"monitoring": {"alerts": None, "accuracy_threshold": None}}, None),
    ],
)
def test_accuracy_floor(policy: dict[str, Any] | None, threshold: float | None) -> None:
    assert accuracy_floor(policy) == threshold


def test_policy_threshold_reads_what_the_policy_stores() -> None:
    from keel.domain.policy import Policy

    stored = Policy.parse(
        {"monitoring": {"alerts": ["accuracy < 0.92 over the last 1,000 labelled predictions"]}},
        "policy",
    ).to_dict()
    assert accuracy_floor(stored) == 0.92
    shorthand = Policy.parse({"monitoring": {"accuracy_threshold": 0.85}}, "policy").to_dict()
    assert accuracy_floor(shorthand) == 0.85


# -- the traffic split ------------------------------------------------------------------------


@dataclass
class Row:
    """A deployment row as the overview reads it (weights are stored in percent)."""

    strategy: str
    stable_version: int | None
    candidate_version: int
    candidate_weight: float
    id: int = 7
    step: int = 0
    steps: tuple[float, ...] = (10.0, 50.0, 100.0)


def test_without_a_deployment_the_champion_serves_everything() -> None:
    assert traffic_split(None, 4) == {
        "strategy": "champion",
        "split": [{"version": 4, "share": 1.0}],
        "deployment_id": None,
    }
    assert traffic_split(None, None) == {"strategy": "none", "split": [], "deployment_id": None}


def test_a_canary_splits_by_its_weight() -> None:
    split = traffic_split(Row("canary", 1, 3, 25.0, step=1), 1)
    assert split["strategy"] == "canary"
    assert split["split"] == [
        {"version": 1, "share": pytest.approx(0.75)},
        {"version": 3, "share": pytest.approx(0.25), "shadow": False},
    ]
    assert (split["deployment_id"], split["step"], split["steps"]) == (7, 1, (10.0, 50.0, 100.0))
    assert sum(part["share"] for part in split["split"]) == pytest.approx(1.0)


def test_a_shadow_leaves_everything_on_the_stable_version() -> None:
    split = traffic_split(Row("shadow", 2, 5, 100.0), 2)
    assert split["split"] == [
        {"version": 2, "share": 1.0},
        {"version": 5, "share": 1.0, "shadow": True},
    ]


def test_a_deployment_without_a_stable_version_shows_the_candidate_alone() -> None:
    split = traffic_split(Row("replace", None, 1, 100.0), None)
    assert split["split"] == [{"version": 1, "share": 1.0, "shadow": False}]


# -- the audit chain, verified in the background -------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    made = Database(f"sqlite:///{tmp_path / 'keel.db'}")
    with made.write() as conn:
        for n in range(3):
            audit.append(conn, "tester", "note.add", f"note:{n}", {"n": n})
    yield made
    made.close()


class HeldWatcher(ChainWatcher):
    """A watcher whose verifications wait for ``go`` before they walk the chain, and counted."""

    def __init__(self, db: Database, **options: Any) -> None:
        super().__init__(lambda: audit.verify(db), **options)
        self.go = threading.Event()
        self.started = 0

    def _verify(self) -> None:
        self.started += 1
        self.go.wait(10)
        super()._verify()


def test_the_watcher_answers_whether_the_chain_verifies(db: Database) -> None:
    watcher = ChainWatcher(lambda: audit.verify(db))
    verified, running = watcher.current(wait_s=10)
    assert verified is not None and not running
    assert verified.result.intact and verified.result.checked == 3
    assert verified.seconds >= 0


def test_the_watcher_runs_one_verification_at_a_time(db: Database) -> None:
    watcher = HeldWatcher(db)
    answers = []
    callers = [
        threading.Thread(target=lambda: answers.append(watcher.current(wait_s=0))) for _ in range(8)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert answers == [(None, True)] * 8  # nothing yet, and one running
    assert watcher.started == 1
    watcher.go.set()
    verified, running = watcher.current(wait_s=10)
    assert verified is not None and verified.result.intact and not running
    assert watcher.current(wait_s=0) == (verified, False)  # fresh: no new verification
    assert watcher.started == 1


def test_the_watcher_verifies_again_once_its_answer_is_old(db: Database) -> None:
    watcher = HeldWatcher(db, max_age_s=0.05)
    watcher.go.set()
    first, _ = watcher.current(wait_s=10)
    assert first is not None and watcher.started == 1
    time.sleep(0.1)
    with db.write() as conn:
        audit.append(conn, "tester", "note.add", "note:3", {"n": 3})
    second, running = watcher.current(wait_s=10)
    assert watcher.started == 2 and not running
    assert second is not None and second.at > first.at and second.result.checked == 4
