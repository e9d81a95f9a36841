"""Talking to a world's server as a client would: JSON rows with categories as text, and waiting
for the server's plans and its prediction log."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pandas as pd

from tests.conformance.tables import Table

if TYPE_CHECKING:
    from tests.conformance.world import World
    from tests.integration.serving.conftest import Server

#: rows of the later period sent in one request
BATCH_ROWS = 500


@dataclass(frozen=True)
class Sent:
    """One answered row: its id in the log, what was sent, the truth and the answer."""

    row_id: str
    record: dict[str, Any]
    truth: int
    prediction: Any
    score: float
    flagged: list[str]


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def records_of(table: Table, rows: pd.DataFrame) -> list[dict[str, Any]]:
    """``rows``' features as JSON records: numbers as numbers, every category as text (an int
    category 1 is sent as "1")."""
    columns = {}
    for column in table.features:
        values = [_plain(v) for v in rows[column].astype(object).tolist()]
        if column in table.categorical:
            values = [None if v is None else str(v) for v in values]
        columns[column] = values
    return [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]


def post(world: World, model: str, body: dict[str, Any]) -> httpx.Response:
    with httpx.Client(base_url=world.server().url, timeout=60.0) as http:
        answer = http.post(f"/v1/models/{model}/predict", json=body)
    if answer.status_code == 200:
        rows = len(answer.json().get("predictions") or [None])
        world.answered[model] = world.answered.get(model, 0) + rows
    return answer


def post_many(world: World, model: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every body in a request of its own, eight at a time; every answer must be a 200."""
    with (
        httpx.Client(base_url=world.server().url, timeout=60.0) as http,
        ThreadPoolExecutor(8) as pool,
    ):
        futures = [
            pool.submit(http.post, f"/v1/models/{model}/predict", json=body) for body in bodies
        ]
        answers = [future.result() for future in futures]
    bad = [a for a in answers if a.status_code != 200]
    assert not bad, f"{bad[0].status_code}: {bad[0].text[:1000]}"
    found = [a.json() for a in answers]
    rows = sum(len(a.get("predictions") or [None]) for a in found)
    world.answered[model] = world.answered.get(model, 0) + rows
    return found


def wait_serving(server: Server, model: str, version: int) -> None:
    """Until the server has loaded ``version`` of ``model`` (plans are polled)."""

    def loaded() -> bool:
        with server.client() as http:
            answer = http.get(f"/v1/models/{model}")
        return answer.status_code == 200 and version in {
            v["version"] for v in answer.json()["versions"]
        }

    server.wait(loaded, timeout=60.0, what=f"{model}/{version} to be served")


def log_folder(world: World, model: str) -> Path:
    return Path(world.settings.artifacts) / "log" / "predictions" / f"model={model}"


def logged_rows(world: World, model: str) -> int:
    import pyarrow.parquet as pq

    folder = log_folder(world, model)
    return sum(pq.ParquetFile(p).metadata.num_rows for p in folder.glob("*/*.parquet"))


def wait_logged(world: World, model: str, rows: int | None) -> Path:
    """Until the prediction log holds ``rows`` rows of ``model`` (every answered row: None);
    returns the model's log folder."""
    wanted = world.answered.get(model, 0) if rows is None else rows
    world.server().wait(
        lambda: logged_rows(world, model) >= wanted,
        timeout=30.0,
        what=f"{wanted} logged rows of {model}",
    )
    return log_folder(world, model)
