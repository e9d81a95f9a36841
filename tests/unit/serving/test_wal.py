"""The serving write-ahead log: acknowledged rows reach the prediction log exactly once, also
after a SIGKILL, and a torn tail (never acknowledged) is skipped."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa

from keel.serving.wal import SEALED, SUFFIX, WriteAheadRecorder, replay_segment
from keel.store.prediction_log import ParquetLogStore
from tests.crashing import acknowledged_before_sigkill


def batch(start: int, rows: int = 5) -> dict[str, list]:  # type: ignore[type-arg]
    return {
        "request_id": [f"r{start + i}" for i in range(rows)],
        "version": [1] * rows,
        "timestamp": [1_764_489_600_000_000 + start + i for i in range(rows)],
        "prediction": [i % 2 for i in range(rows)],
        "x": [float(i) for i in range(rows)],
    }


def logged(logs: ParquetLogStore, model: str = "m") -> list[str]:
    tables = [logs.read(p) for p in logs.parts("predictions", model)]
    if not tables:
        return []
    return pa.concat_tables(tables).column("request_id").to_pylist()


def test_rows_reach_the_log_once_in_order(tmp_path: Path) -> None:
    logs = ParquetLogStore(str(tmp_path / "art"))
    recorder = WriteAheadRecorder(logs, tmp_path / "wal")
    recorder.record("m", batch(0))
    recorder.record("m", batch(5))
    recorder.record("other", batch(100, 2))
    assert logged(logs) == []  # on disk in the segment, not yet in the log
    assert recorder.flush() == 12
    assert logged(logs) == [f"r{i}" for i in range(10)]
    assert logged(logs, "other") == ["r100", "r101"]
    table = logs.read(logs.parts("predictions", "m")[0])
    assert table.schema.field("timestamp").type == pa.timestamp("us", "UTC")
    recorder.close()
    assert list((tmp_path / "wal").glob(f"*{SUFFIX}")) == []


def test_concurrent_writers_share_fsyncs_and_lose_nothing(tmp_path: Path) -> None:
    logs = ParquetLogStore(str(tmp_path / "art"))
    recorder = WriteAheadRecorder(logs, tmp_path / "wal", flush_interval_s=0.05, flush_rows=200)
    recorder.start()

    def writer(offset: int) -> None:
        for k in range(50):
            recorder.record("m", batch(offset + 5 * k))

    threads = [threading.Thread(target=writer, args=(10_000 * t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.close()
    ids = logged(logs)
    assert len(ids) == 1000 and len(set(ids)) == 1000


def test_replaying_a_segment_twice_writes_no_duplicates(tmp_path: Path) -> None:
    logs = ParquetLogStore(str(tmp_path / "art"))
    recorder = WriteAheadRecorder(logs, tmp_path / "wal")
    recorder.record("m", batch(0))
    segment = recorder._path
    assert segment is not None
    saved = segment.read_bytes()
    recorder.close()
    sealed = tmp_path / "elsewhere" / f"{segment.stem}.{12345:020d}{SEALED}"
    sealed.parent.mkdir()
    sealed.write_bytes(saved)
    replay_segment(logs, sealed)
    sealed.write_bytes(saved)  # as if the process died after writing the part, before deleting
    replay_segment(logs, sealed)
    assert logged(logs) == [f"r{i}" for i in range(5)] * 2  # the flush, then the one replay
    assert not sealed.exists()


def test_a_torn_tail_is_skipped(tmp_path: Path) -> None:
    logs = ParquetLogStore(str(tmp_path / "art"))
    recorder = WriteAheadRecorder(logs, tmp_path / "wal")
    recorder.record("m", batch(0))
    segment = recorder._path
    assert segment is not None
    saved = segment.read_bytes()
    recorder.close()
    torn = tmp_path / "wal" / "00000000000000000001-torn.wal"
    torn.write_bytes(saved + saved[: len(saved) // 2])
    WriteAheadRecorder(logs, tmp_path / "wal").close()
    assert logged(logs) == [f"r{i}" for i in range(5)] * 2  # the whole frame, not the torn one
    assert not torn.exists()


WRITER = """
import sys
from keel.serving.wal import WriteAheadRecorder
from keel.store.prediction_log import ParquetLogStore
recorder = WriteAheadRecorder(ParquetLogStore(sys.argv[1]), sys.argv[2], flush_interval_s=0.2)
recorder.start()
n = 0
while True:
    ids = [f"b{n}-{i}" for i in range(20)]
    recorder.record("m", {"request_id": ids, "version": [1] * 20,
                          "timestamp": [1_764_489_600_000_000] * 20, "prediction": [0] * 20})
    print("ack", n, flush=True)
    n += 1
"""


def test_acknowledged_rows_survive_sigkill_and_reach_the_log_on_restart(tmp_path: Path) -> None:
    art, wal = str(tmp_path / "art"), str(tmp_path / "wal")
    acknowledged = acknowledged_before_sigkill(WRITER, tmp_path, [art, wal], 300)
    assert len(acknowledged) >= 300
    logs = ParquetLogStore(art)
    WriteAheadRecorder(logs, wal).close()  # a restarted server replays what the dead one left
    ids = logged(logs)
    assert len(ids) == len(set(ids))  # nothing twice
    present = set(ids)
    for n in acknowledged:
        assert {f"b{n}-{i}" for i in range(20)} <= present
