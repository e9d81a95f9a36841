"""Every flavour round the whole loop on real tables with categorical columns.

Per (table, flavour) case, one test per stage, in loop order: register -> load (hash verified) ->
predictions equal to the native object's -> evaluate and gate -> deploy -> serve over HTTP (one
row, a 500-row batch of later rows, an out-of-range number, an unseen category) -> the
prediction log read back by pandas and DuckDB with the signature's types -> monitor (drift,
CBPE estimate, realized accuracy from labels) -> ``keel retrain`` with the default pipeline ->
canary -> promote. Stages remember their results (``Loop.stage``), so a later stage's test runs
the earlier ones when run alone, and skips (naming the stage) when an earlier one failed.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance import stages
from tests.conformance.tables import TABLES
from tests.conformance.world import Loop, World
from tests.integration.serving.conftest import assert_clean

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


def test_register_and_load(loop: Loop) -> None:
    loop.stage("register", stages.register)


def test_every_load_verifies_the_hash(loop: Loop, tmp_path: Any) -> None:
    stages.hash_checked(loop, tmp_path)


def test_predictions_equal_the_native_objects(loop: Loop) -> None:
    loop.stage("predictions", stages.predictions)


def test_evaluate_and_gate(loop: Loop) -> None:
    loop.stage("gate", stages.gate)


def test_deploy(loop: Loop) -> None:
    loop.stage("deploy", stages.deploy)


def test_serve_over_http(loop: Loop) -> None:
    loop.stage("serve", stages.serve)


def test_prediction_log_by_pandas_and_duckdb(loop: Loop) -> None:
    loop.stage("log", stages.prediction_log)


def test_monitor(loop: Loop) -> None:
    loop.stage("monitor", stages.monitor)


def test_retrain(loop: Loop) -> None:
    loop.stage("retrain", stages.retrain)


def test_canary_then_promote(loop: Loop) -> None:
    loop.stage("canary", stages.canary)


@pytest.mark.parametrize("table", list(TABLES))
def test_the_server_wrote_no_traceback_or_warning(worlds: dict[str, World], table: str) -> None:
    """Last: whatever the cases sent, the server logged no traceback and no warning."""
    assert_clean(worlds[table].server_log())
