"""Step windows cut from a real Parquet log by part arrival, variant splitting, and limits."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from keel.domain.policy import Rollout
from keel.errors import InvalidInput
from keel.registry.predictions import log_predictions, prediction_table
from keel.rollout.controller import watch
from keel.rollout.limits import LIMIT_KEYS, Limits
from keel.rollout.window import part_key, part_time_ns, read_window, split_variants
from keel.store.prediction_log import ParquetLogStore


def _log(logs: ParquetLogStore, version: int, n: int, variant: str | None) -> str:
    table = prediction_table(
        pd.DataFrame({"x": range(n)}), version=version, predictions=[0] * n, variant=variant
    )
    return log_predictions(logs, "m", version, table).part


def test_windows_read_parts_after_a_position_or_since_a_moment(tmp_path: Path) -> None:
    logs = ParquetLogStore(str(tmp_path))
    assert read_window(logs, "m").rows.empty
    first = _log(logs, 1, 5, "stable")
    middle = datetime.now(UTC)
    time.sleep(0.01)
    second = _log(logs, 2, 3, "candidate")
    third = _log(logs, 1, 2, None)
    everything = read_window(logs, "m")
    assert (len(everything.rows), everything.parts, everything.position) == (10, 3, part_key(third))
    assert list(everything.rows.columns)[:3] == ["request_id", "version", "variant"]
    assert len(read_window(logs, "m", since=middle).rows) == 5
    after = read_window(logs, "m", after=part_key(second))
    assert (len(after.rows), after.position) == (2, part_key(third))
    empty = read_window(logs, "m", after=part_key(third))
    assert (empty.parts, empty.position) == (0, part_key(third))
    assert part_time_ns(first) < part_time_ns(second)
    with pytest.raises(InvalidInput):
        part_time_ns("date=2026-01-01/notes.txt")


def test_variants_must_agree_with_versions() -> None:
    frame = pd.DataFrame(
        {
            "version": [1, 1, 1, 2, 2, 2, 3],
            "variant": ["stable", None, "candidate", "candidate", "shadow", "stable", None],
        }
    )
    stable, candidate = split_variants(frame, 1, 2)
    assert stable["variant"].fillna("-").tolist() == ["stable", "-"]
    assert candidate["variant"].tolist() == ["candidate", "shadow"]


def test_limits_come_from_the_policy_with_overrides_validated() -> None:
    policy = Rollout(max_rows=500, auto_rollback=True)
    limits = Limits.resolve(policy, {"alpha": 0.01})
    assert (limits.max_rows, limits.alpha, limits.auto_rollback) == (500, 0.01, True)
    assert set(limits.to_dict()) == set(LIMIT_KEYS)
    assert Limits.of({"alpha": 0.02, "ignored": 1}, policy).alpha == 0.02
    with pytest.raises(InvalidInput, match="unknown limits"):
        Limits.resolve(policy, {"strategy": "canary"})
    with pytest.raises(InvalidInput) as caught:
        Limits.resolve(policy, {"max_latency_p99_ratio": 0.5})
    assert caught.value.field == "limits.max_latency_p99_ratio"


@pytest.mark.parametrize(("every", "duration"), [(0.0, 10.0), (1.0, -1.0), (float("inf"), 1.0)])
def test_watch_needs_a_positive_bounded_rhythm(every: float, duration: float) -> None:
    with pytest.raises(InvalidInput):
        watch(None, None, None, "x", every_s=every, duration_s=duration)  # type: ignore[arg-type]
