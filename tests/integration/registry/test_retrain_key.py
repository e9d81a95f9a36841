"""A retrain registers at most one version: the store keeps ``retrain_id`` unique, on SQLite and
PostgreSQL, whether the second registration comes after the first or races it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from keel.client import Client
from keel.errors import Conflict, InvalidInput, StoreConflict
from keel.registry.models import registered_by_retrain
from keel.store.schema import retrains


def _retrains(client: Client, *ids: int) -> None:
    """Ended retrains with these ids, for versions to name (the store refuses an id that names
    no retrain)."""
    at = datetime(2026, 11, 1, tzinfo=UTC)
    with client.db.write() as conn:
        for key in ids:
            conn.execute(
                retrains.insert().values(
                    id=key,
                    model="cancer",
                    trigger="manual",
                    reason="test",
                    state="failed",
                    details={},
                    requested_by="tester",
                    created_at=at,
                    updated_at=at,
                    ended_at=at,
                )
            )


def test_a_second_version_for_the_same_retrain_is_refused(
    client: Client, cancer_frame: pd.DataFrame, fitted_model: Any
) -> None:
    _retrains(client, 7, 8)
    assert registered_by_retrain(client.db, 7) is None
    made = client.register_model("cancer", fitted_model, training_data=cancer_frame, retrain_id=7)
    found = registered_by_retrain(client.db, 7)
    assert found is not None and (found.name, found.version) == ("cancer", made.version)

    with pytest.raises(Conflict) as refused:
        client.register_model("cancer", fitted_model, retrain_id=7)
    assert refused.value.fields == {"retrain": 7, "model": "cancer", "version": made.version}
    assert "retrain #7 already registered cancer/1" in refused.value.message
    assert [v.version for v in client.list_versions("cancer")] == [1]  # no number was used up
    assert client.register_model("cancer", fitted_model, retrain_id=8).version == 2
    assert client.register_model("cancer", fitted_model).version == 3  # no retrain: no key
    assert client.register_model("cancer", fitted_model).version == 4
    assert client.verify_audit().intact


@pytest.mark.parametrize("bad", [0, -1, True, "7", 1.5])
def test_a_retrain_id_is_a_positive_whole_number(
    client: Client, fitted_model: Any, bad: Any
) -> None:
    with pytest.raises(InvalidInput) as refused:
        client.register_model("cancer", fitted_model, retrain_id=bad)
    assert refused.value.field == "retrain_id"


def test_racing_registrations_for_one_retrain_make_one_version(
    client: Client, fitted_model: Any
) -> None:
    """Eight threads register for retrain 3 at once; however their transactions interleave
    (past the check, the unique index decides), one version exists and the rest are refused."""

    def attempt(_: int) -> str:
        try:
            client.register_model("cancer", fitted_model, retrain_id=3)
        except Conflict:
            return "refused"
        return "registered"

    _retrains(client, 3)
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = sorted(pool.map(attempt, range(8)))
    assert outcomes == ["refused"] * 7 + ["registered"]
    found = registered_by_retrain(client.db, 3)
    assert found is not None
    assert [v.version for v in client.list_versions("cancer")] == [found.version]


def test_a_version_cannot_name_a_retrain_the_store_does_not_have(
    client: Client, fitted_model: Any
) -> None:
    with pytest.raises(StoreConflict):
        client.register_model("cancer", fitted_model, retrain_id=9)
    assert registered_by_retrain(client.db, 9) is None
    assert client.list_models() == []  # the registration rolled back whole
