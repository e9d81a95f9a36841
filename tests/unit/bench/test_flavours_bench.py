"""The pure helpers of ``bench/flavours.py``: the bare endpoint's inputs, the request bodies,
the rounding of the JSON line and the targets."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from _flavours_bare import feeds_of, frame_of, rows_of
from _flavours_models import clean_name
from flavours import bodies_of, records_of, rounded, targets

RECORDS = [{"age": 41, "job": "admin.", "rate": 1.1}, {"age": 57, "job": "services", "rate": -0.1}]


def test_the_bare_frame_has_the_training_dtypes_and_categories_in_order() -> None:
    frame = frame_of(
        RECORDS,
        ["job", "age", "rate"],
        {"job": ["services", "admin.", "retired"]},
        {"age": "int64", "rate": "float64"},
    )
    assert list(frame.columns) == ["job", "age", "rate"]
    assert frame["age"].dtype == np.int64 and frame["rate"].dtype == np.float64
    assert list(frame["job"].cat.categories) == ["services", "admin.", "retired"]
    assert frame["job"].cat.codes.tolist() == [1, 0]


def test_rows_and_feeds_follow_the_given_order_and_types() -> None:
    assert rows_of(RECORDS, ["rate", "job"]) == [[1.1, "admin."], [-0.1, "services"]]
    feeds = feeds_of(RECORDS, {"job": "text", "age": "float"})
    assert feeds["job"].shape == (2, 1) and feeds["job"].dtype == object
    assert feeds["age"].dtype == np.float32 and feeds["age"][:, 0].tolist() == [41.0, 57.0]


def test_bodies_send_categories_as_labels_and_numbers_as_json_numbers() -> None:
    frame = pd.DataFrame(
        {"age": [41], "job": pd.Categorical(["admin."], categories=["admin.", "x"])}
    )
    assert records_of(frame) == [{"age": 41, "job": "admin."}]
    assert json.loads(bodies_of(frame)[0]) == {"records": [{"age": 41, "job": "admin."}]}


def test_column_names_are_the_graph_input_names() -> None:
    assert clean_name("emp.var.rate") == "emp_var_rate"


def test_rounding_keeps_small_differences_visible() -> None:
    assert rounded({"a": 1.23456, "b": [2.1e-07, 0.0], "c": 3}) == {
        "a": 1.235,
        "b": [2.1e-07, 0.0],
        "c": 3,
    }


def test_targets_need_every_flavour_at_the_ratio() -> None:
    answer = {
        "lightgbm": {"ratio_c32": 2.0, "rows_logged": 10, "answers_counted": 10},
        "onnx": {"ratio_c32": 0.7, "rows_logged": 12, "answers_counted": 11},
    }
    result = targets(answer, ["lightgbm", "onnx"])
    assert result["keel_c32_at_least_1.3x_bare"] == {"lightgbm": True, "onnx": False}
    assert result["all_flavours_at_target"] is False
    assert result["every_answer_logged"] is True
