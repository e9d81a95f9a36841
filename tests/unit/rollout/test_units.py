"""What an A/B test counts: distinct keys on a sticky deployment whose rows carry keys, rows
otherwise; a key seen on both variants counts where it was first seen."""

from __future__ import annotations

import doctest
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from keel.rollout import units
from keel.rollout.units import (
    accuracy_outcomes,
    count_units,
    error_outcomes,
    unit_codes,
)


def _rows(keys: list[Any], start: int = 0, **columns: Any) -> pd.DataFrame:
    when = pd.to_datetime(np.arange(start, start + len(keys)), unit="s", utc=True)
    return pd.DataFrame({"entity_key": keys, "timestamp": when, **columns})


def test_docstring_examples_run() -> None:
    assert doctest.testmod(units).failed == 0


def test_a_sticky_deployment_counts_distinct_keys_and_shows_the_rows_beside() -> None:
    stable = _rows(["a"] * 10 + ["b"] * 3)
    candidate = _rows(["c"] * 7)
    counted = count_units(stable, candidate, sticky=True)
    assert counted.unit == "keys" and counted.mixed_keys == 0
    assert counted.counts == {"stable": 2, "candidate": 1} == counted.keys
    assert counted.rows == {"stable": 13, "candidate": 7}


def test_without_stickiness_or_without_keys_each_row_is_a_unit() -> None:
    stable, candidate = _rows(["a"] * 4), _rows(["b"] * 6)
    unsticky = count_units(stable, candidate, sticky=False)
    assert unsticky.unit == "rows" and unsticky.counts == {"stable": 4, "candidate": 6}
    keyless = count_units(_rows([None] * 4), _rows([None] * 6), sticky=True)
    assert keyless.unit == "rows" and keyless.counts == {"stable": 4, "candidate": 6}
    no_column = count_units(pd.DataFrame({"x": [1, 2]}), pd.DataFrame({"x": [3]}), sticky=True)
    assert no_column.unit == "rows" and no_column.counts == {"stable": 2, "candidate": 1}
    empty = count_units(_rows([]), _rows([]), sticky=True)
    assert empty.counts == {"stable": 0, "candidate": 0} and empty.unit == "rows"


def test_keyless_rows_count_one_each_beside_the_keys() -> None:
    counted = count_units(_rows(["a", "a", None, None]), _rows(["b", None]), sticky=True)
    assert counted.unit == "keys and rows"
    assert counted.counts == {"stable": 3, "candidate": 2}
    assert counted.keys == {"stable": 1, "candidate": 1}


def test_a_key_seen_on_both_variants_counts_where_it_was_first_seen() -> None:
    stable = _rows(["a", "b"], start=10)  # "a" reached stable at 10 s ...
    candidate = _rows(["a", "a", "c"], start=0)  # ... after the candidate at 0 s
    counted = count_units(stable, candidate, sticky=True)
    assert counted.mixed_keys == 1
    assert counted.counts == {"stable": 1, "candidate": 2}  # b | a, c


def test_unit_codes_group_a_keys_rows_and_give_keyless_rows_their_own() -> None:
    codes = unit_codes(_rows(["a", None, "a", "b", None]), sticky=True)
    assert codes[0] == codes[2] and len(set(codes.tolist())) == 4
    assert unit_codes(_rows(["a", "a"]), sticky=False).tolist() == [0, 1]


def test_error_outcomes_sum_errors_per_key_leaving_rejected_rows_out() -> None:
    rows = _rows(["a", "a", "a", "b"], status=["error", "ok", "rejected", "ok"])
    found = error_outcomes(rows, sticky=True)
    assert sorted(zip(found.successes.tolist(), found.rows.tolist(), strict=True)) == [
        (0.0, 1.0),
        (1.0, 2.0),
    ]
    assert error_outcomes(rows, sticky=False).units == 3


def test_accuracy_outcomes_count_labelled_answers_per_key() -> None:
    rows = _rows(
        ["a", "a", "b", "b"],
        request_id=["r1", "r2", "r3", "r4"],
        prediction=[1, 0, 1, 1],
        status=["ok", "ok", "ok", "error"],
    )
    labels = pd.DataFrame({"request_id": ["r1", "r2", "r3", "r4"], "label": [1, 1, 1, 1]})
    reference: Any = SimpleNamespace(task="classification", classes=[0, 1])
    found = accuracy_outcomes(rows, labels, reference, sticky=True)
    assert sorted(zip(found.successes.tolist(), found.rows.tolist(), strict=True)) == [
        (1.0, 1.0),
        (1.0, 2.0),
    ]
    regression: Any = SimpleNamespace(task="regression", classes=[])
    assert accuracy_outcomes(rows, labels, regression, sticky=True).units == 0


@pytest.mark.parametrize("sticky", [True, False])
def test_outcomes_of_no_rows_are_empty(sticky: bool) -> None:
    assert error_outcomes(_rows([], status=[]), sticky=sticky).units == 0


def test_unit_count_names_the_unit_and_counts_distinct_keys_and_keyless_rows() -> None:
    rows = _rows(["a", "a", "b", None, None])
    assert units.unit_count(rows, sticky=True) == ("keys and rows", 4)
    assert units.unit_count(rows.dropna(), sticky=True) == ("keys", 2)
    assert units.unit_count(rows, sticky=False) == ("rows", 5)
    assert units.unit_count(_rows([]), sticky=True) == ("rows", 0)


def test_by_unit_sums_values_per_key_over_the_kept_rows_and_gives_their_design_effect() -> None:
    rows = _rows(["a", "a", "b", "b", "c", "c"])
    found = units.by_unit(rows, [0.5, 0.5, 1, 1, 0, 9], sticky=True, keep=[1, 1, 1, 1, 1, 0])
    assert sorted(zip(found.successes.tolist(), found.rows.tolist(), strict=True)) == [
        (0.0, 1.0),
        (1.0, 2.0),
        (2.0, 2.0),
    ]
    # ten keys whose ten requests all fail or all succeed: variance x10 (and 10/9 for CR1)
    alike = units.by_unit(
        _rows([k for k in "abcdefghij" for _ in range(10)]),
        [1.0 if k in "abcde" else 0.0 for k in "abcdefghij" for _ in range(10)],
        sticky=True,
    )
    assert alike.effect == pytest.approx(10 * 10 / 9 * 99 / 100)
    assert units.by_unit(_rows(list("abcd")), [1, 0, 1, 0], sticky=True).effect == 1.0
