"""Cutting the prediction log into windows, per model version, by row count or by time.

Rows arrive in log order. By row count, each version's rows are cut into windows of exactly
``rows`` rows and the remainder waits for the next run. By time, rows fall into buckets aligned
to ``every`` (UTC epoch); a bucket closes once a later row has arrived or its end lies one period
in the past, so late rows of a still-open bucket are not lost.

>>> import pandas as pd
>>> frame = pd.DataFrame({"version": [1] * 5, "timestamp": pd.date_range("2026-01-01", periods=5,
...                       freq="min", tz="UTC")})
>>> closed, rest = cut_by_rows(frame, 2)
>>> [len(w) for w in closed], len(rest)
([2, 2], 1)
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd


def cut_by_rows(frame: pd.DataFrame, rows: int) -> tuple[list[pd.DataFrame], pd.DataFrame]:
    """Closed windows of exactly ``rows`` rows per version, and the rows still waiting."""
    closed: list[pd.DataFrame] = []
    waiting: list[pd.DataFrame] = []
    for _, group in frame.groupby("version", sort=True):
        full = len(group) // rows
        for index in range(full):
            closed.append(group.iloc[index * rows : (index + 1) * rows])
        if len(group) > full * rows:
            waiting.append(group.iloc[full * rows :])
    closed.sort(key=lambda w: w["timestamp"].iloc[-1])
    return closed, _concat(waiting, frame)


def cut_by_time(
    frame: pd.DataFrame, every: timedelta, now: datetime
) -> tuple[list[pd.DataFrame], pd.DataFrame]:
    """Closed time buckets per version, and the rows of buckets that are still open."""
    if frame.empty:
        return [], frame
    period = int(every.total_seconds() * 1_000_000)
    stamps = frame["timestamp"].dt.tz_convert("UTC").dt.as_unit("us")
    micros = stamps.astype("int64").to_numpy()
    bucket = micros // period
    newest = int(micros.max())
    now_micros = int(pd.Timestamp(now).tz_convert("UTC").value // 1000)
    end = (bucket + 1) * period
    is_closed = (end <= newest) | (end + period <= now_micros)
    closed: list[pd.DataFrame] = []
    keyed = frame.assign(_bucket=bucket)
    for (_, _), group in keyed[is_closed].groupby(["_bucket", "version"], sort=True):
        closed.append(group.drop(columns="_bucket"))
    return closed, frame[~is_closed]


def _concat(pieces: list[pd.DataFrame], like: pd.DataFrame) -> pd.DataFrame:
    if not pieces:
        return like.iloc[0:0]
    return pd.concat(pieces) if len(pieces) > 1 else pieces[0]
