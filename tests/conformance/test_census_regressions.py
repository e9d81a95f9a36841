"""Regressions of the census failures (issue 15): a LightGBM and an XGBoost classifier trained on
pandas ``category`` columns were pickled silently and then answered HTTP 500 on every request
("train and valid dataset categorical_feature do not match"; "Invalid columns: ...: str"),
because serving handed them text where they were trained on categories.

Here each is kept in its framework's own format (no trust needed) and, served by a real
``keel serve``, answers every body form (one record, records, columns in another order) with
exactly the native object's labels and probabilities, categories sent as their labels (an int
category as ``"1"`` or as ``1``). The rest of what went wrong then (the retrain's candidate step,
a Pipeline refused by gate and serve, out-of-range rows refused with their batch) is what the
loop's retrain, sklearn-lightgbm and serve stages check.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conformance import stages
from tests.conformance.http import post, records_of, wait_serving
from tests.conformance.tables import TABLES
from tests.conformance.world import Loop

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


def _served(loop: Loop) -> str:
    """The loop's trained object registered again as a model of its own (so these requests do
    not reach the loop's prediction log), its champion, served."""
    native = loop.stage("register", stages.register)["native"]
    world, table = loop.world, loop.table
    name = f"{loop.model}-census"
    with world.client() as client:
        if not _exists(client, name):
            version = client.register_model(
                name, native, training_data=table.train, target=table.target
            )
            assert version.format == loop.case.flavour, version.format  # not a pickle
            assert version.trust is None  # its own format needs no trust
            client.set_alias(name, "champion", version.version, reason="census regression")
    wait_serving(world.server(), name, 1)
    return name


def _exists(client: Any, name: str) -> bool:
    return any(m.name == name for m in client.list_models())


def _answers(body: dict[str, Any]) -> tuple[list[Any], list[float]]:
    if "predictions" in body:
        return body["predictions"], body["scores"]
    return [body["prediction"]], [body["score"]]


@pytest.mark.parametrize("flavour", ["lightgbm", "xgboost"])
@pytest.mark.parametrize("table", list(TABLES))
def test_a_model_on_category_columns_answers_over_http_what_the_native_object_answers(
    loops: dict[tuple[str, str], Loop], table: str, flavour: str
) -> None:
    loop = loops[(table, flavour)]
    name = _served(loop)
    data = loop.table
    later = data.production
    unseen = {r for r, _, code in data.expected_warnings(later) if code == "unseen_category"}
    rows = pd.concat(
        [data.holdout.head(100), later.iloc[[i for i in range(300) if i not in unseen]]],
        ignore_index=True,
    )
    labels, proba = stages.native_answers(loop, rows)
    records = records_of(data, rows)
    reordered = list(reversed(data.features))
    as_numbers = [  # an int category sent as the number itself
        {k: int(v) if k in data.categorical and str(v).isdigit() else v for k, v in r.items()}
        for r in records
    ]
    bodies: list[tuple[str, dict[str, Any], slice]] = [
        ("records", {"records": records}, slice(None)),
        (
            "columns",
            {"columns": reordered, "data": [[r[c] for c in reordered] for r in records]},
            slice(None),
        ),
        ("numbers", {"records": as_numbers}, slice(None)),
        *((f"record {i}", records[i], slice(i, i + 1)) for i in (0, 150, len(records) - 1)),
    ]
    for form, body, chosen in bodies:
        answer = post(loop.world, name, body)
        assert answer.status_code == 200, f"{form}: {answer.status_code} {answer.text[:1000]}"
        predicted, scores = _answers(answer.json())
        np.testing.assert_array_equal(predicted, labels[chosen], err_msg=form)
        np.testing.assert_array_equal(scores, proba[chosen, 1], err_msg=form)
