"""The rows a step is judged on: what the prediction log received since the step began.

Part names start with the nanosecond time they were written (``part-<ns>-<id>.parquet``), so
the log can be cut by arrival without opening a part. A deployment's first step reads the parts
written since the deployment was created; when the controller moves a step it records the
newest part it read (the *position*) and the next step reads only the parts after it. Cutting by
arrival, not by each row's timestamp, keeps the windows exact whatever clock the controller is
told to use and wherever the rows' timestamps come from (a batch logged late still counts for
the step that received it).

Stable and candidate rows are told apart by ``version``; where the server wrote a ``variant``
it must agree (a stable version's rows logged as ``candidate`` are left out of both).

>>> part_time_ns("date=2026-01-01/part-00001767225600000000000-ab12cd34ef56.parquet")
1767225600000000000
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from keel.errors import InvalidInput
from keel.store.prediction_log import LogStore, Part

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "Window", "part_key", "part_time_ns", "read_window", "split_variants"]

#: the prediction-log columns an analysis reads
COLUMNS = (
    "request_id",
    "version",
    "variant",
    "timestamp",
    "prediction",
    "score",
    "latency_ms",
    "status",
    "entity_key",  # the unit an A/B test counts on a sticky deployment (keel.rollout.units)
)


def part_key(name: str) -> str:
    """The sortable part of a part's name (``part-<ns>-<id>.parquet``), without its folder."""
    return name.rsplit("/", 1)[-1]


def log_position(logs: LogStore, model: str) -> str:
    """The key of the newest prediction part ("" for an empty log): a deployment started now
    analyses the parts after it, whatever clock its controller keeps."""
    keys = [part_key(p.name) for p in logs.parts("predictions", model)]
    return max(keys) if keys else ""


def part_time_ns(name: str) -> int:
    """When a part was written (ns since the epoch), from its name."""
    try:
        return int(part_key(name).split("-")[1])
    except (IndexError, ValueError) as exc:
        raise InvalidInput("part", f"{name!r} is not a prediction-log part name") from exc


@dataclass(frozen=True)
class Window:
    """The rows of a step, the number of parts they came from, and the newest part read."""

    rows: pd.DataFrame
    parts: int
    position: str | None


def read_window(
    logs: LogStore, model: str, *, after: str | None = None, since: datetime | None = None
) -> Window:
    """Rows of the parts after position ``after`` (a part key) and written at or after
    ``since``; either bound may be None."""
    import pandas as pd

    since_ns = None if since is None else int(since.timestamp() * 1e9)
    chosen: list[Part] = [
        p
        for p in logs.parts("predictions", model)
        if (after is None or part_key(p.name) > after)
        and (since_ns is None or part_time_ns(p.name) >= since_ns)
    ]
    frames = []
    for part in chosen:
        table = logs.read(part)
        frame = table.select([c for c in COLUMNS if c in table.column_names]).to_pandas()
        frames.append(frame.reindex(columns=list(COLUMNS)))
    if frames:
        rows = pd.concat(frames, ignore_index=True)
    else:
        rows = pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    position = part_key(chosen[-1].name) if chosen else after
    return Window(rows=rows, parts=len(chosen), position=position)


def split_variants(
    rows: pd.DataFrame, stable: int | None, candidate: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stable version's rows and the candidate's (``candidate`` or ``shadow`` variant)."""
    version = rows["version"]
    variant = rows["variant"]
    stable_rows = rows[(version == stable) & (variant.isna() | (variant == "stable"))]
    candidate_rows = rows[
        (version == candidate) & (variant.isna() | variant.isin(["candidate", "shadow"]))
    ]
    return stable_rows.reset_index(drop=True), candidate_rows.reset_index(drop=True)
