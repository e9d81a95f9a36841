"""Writing answered requests to the prediction log before their answers leave.

A ``PredictionRecorder`` takes one batch of rows for a model as columns and returns only once
they are durable; the micro-batcher calls it from its thread and sends the answers after it
returns, so an acknowledged prediction is always on disk. The default, ``LogStoreRecorder``,
turns each batch into one Parquet part through ``LogStore.append`` (fsync, rename, folder fsync):
simple and correct, with a cost per batch (a few milliseconds) that batching spreads over the
rows that waited together. A write-ahead log can replace it behind the same Protocol.

Row columns (``keel.registry.predictions.RESERVED`` plus the inputs under their own names):
request_id, version, timestamp (request arrival, microseconds, UTC), prediction, score,
latency_ms (arrival to the model's answer), cpu_ms (the batch's CPU time shared over its rows),
status ("ok", "error" or "rejected"), error, entity_key, variant ("stable", "candidate" or
"shadow"), warnings (the row's values never seen in training, as JSON text). An input whose name
is one of Keel's column names is logged as ``input.<name>``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from keel.store.prediction_log import LogStore

if TYPE_CHECKING:
    import pyarrow as pa


class PredictionRecorder(Protocol):
    """Where the server's prediction rows go; ``record`` returns when they are durable.

    ``types`` names the Arrow type of columns the batch alone cannot tell (``"int64"``,
    ``"float64"``, ``"bool"``, ``"string"``): the prediction's and each feature's, from the
    version's signature, so a batch of failed requests (all predictions null) is written with
    the same schema as any other, and pandas and DuckDB read the whole log."""

    def record(
        self, model: str, columns: dict[str, Any], types: dict[str, str] | None = None
    ) -> None: ...

    def close(self) -> None: ...


class NullRecorder:
    """Logs nothing (``keel serve --no-log``), for benchmarks and throw-away servers."""

    def record(
        self, model: str, columns: dict[str, Any], types: dict[str, str] | None = None
    ) -> None:
        return None

    def close(self) -> None:
        return None


class MemoryRecorder:
    """Keeps every batch in memory (tests, embedding): ``batches[model]`` lists their columns."""

    def __init__(self) -> None:
        self.batches: dict[str, list[dict[str, Any]]] = {}

    def record(
        self, model: str, columns: dict[str, Any], types: dict[str, str] | None = None
    ) -> None:
        self.batches.setdefault(model, []).append(dict(columns))

    def close(self) -> None:
        return None


def _types() -> dict[str, pa.DataType]:
    import pyarrow as pa

    return {
        "request_id": pa.string(),
        "version": pa.int32(),
        "timestamp": pa.timestamp("us", "UTC"),
        "score": pa.float64(),
        "latency_ms": pa.float64(),
        "cpu_ms": pa.float64(),
        "status": pa.string(),
        "error": pa.string(),
        "entity_key": pa.string(),
        "variant": pa.string(),
        "warnings": pa.string(),
    }


#: the Arrow types a recorder may be told a column has
ARROW_TYPES = ("int64", "float64", "bool", "string")


def log_table(columns: dict[str, Any], types: dict[str, str] | None = None) -> pa.Table:
    """One batch's columns as an Arrow table: Keel's columns with the log's fixed types, the
    prediction and the features with the types the version's signature gives (``types``);
    a value that does not fit its given type leaves that column to Arrow's own inference
    rather than losing the batch."""
    import pyarrow as pa

    fixed = _types()
    given = {k: getattr(pa, "bool_" if v == "bool" else v)() for k, v in (types or {}).items()}
    arrays: dict[str, pa.Array] = {}
    for name, values in columns.items():
        if name in fixed:
            arrays[name] = pa.array(values, fixed[name], from_pandas=True)
            continue
        kind = given.get(name)
        if kind is not None:
            try:
                arrays[name] = pa.array(values, kind, from_pandas=True)
                continue
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
                pass
        arrays[name] = pa.array(values, from_pandas=True)
    return pa.table(arrays)


class LogStoreRecorder:
    """Each batch becomes one durable Parquet part of the model's prediction log."""

    def __init__(self, logs: LogStore) -> None:
        self.logs = logs

    def record(
        self, model: str, columns: dict[str, Any], types: dict[str, str] | None = None
    ) -> None:
        self.logs.append("predictions", model, log_table(columns, types))

    def close(self) -> None:
        self.logs.close()
