"""The append-only prediction and label logs: immutable Parquet parts on any fsspec file system.

Each ``append`` writes one part, ``<root>/<kind>/model=<name>/date=<YYYY-MM-DD>/part-<ns>-<id>
.parquet``, and returns only once the part is durable: on a local disk it is written beside its
final name, fsynced, renamed and its folder fsynced, so a crash leaves either the whole part or
nothing; object stores publish a whole object or nothing. Parts are never modified, so readers
(Keel's monitor, pandas, DuckDB) need no locks::

    pandas.read_parquet(".keel/artifacts/log/predictions/model=fraud")
    duckdb.sql("SELECT * FROM read_parquet('.keel/artifacts/log/predictions/*/*/*.parquet',
                hive_partitioning = true)")

Part names start with the nanosecond time of writing, so name order is arrival order.
"""

from __future__ import annotations

import io
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from keel.errors import InvalidInput, StoreUnavailable

if TYPE_CHECKING:
    import pyarrow as pa

LogKind = Literal["predictions", "labels"]
KINDS: tuple[LogKind, ...] = ("predictions", "labels")


@dataclass(frozen=True)
class Part:
    """One immutable part of a log: its name (sortable by arrival) and where it lives."""

    kind: LogKind
    model: str
    name: str
    path: str


class LogStore(Protocol):
    """What monitoring needs from a log back end."""

    url: str

    def append(
        self, kind: LogKind, model: str, table: pa.Table, *, part_id: tuple[int, str] | None = None
    ) -> Part: ...

    def parts(self, kind: LogKind, model: str) -> list[Part]: ...

    def read(self, part: Part, columns: list[str] | None = None) -> pa.Table: ...

    def close(self) -> None: ...


class ParquetLogStore:
    """The logs under ``<artifact root>/log`` on a local folder, ``memory://`` or ``s3://``."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        import fsspec

        try:
            self.fs, root = fsspec.core.url_to_fs(url, **storage_options)
        except (ImportError, ValueError) as exc:
            raise InvalidInput("artifacts", f"{url!r} cannot be opened: {exc}") from exc
        self.url = url
        self.root = root.rstrip("/") + "/log"
        protocol = self.fs.protocol
        self._local = "file" in ((protocol,) if isinstance(protocol, str) else tuple(protocol))

    def _folder(self, kind: LogKind, model: str) -> str:
        if kind not in KINDS:
            raise InvalidInput("kind", f"{kind!r} is not a log; use predictions or labels")
        return f"{self.root}/{kind}/model={model}"

    def append(
        self, kind: LogKind, model: str, table: pa.Table, *, part_id: tuple[int, str] | None = None
    ) -> Part:
        """Write ``table`` as one new part; durable when this returns.

        ``part_id`` (nanosecond time, short id) names the part instead of the clock and a random
        id, which makes the append idempotent: a part of that name that exists already is kept
        and returned (a write-ahead log replayed after a crash writes no duplicates).
        """
        import pyarrow.parquet as pq

        if table.num_rows == 0:
            raise InvalidInput(kind, "nothing to log: no rows")
        now, suffix = part_id if part_id is not None else (time.time_ns(), uuid.uuid4().hex[:12])
        day = datetime.fromtimestamp(now / 1e9, UTC).strftime("%Y-%m-%d")
        name = f"part-{now:020d}-{suffix}.parquet"
        folder = f"{self._folder(kind, model)}/date={day}"
        path = f"{folder}/{name}"
        if part_id is not None and self.fs.exists(path):
            return Part(kind, model, f"date={day}/{name}", path)
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        data = buffer.getvalue()
        try:
            if self._local:
                _write_durably(folder, path, data)
            else:
                self.fs.pipe_file(path, data)
        except OSError as exc:
            raise StoreUnavailable(
                f"could not write the {kind} log of {model} to {self.url}: {exc}", url=self.url
            ) from exc
        return Part(kind, model, f"date={day}/{name}", path)

    def parts(self, kind: LogKind, model: str) -> list[Part]:
        """Every part of ``model``'s log, oldest first."""
        folder = self._folder(kind, model)
        try:
            found = self.fs.glob(f"{folder}/date=*/part-*.parquet")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreUnavailable(f"could not list {folder}: {exc}", url=self.url) from exc
        parts = []
        for path in found:
            day, name = path.rsplit("/", 2)[-2:]
            parts.append(Part(kind, model, f"{day}/{name}", path))
        parts.sort(key=lambda p: p.name.rsplit("/", 1)[-1])
        return parts

    def read(self, part: Part, columns: list[str] | None = None) -> pa.Table:
        import pyarrow.parquet as pq

        try:
            with self.fs.open(part.path, "rb") as handle:
                return pq.read_table(handle, columns=columns)
        except FileNotFoundError as exc:
            raise StoreUnavailable(f"log part {part.path} disappeared", url=self.url) from exc
        except OSError as exc:
            raise StoreUnavailable(f"could not read {part.path}: {exc}", url=self.url) from exc

    def close(self) -> None:
        """fsspec file systems hold nothing that needs closing."""


def _write_durably(folder: str, path: str, data: bytes) -> None:
    os.makedirs(folder, exist_ok=True)
    temporary = f"{path}.{uuid.uuid4().hex}.partial"
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)  # the rename itself must survive a power cut
    finally:
        os.close(descriptor)
