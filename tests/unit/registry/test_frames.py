"""Rebuilding the training frame: rows as JSON gives them, or frames as the log returns them, come
back with exactly the training dtypes and values."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.domain.signature import FeatureSpec, Signature
from keel.errors import SignatureMismatch
from keel.registry.frames import (
    category_codes,
    frame_from_rows,
    restore_types,
    with_new_categories,
)
from keel.registry.signatures import infer_signature


def json_rows(frame: pd.DataFrame) -> list[list[Any]]:
    """The rows as a client (or the log) writes them: categories, strings and timestamps as
    text, numbers and booleans as JSON has them, missing values as null."""
    columns = []
    for name in frame.columns:
        series = frame[name]
        values = series.astype(object).tolist()
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            column = [None if pd.isna(v) else v.isoformat() for v in values]
        elif isinstance(series.dtype, pd.CategoricalDtype):
            column = [None if pd.isna(v) else str(v) for v in values]
        else:
            column = [None if v is None or v is pd.NA or v != v else _plain(v) for v in values]
        columns.append(column)
    rows = [list(row) for row in zip(*columns, strict=True)]
    decoded: list[list[Any]] = orjson.loads(orjson.dumps(rows))
    return decoded


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


# -- the round trip, over mixed frames -----------------------------------------------------------

TEXT = st.text(alphabet="abcxyz", min_size=1, max_size=4)


@st.composite
def mixed_frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(0, 12))

    def column(values: st.SearchStrategy[Any], nulls: bool = False) -> list[Any]:
        item = st.one_of(st.none(), values) if nulls else values
        return draw(st.lists(item, min_size=rows, max_size=rows))

    text_categories = draw(st.lists(TEXT, min_size=1, max_size=5, unique=True))
    int_categories = draw(st.lists(st.integers(-50, 50), min_size=1, max_size=5, unique=True))
    nanos = st.integers(-(2**62), 2**62)
    frame = pd.DataFrame(
        {
            "count": pd.Series(column(st.integers(-(2**62), 2**62)), dtype="int64"),
            "visits": pd.Series(column(st.integers(-(2**62), 2**62), nulls=True), dtype="Int64"),
            "income": pd.Series(
                column(st.floats(allow_nan=False, allow_infinity=False), nulls=True),
                dtype="float64",
            ),
            "ratio": pd.Series(
                column(st.floats(width=32, allow_nan=False, allow_infinity=False)), dtype="float32"
            ),
            "member": pd.Series(column(st.booleans()), dtype="bool"),
            "opted": pd.Series(column(st.booleans(), nulls=True), dtype="boolean"),
            "city": pd.Series(column(TEXT, nulls=True), dtype="str"),
            "note": pd.Series(column(TEXT, nulls=True), dtype=object),
            "colour": pd.Categorical(
                column(st.sampled_from(text_categories), nulls=True),
                categories=text_categories,
                ordered=draw(st.booleans()),
            ),
            "grade": pd.Categorical(
                column(st.sampled_from(int_categories), nulls=True), categories=int_categories
            ),
            "seen": pd.to_datetime(pd.Series(column(nanos, nulls=True), dtype="Int64"), unit="ns"),
            "paid": pd.to_datetime(
                pd.Series(column(st.integers(0, 2**50), nulls=True), dtype="Int64"), unit="us"
            ).dt.tz_localize("UTC"),
        }
    )
    return frame.astype({"paid": "datetime64[us, UTC]", "seen": "datetime64[ns]"})


@given(mixed_frames())
def test_json_rows_rebuild_the_training_frame(frame: pd.DataFrame) -> None:
    signature = infer_signature(frame)
    rebuilt = frame_from_rows(signature, json_rows(frame))
    pd.testing.assert_frame_equal(rebuilt, frame, check_exact=True)


@given(mixed_frames())
def test_the_signature_survives_json_and_still_rebuilds_the_frame(frame: pd.DataFrame) -> None:
    stored = orjson.loads(orjson.dumps(infer_signature(frame).to_dict()))
    signature = Signature.from_dict(stored)
    assert signature == infer_signature(frame)
    rebuilt = frame_from_rows(signature, json_rows(frame))
    pd.testing.assert_frame_equal(rebuilt, frame, check_exact=True)


@given(mixed_frames())
def test_a_frame_read_back_from_text_is_restored(frame: pd.DataFrame) -> None:
    signature = infer_signature(frame)
    as_text = pd.DataFrame(json_rows(frame), columns=list(frame.columns), dtype=object)
    pd.testing.assert_frame_equal(restore_types(signature, as_text), frame, check_exact=True)


@given(mixed_frames())
def test_a_typed_frame_is_returned_as_it_is(frame: pd.DataFrame) -> None:
    assert restore_types(infer_signature(frame), frame) is frame


# -- what the log and clients send -------------------------------------------------------------


@pytest.fixture
def train() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": pd.Series([30, 41, 52], dtype="int64"),
            "grade": pd.Categorical([3, 1, 10], categories=[10, 3, 1]),
            "colour": pd.Categorical(["red", "blue", "red"], categories=["red", "blue"]),
            "member": [True, False, True],
            "seen": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
        }
    )


def test_a_frame_as_the_log_returns_it_gets_the_training_dtypes(train: pd.DataFrame) -> None:
    logged = pd.DataFrame(
        {
            "member": [1, 0, 1],  # booleans as numbers, and the columns in another order
            "age": [30.0, 41.0, 52.0],  # ints as floats
            "grade": ["3", "1", "10"],  # categories as their labels
            "colour": ["red", "blue", "red"],
            "seen": ["2024-01-01T00:00:00", "2024-02-01 00:00:00", "2024-03-01"],
            "extra": ["ignored", "ignored", "ignored"],
        }
    )
    restored = restore_types(infer_signature(train), logged)
    pd.testing.assert_frame_equal(restored, train)


def test_ints_with_missing_values_follow_the_training_dtype() -> None:
    numpy_int = infer_signature(pd.DataFrame({"n": [1, 2]}))
    nullable = infer_signature(pd.DataFrame({"n": pd.array([1, 2], dtype="Int64")}))
    assert frame_from_rows(numpy_int, [[1], [None]])["n"].dtype == np.float64
    assert frame_from_rows(nullable, [[1], [None]])["n"].dtype == "Int64"
    assert frame_from_rows(numpy_int, [[1], [2.5]])["n"].tolist() == [1.0, 2.5]


def test_a_category_is_matched_by_value_or_by_label(train: pd.DataFrame) -> None:
    spec = infer_signature(train).feature("grade")
    given = pd.Series([3, "3", 3.0, "3.0", "10", None, "7", "x"], dtype=object)
    assert category_codes(spec, given).tolist() == [1, 1, 1, 1, 0, -1, -1, -1]


def test_an_unseen_category_becomes_missing(train: pd.DataFrame) -> None:
    rebuilt = frame_from_rows(infer_signature(train), [[30, "7", "green", True, "2024-01-01"]])
    assert rebuilt["grade"].isna().all() and rebuilt["colour"].isna().all()
    assert list(rebuilt["grade"].cat.categories) == [10, 3, 1]


def test_values_that_cannot_be_converted_become_missing_without_raising() -> None:
    signature = infer_signature(
        pd.DataFrame({"n": [1.5], "b": [True], "t": pd.to_datetime(["2024-01-01"])})
    )
    rebuilt = frame_from_rows(signature, [["many", "maybe", "someday"]])
    assert rebuilt.isna().all().all()
    assert list(rebuilt.dtypes.astype(str)) == ["float64", "float64", "datetime64[us]"]


def test_missing_columns_are_named(train: pd.DataFrame) -> None:
    with pytest.raises(SignatureMismatch) as caught:
        restore_types(infer_signature(train), train.drop(columns=["grade", "seen"]))
    assert [p["field"] for p in caught.value.problems] == ["grade", "seen"]


def test_rows_of_the_wrong_width_are_refused(train: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="5"):
        frame_from_rows(infer_signature(train), [[1, 2]])


def test_an_empty_batch_has_the_training_dtypes(train: pd.DataFrame) -> None:
    empty = frame_from_rows(infer_signature(train), [])
    pd.testing.assert_frame_equal(empty, train.head(0).reset_index(drop=True))


def test_old_category_signatures_without_categories_still_build_a_category() -> None:
    spec = FeatureSpec("city", "category", "category")
    assert spec.type == "category"
    rebuilt = frame_from_rows(Signature((spec,)), [["Oslo"], ["Lyon"]])
    assert isinstance(rebuilt["city"].dtype, pd.CategoricalDtype)


def test_new_categories_are_appended_after_the_training_ones(train: pd.DataFrame) -> None:
    logged = pd.DataFrame(
        {
            "age": [1, 2, 3, 4],
            "grade": ["7", "3", "7.0", None],
            "colour": ["teal", "red", "amber", "teal"],
            "member": [True] * 4,
            "seen": ["2024-01-01"] * 4,
        }
    )
    wider = with_new_categories(infer_signature(train), logged)
    assert wider.feature("grade").categories == (10, 3, 1, 7)
    assert wider.feature("colour").categories == ("red", "blue", "amber", "teal")
    restored = restore_types(wider, logged)
    assert restored["grade"].tolist()[:3] == [7, 3, 7]
    assert restored["colour"].tolist() == ["teal", "red", "amber", "teal"]


JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["3", "10", "1.0", "true", "0", "red", "2024-01-01", "x"]),
)


@given(st.lists(st.lists(JSON_VALUES, min_size=5, max_size=5), max_size=8))
def test_rows_and_frames_follow_one_rule_whatever_is_sent(rows: list[list[Any]]) -> None:
    train = pd.DataFrame(
        {
            "age": pd.Series([30], dtype="int32"),
            "grade": pd.Categorical([3], categories=[10, 3, 1]),
            "colour": pd.Categorical(["red"], categories=["red", "blue"]),
            "member": [True],
            "ratio": pd.Series([0.5], dtype="float32"),
        }
    )
    signature = infer_signature(train)
    as_frame = pd.DataFrame(rows, columns=signature.feature_names, dtype=object)
    pd.testing.assert_frame_equal(
        frame_from_rows(signature, rows), restore_types(signature, as_frame), check_exact=True
    )


def test_a_time_means_the_same_whatever_shares_its_batch() -> None:
    """A wall-clock time is in the training zone and text with an offset is that instant,
    alone or batched with the other kind."""
    trained = pd.DataFrame(
        {"opened": pd.to_datetime(["2020-01-01 09:00"]).tz_localize("Europe/Berlin")}
    )
    signature = infer_signature(trained)
    alone = frame_from_rows(signature, [["2020-01-05 10:00"]])["opened"]
    mixed = frame_from_rows(signature, [["2020-01-05 10:00"], ["2020-01-05 10:00+05:00"]])
    assert alone[0] == mixed["opened"][0] == pd.Timestamp("2020-01-05 10:00", tz="Europe/Berlin")
    assert mixed["opened"][1] == pd.Timestamp("2020-01-05 05:00", tz="UTC")
    assert mixed["opened"].dtype == trained["opened"].dtype


def test_a_value_a_narrow_int_column_cannot_hold_reaches_the_model_whole() -> None:
    """300 for a uint8 feature is out of range (flagged, answered): the model gets 300, never
    the 44 a cast would wrap it to."""
    trained = pd.DataFrame(
        {"a": np.array([1, 2], dtype=np.int8), "b": np.array([1, 2], dtype=np.uint8)}
    )
    signature = infer_signature(trained)
    wide = frame_from_rows(signature, [[130, 300], [-1, -1]])
    assert wide.to_dict("list") == {"a": [130, -1], "b": [300, -1]}
    assert frame_from_rows(signature, [[3, 4]]).dtypes.to_dict() == trained.dtypes.to_dict()
    text = restore_types(signature, pd.DataFrame({"a": ["130"], "b": ["300"]}))
    assert text.to_dict("list") == {"a": [130], "b": [300]}
