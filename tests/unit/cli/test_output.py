"""Listings that leave something out say so: a cut list ends with "..." and how many it left."""

from __future__ import annotations

import pytest

from keel.cli.output import listed, pairs, short


@pytest.mark.parametrize(
    ("items", "limit", "total", "expected"),
    [
        (["a", "b"], 4, None, "a, b"),
        (["a", "b", "c"], 3, None, "a, b, c"),
        (["a", "b", "c", "d", "e"], 3, None, "a, b, c, ... (+2 more)"),
        (["a", "b"], 4, 7, "a, b, ... (+5 more)"),  # only some of the items were sent
        (["a", "b", "c"], 2, 40, "a, b, ... (+38 more)"),
        ([], 3, None, ""),
    ],
)
def test_listed_marks_where_it_cuts(
    items: list[str], limit: int, total: int | None, expected: str
) -> None:
    assert listed(items, limit, total) == expected


def test_pairs_marks_the_metrics_it_leaves_out() -> None:
    metrics = {"auc": 0.91234, "f1": 0.8, "loss": 0.1, "recall": 0.7, "precision": 0.6}
    assert pairs(metrics, 4) == "auc=0.9123, f1=0.8, loss=0.1, recall=0.7, ... (+1 more)"
    assert pairs(dict(list(metrics.items())[:2]), 4) == "auc=0.9123, f1=0.8"


def test_ids_are_cut_to_a_prefix_the_commands_accept() -> None:
    assert short("7f166407c31a4d149c561d8a16993508", 8) == "7f166407"
    assert short(None) == ""
