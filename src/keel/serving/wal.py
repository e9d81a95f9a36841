"""A write-ahead log for served predictions: acknowledged means on disk, at the cost of one
``fsync`` per batch of concurrent requests, not one Parquet file per request.

Each serving process appends framed batches (``length | crc32 | JSON``) to its own segment file
and fsyncs before the answers are sent; concurrent callers share one fsync (group commit: the
first caller to reach the disk syncs everything written so far). A flusher seals the segment
every ``flush_interval_s`` (or ``flush_rows`` rows), turns it into one Parquet part per model in
the prediction log, and deletes it. Part names derive from the segment, so replaying a segment
after a crash between "part written" and "segment deleted" writes no duplicates. On start, a
process replays every segment no live process holds (each holds an ``flock`` on its own), so
rows acknowledged by a worker killed with SIGKILL reach the log when any worker starts again.

A torn frame at the end of a segment (the process died mid-write, before its fsync returned) was
never acknowledged and is skipped.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from keel.serving.logging import log_table
from keel.store.prediction_log import LogStore

_HEADER = struct.Struct(">II")  # payload length, CRC-32 of the payload
SUFFIX = ".wal"
SEALED = ".sealed"


def _frames(path: Path) -> Iterator[dict[str, Any]]:
    """The complete, intact batches of a segment, in order."""
    import orjson

    data = path.read_bytes()
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, checksum = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        payload = data[start : start + length]
        if len(payload) < length or zlib.crc32(payload) != checksum:
            return  # torn tail: written by a process that died before acknowledging it
        yield orjson.loads(payload)
        offset = start + length


def replay_segment(logs: LogStore, path: Path) -> int:
    """Write a sealed segment's rows to the prediction log (one part per model), then delete it.
    Returns the rows written; safe to repeat after a crash at any point."""

    by_model: dict[str, list[dict[str, list[Any]]]] = {}
    types: dict[str, dict[str, str]] = {}
    for frame in _frames(path):
        by_model.setdefault(frame["model"], []).append(frame["columns"])
        types.setdefault(frame["model"], {}).update(frame.get("types") or {})
    started_ns, segment_id = _identity(path)
    rows = 0
    for index, (model, batches) in enumerate(sorted(by_model.items())):
        # Keel's columns get the log's fixed types (a batch whose ``error`` or ``warnings`` are
        # all null must not make a null-typed column), so every part has the same schema
        table = log_table(_merged(batches), types.get(model))
        logs.append("predictions", model, table, part_id=(started_ns + index, segment_id))
        rows += table.num_rows
    path.unlink(missing_ok=True)
    _sync_folder(path.parent)
    return rows


def _merged(batches: list[dict[str, list[Any]]]) -> dict[str, list[Any]]:
    """One list per column over all batches (a column missing from a batch is null there):
    one Arrow table instead of one per batch."""
    names: dict[str, None] = {}
    for columns in batches:
        names.update(dict.fromkeys(columns))
    merged: dict[str, list[Any]] = {name: [] for name in names}
    for columns in batches:
        rows = len(next(iter(columns.values()))) if columns else 0
        for name in names:
            merged[name].extend(columns.get(name) or [None] * rows)
    return merged


def _identity(path: Path) -> tuple[int, str]:
    """(seal time in ns, segment id) of a sealed segment ``<start>-<id>.<sealed ns>.sealed``.

    Parts are named by the seal time, not the start: a reader that cuts the log by part arrival
    (a rollout step) then sees rows logged after it started, whenever their segment was opened.
    """
    stem, sealed, _ = path.name.rsplit(".", 2)
    return int(sealed), stem.split("-", 1)[1]


def seal(path: Path) -> Path:
    """Rename an active segment to its sealed name (the seal time is fixed from then on, so a
    replay after a crash names its parts the same way)."""
    sealed = path.with_name(f"{path.name.removesuffix(SUFFIX)}.{time.time_ns():020d}{SEALED}")
    path.rename(sealed)
    _sync_folder(path.parent)
    return sealed


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class WriteAheadRecorder:
    """Durable prediction logging for one serving process (see the module docstring)."""

    def __init__(
        self,
        logs: LogStore,
        directory: str | Path,
        *,
        flush_interval_s: float = 1.0,
        flush_rows: int = 50_000,
    ) -> None:
        self.logs = logs
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.flush_interval_s = flush_interval_s
        self.flush_rows = flush_rows
        self._lock = threading.Lock()  # guards the active segment and its counters
        self._sync_lock = threading.Lock()  # one fsync at a time; later writers ride along
        self._written = 0  # bytes written to the active segment
        self._synced = 0  # bytes of it known to be on disk
        self._rows = 0
        self._handle: IO[bytes] | None = None
        self._path: Path | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None
        self.replayed = self.recover()
        self._open_segment()

    # -- the write path --------------------------------------------------------------------------
    def record(
        self,
        model: str,
        columns: Mapping[str, Sequence[Any] | Any],
        types: dict[str, str] | None = None,
    ) -> None:
        """Append one batch of rows for ``model``; returns once they are on disk.

        ``columns`` maps each log column to one value per row (lists or NumPy arrays), with
        ``timestamp`` in epoch microseconds (UTC).
        """
        import orjson

        payload = orjson.dumps(
            {"model": model, "columns": columns, "types": types or {}},
            option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NAIVE_UTC,
            default=_plain,
        )
        frame = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        rows = len(next(iter(columns.values()))) if columns else 0
        with self._lock:
            handle = self._handle
            assert handle is not None, "the recorder is closed"
            handle.write(frame)
            handle.flush()
            self._written += len(frame)
            target = self._written
            segment = self._path
            self._rows += rows
        self._sync_up_to(segment, target)
        if self._rows >= self.flush_rows:
            self._wake.set()  # the flusher seals it; the request path never writes Parquet

    def _sync_up_to(self, segment: Path | None, target: int) -> None:
        with self._sync_lock:
            with self._lock:
                if segment != self._path:
                    return  # sealed meanwhile: sealing synced it
                if self._synced >= target:
                    return  # another caller's fsync covered these bytes
                handle, upto = self._handle, self._written
            assert handle is not None
            _datasync(handle.fileno())
            with self._lock:
                if segment == self._path:
                    self._synced = max(self._synced, upto)

    # -- segments --------------------------------------------------------------------------------
    def _open_segment(self) -> None:
        path = self.directory / f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}{SUFFIX}"
        handle = open(path, "ab")  # noqa: SIM115 - kept open for the segment's life
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        _sync_folder(self.directory)
        self._handle, self._path = handle, path
        self._written = self._synced = self._rows = 0

    def flush(self) -> int:
        """Seal the active segment, start a new one, and move the sealed rows to the log."""
        with self._sync_lock, self._lock:
            handle, path = self._handle, self._path
            if handle is None or path is None or self._written == 0:
                return 0
            _datasync(handle.fileno())
            self._open_segment()
        sealed = seal(path)
        handle.close()  # releases its lock: the rows are sealed and synced
        return replay_segment(self.logs, sealed)

    def recover(self) -> int:
        """Replay every segment in the folder that no live process holds."""
        rows = 0
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            if path == self._path:
                continue
            try:
                with open(path, "rb") as probe:
                    fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    seal(path)  # its writer is gone: seal it for good, then replay below
            except BlockingIOError:
                continue  # a live process is still writing it
            except FileNotFoundError:
                continue  # another process sealed it first
        for path in sorted(self.directory.glob(f"*{SEALED}")):
            try:
                rows += replay_segment(self.logs, path)
            except FileNotFoundError:
                continue  # another process replayed it first
        return rows

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Flush in the background every ``flush_interval_s``."""

        def loop() -> None:
            while not self._stop.is_set():
                self._wake.wait(self.flush_interval_s)
                self._wake.clear()
                if self._stop.is_set():
                    return
                self.flush()
                self.recover()

        self._flusher = threading.Thread(target=loop, name="keel-wal-flusher", daemon=True)
        self._flusher.start()

    def close(self) -> None:
        """Stop the flusher, move what is left to the log, and remove the empty segment."""
        self._stop.set()
        self._wake.set()
        if self._flusher is not None:
            self._flusher.join(timeout=30)
        self.flush()
        with self._lock:
            handle, path = self._handle, self._path
            self._handle = self._path = None
        if handle is not None:
            handle.close()
        if path is not None and path.stat().st_size == 0:
            path.unlink(missing_ok=True)


def _datasync(descriptor: int) -> None:
    """fdatasync where the system has it: it persists the appended bytes and the file size
    (all a reader needs) without the timestamps, about 2.5x faster than fsync here."""
    sync = getattr(os, "fdatasync", os.fsync)
    sync(descriptor)


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot log a {type(value).__name__}")
