"""The registry's clock: the wall clock, or a replay's clock inside ``replayed`` (this context
only: another thread keeps the wall clock)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from keel.registry.clock import replayed, utcnow

PAST = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_the_wall_clock_by_default() -> None:
    before = datetime.now(UTC)
    assert before <= utcnow() <= datetime.now(UTC)


def test_a_replay_sets_the_clock_for_its_block_only() -> None:
    with replayed(lambda: PAST):
        assert utcnow() == PAST
        with replayed(lambda: PAST + timedelta(days=1)):
            assert utcnow() == PAST + timedelta(days=1)
        assert utcnow() == PAST
        seen: list[datetime] = []
        worker = threading.Thread(target=lambda: seen.append(utcnow()))
        worker.start()
        worker.join()
        assert seen[0] > PAST + timedelta(days=365)  # the other thread reads the wall clock
    assert utcnow() > PAST + timedelta(days=365)
