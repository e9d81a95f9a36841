"""Fingerprints: equal content gives equal fingerprints (in any process), any change a new one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from keel.pipelines.fingerprint import describe, fingerprint

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
column_names = st.lists(
    st.text(alphabet="abcdefgh_", min_size=1, max_size=6), min_size=1, max_size=4, unique=True
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53), 2**53), finite, st.text(max_size=8)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def frames(draw: st.DrawFn) -> tuple[list[str], list[list[float]]]:
    """Column names and rows of numbers: the raw material, so a frame can be built twice."""
    names = draw(column_names)
    rows = draw(
        st.lists(st.lists(finite, min_size=len(names), max_size=len(names)), min_size=1, max_size=8)
    )
    return names, rows


@settings(max_examples=60, deadline=None)
@given(frames())
def test_dataframes_built_independently_have_the_same_fingerprint(
    raw: tuple[list[str], list[list[float]]],
) -> None:
    names, rows = raw
    from_rows = pd.DataFrame(rows, columns=names)
    from_columns = pd.DataFrame({n: [r[i] for r in rows] for i, n in enumerate(names)})
    assert from_rows is not from_columns
    assert fingerprint(from_rows) == fingerprint(from_columns)
    assert fingerprint(from_rows) == fingerprint(from_rows.copy(deep=True))


@settings(max_examples=80, deadline=None)
@given(frames(), st.data())
def test_changing_any_cell_of_a_dataframe_changes_its_fingerprint(
    raw: tuple[list[str], list[list[float]]], data: st.DataObject
) -> None:
    names, rows = raw
    row = data.draw(st.integers(0, len(rows) - 1), label="row")
    column = data.draw(st.integers(0, len(names) - 1), label="column")
    new = data.draw(finite, label="new value")
    assume(new != rows[row][column])  # 0.0 and -0.0 count as the same value
    changed = [list(r) for r in rows]
    changed[row][column] = new
    before = pd.DataFrame(rows, columns=names)
    after = pd.DataFrame(changed, columns=names)
    assert fingerprint(before) != fingerprint(after)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-(2**31), 2**31), min_size=1, max_size=24), st.data())
def test_arrays_compare_by_content_shape_and_dtype(values: list[int], data: st.DataObject) -> None:
    array = np.array(values, dtype=np.int64)
    assert fingerprint(array) == fingerprint(np.array(list(values), dtype=np.int64))
    assert fingerprint(array) == fingerprint(array[::-1].copy()[::-1])  # not contiguous
    assert fingerprint(array) != fingerprint(array.astype(np.float64))
    index = data.draw(st.integers(0, len(values) - 1), label="index")
    changed = array.copy()
    changed[index] += 1
    assert fingerprint(changed) != fingerprint(array)
    if len(values) > 1:
        assert fingerprint(array.reshape(1, -1)) != fingerprint(array.reshape(-1, 1))


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=6), st.randoms())
def test_dict_order_does_not_matter(mapping: dict[str, Any], random: Any) -> None:
    items = list(mapping.items())
    random.shuffle(items)
    assert fingerprint(dict(items)) == fingerprint(mapping)


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_json_values_built_independently_have_the_same_fingerprint(value: Any) -> None:
    rebuilt = json.loads(json.dumps(value))
    assert fingerprint(rebuilt) == fingerprint(value)


@settings(max_examples=80, deadline=None)
@given(json_values, json_values)
def test_different_json_values_have_different_fingerprints(first: Any, second: Any) -> None:
    # == would call True and 1 (or 1 and 1.0) equal; their JSON text tells them apart
    same = json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert (fingerprint(first) == fingerprint(second)) == same


@st.composite
def resplit_numbers(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    """Two lists of positive integers whose digits, written one after the other, are the same."""
    numbers = draw(st.lists(st.integers(1, 10**6), min_size=1, max_size=6))
    digits = "".join(map(str, numbers))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(digits) - 1)), max_size=5)))
    pieces = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, len(digits)], strict=True)]
    assume(all(p and p[0] != "0" for p in pieces))
    return numbers, [int(p) for p in pieces]


@settings(max_examples=150, deadline=None)
@given(resplit_numbers())
def test_where_one_value_ends_and_the_next_begins_is_part_of_the_content(
    pair: tuple[list[int], list[int]],
) -> None:
    first, second = pair
    assert (fingerprint(first) == fingerprint(second)) == (first == second)
    joined = {"k": first}
    assert (fingerprint(joined) == fingerprint({"k": second})) == (first == second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ([1, 23], [12, 3]),
        ({"a1": 2}, {"a": 12}),
        ({"ab": "c"}, {"a": "bc"}),
        ({1: "x"}, {"1": "x"}),
        ([None, "a"], ["null", "a"]),
        (1, 1.0),
        (1, True),
        ([[1], 2], [1, [2]]),
        ({"a": [1, 2]}, {"a": [1], "b": 2}),
    ],
)
def test_values_that_print_alike_are_still_told_apart(first: Any, second: Any) -> None:
    assert fingerprint(first) != fingerprint(second)


def test_frames_differ_by_column_names_order_index_and_dtype() -> None:
    frame = pd.DataFrame({"x": [1, 2, 3], "y": [4, 5, 6]})
    assert fingerprint(frame) != fingerprint(frame.rename(columns={"y": "z"}))
    assert fingerprint(frame) != fingerprint(frame[["y", "x"]])
    assert fingerprint(frame) != fingerprint(frame.set_axis([10, 11, 12]))
    assert fingerprint(frame) != fingerprint(frame.astype({"x": "float64"}))
    assert fingerprint(frame) != fingerprint(frame.iloc[:2])
    assert fingerprint(frame) != fingerprint(frame["x"])
    assert fingerprint(frame["x"]) != fingerprint(frame["x"].rename("other"))
    assert fingerprint([frame.iloc[:1], frame.iloc[1:]]) != fingerprint([frame.iloc[:2], frame])


def test_text_and_missing_values_in_frames() -> None:
    frame = pd.DataFrame({"city": ["Oslo", None, "Lyon"], "score": [1.5, np.nan, 3.0]})
    rebuilt = pd.DataFrame({"city": ["Oslo", None, "Lyon"], "score": [1.5, float("nan"), 3.0]})
    assert fingerprint(frame) == fingerprint(rebuilt)
    assert fingerprint(frame) != fingerprint(frame.fillna({"score": 0.0}))
    assert fingerprint(frame) != fingerprint(frame.replace("Lyon", "Lille"))


@dataclass
class Knobs:
    alpha: float
    tags: list[str]


def test_other_objects_are_compared_by_their_pickled_state() -> None:
    assert fingerprint(Knobs(0.1, ["a"])) == fingerprint(Knobs(0.1, ["a"]))
    assert fingerprint(Knobs(0.1, ["a"])) != fingerprint(Knobs(0.2, ["a"]))


@settings(max_examples=60, deadline=None)
@given(st.sets(st.text(max_size=6), max_size=8), st.text(max_size=6))
def test_sets_compare_by_their_items(items: set[str], extra: str) -> None:
    assert fingerprint(set(sorted(items))) == fingerprint(frozenset(items))
    assert fingerprint([items]) == fingerprint([set(reversed(sorted(items)))])
    if extra not in items:
        assert fingerprint(items | {extra}) != fingerprint(items)


PROBE = """
import pandas as pd
from keel.pipelines.fingerprint import fingerprint
value = {
    "frame": pd.DataFrame({"city": ["Oslo", "Lyon"], "n": [1, 2]}),
    "params": {"rows": 2000, "holdout": 0.2, "labels": ["yes", "no"]},
    "tags": frozenset({"alpha", "beta", "gamma", "delta", "epsilon"}),
}
print(hash("alpha"), fingerprint(value))
"""


def test_fingerprints_are_the_same_in_another_process_with_another_hash_seed() -> None:
    here: dict[str, Any] = {}
    exec(PROBE.replace("print(hash", "result = (hash"), here)
    local_hash, local_fingerprint = here["result"]
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": seed},
        check=True,
    )
    other_hash, other_fingerprint = done.stdout.split()
    assert int(other_hash) != local_hash  # string hashes (and so set orders) really differ
    assert other_fingerprint == local_fingerprint


def test_descriptions_are_short_and_json_ready() -> None:
    frame = pd.DataFrame({"x": range(5), "y": range(5)})
    described = {
        "frame": describe(frame),
        "array": describe(np.zeros((3, 2))),
        "int": describe(7),
        "text": describe("window"),
        "none": describe(None),
        "dict": describe({"b": 1, "a": "x", "nested": {"deep": 1}}),
        "list": describe([1, 2, 3]),
        "tuple": describe((1, 2)),
        "object": describe(Knobs(0.1, [])),
    }
    assert described == {
        "frame": {"type": "DataFrame", "rows": 5, "columns": 2},
        "array": {"type": "ndarray", "shape": [3, 2]},
        "int": {"type": "int", "value": 7},
        "text": {"type": "str", "value": "window"},
        "none": {"type": "NoneType", "value": None},
        "dict": {"type": "dict", "keys": ["a", "b", "nested"], "values": {"b": 1, "a": "x"}},
        "list": {"type": "list", "length": 3},
        "tuple": {"type": "tuple", "length": 2},
        "object": {"type": f"{__name__}.Knobs"},
    }
    json.dumps(described)


@dataclass(frozen=True)
class Output:
    version: int
    frame: list[int]

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "frame": self.frame}


def test_a_typed_output_is_described_by_what_its_to_dict_holds() -> None:
    assert describe(Output(3, [1, 2])) == {"type": f"{__name__}.Output", "values": {"version": 3}}
    assert fingerprint(Output(3, [1])) != fingerprint(Output(4, [1]))
