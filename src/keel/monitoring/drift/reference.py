"""The reference profile: bounded-memory statistics of the data a model was trained or validated on.

A window is compared with the profile, never with the raw reference, so neither memory nor the
time of a comparison grows with the reference's size, and the profile can be stored as a small
JSON artifact (``to_dict`` / ``from_dict``): a few KB per column whatever the reference's size
(numeric counts are stored quantised to 65,536), plus about 230 KB for a 5,000-row sample of 25
columns; about 300 KB in all for 25 columns. Per column it keeps a
:mod:`~keel.monitoring.drift.summary` (a fine uniform binning of numbers with moments and
extremes; category counts); for the multivariate check it keeps a seeded reservoir sample of rows
(Algorithm R), coded as bin codes and category codes.

Building reads a DataFrame or an iterable of DataFrames (chunks; each needs the same columns).
A numeric column's grid is fitted on its first 50,000 finite values (all of them for a single
DataFrame) and fixed from then on; values outside it land in the under- and overflow bins. A
categorical column keeps exact counts while it has at most ``10 * max_categories`` distinct
values; beyond that the rarest are pooled into ``other`` as they appear (so the kept counts of
categories that were pooled once and reappear later are undercounts), and the profile keeps the
``max_categories`` most frequent.

>>> import numpy as np, pandas as pd
>>> frame = pd.DataFrame({"x": np.arange(1000.0), "colour": ["red", "blue"] * 500})
>>> profile = ReferenceProfile.build(frame, sample_rows=100)
>>> profile.kinds, profile.rows, profile.sample_rows
({'x': 'numeric', 'colour': 'categorical'}, 1000, 100)
>>> ReferenceProfile.from_dict(profile.to_dict()).columns["colour"].categories
('blue', 'red')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from keel.errors import InvalidInput
from keel.monitoring.drift._arrays import pack, unpack
from keel.monitoring.drift._frames import as_floats, count_categories, kind_of
from keel.monitoring.drift.summary import (
    CategoricalSummary,
    ColumnSummary,
    Grid,
    Kind,
    NumericSummary,
    fit_grid,
    summarise_numeric,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MISSING_CODE", "ReferenceProfile", "category_codes", "numeric_codes"]

FORMAT = "keel.drift.reference"
VERSION = 1
#: finite values a numeric column's grid is fitted on when the reference comes in chunks
GRID_ROWS = 50_000
#: the sample's code for a missing value
MISSING_CODE = 65535


@dataclass(frozen=True, eq=False)  # holds arrays: compare to_dict() instead
class ReferenceProfile:
    columns: dict[str, ColumnSummary]
    rows: int
    sample: dict[str, np.ndarray]  # per column: uint16 codes of the sampled rows
    sample_rows: int
    seed: int = 0

    @property
    def kinds(self) -> dict[str, Kind]:
        return {name: summary.kind for name, summary in self.columns.items()}

    @classmethod
    def build(
        cls,
        data: pd.DataFrame | Iterable[pd.DataFrame],
        columns: Sequence[str] | None = None,
        kinds: Mapping[str, Kind] | None = None,
        seed: int = 0,
        *,
        bins: int = 4096,
        max_categories: int = 1000,
        sample_rows: int = 5000,
    ) -> ReferenceProfile:
        """Profile ``data`` (a DataFrame or DataFrames with the same columns).

        ``columns`` defaults to every column of the first frame; ``kinds`` overrides the kind
        inferred from a column's type (e.g. ``{"zip": "categorical"}``). ``bins`` is the number of
        fine bins of a numeric column, ``sample_rows`` the size of the seeded row sample.
        """
        import pandas as pd

        if not 10 <= bins <= MISSING_CODE - 2:
            raise InvalidInput("bins", f"must be between 10 and {MISSING_CODE - 2}")
        if not 1 <= max_categories <= 60_000:
            raise InvalidInput("max_categories", "must be between 1 and 60,000")
        if sample_rows < 0:
            raise InvalidInput("sample_rows", "must not be negative")
        frames = [data] if isinstance(data, pd.DataFrame) else data
        builder: _Builder | None = None
        for number, frame in enumerate(frames):
            if not isinstance(frame, pd.DataFrame):
                raise InvalidInput("reference", f"chunk {number} is a {type(frame).__name__}")
            if builder is None:
                options = (seed, bins, max_categories, sample_rows)
                builder = _Builder(frame, columns, kinds, *options)
            builder.add(frame, number)
        if builder is None or builder.rows == 0:
            raise InvalidInput("reference", "has no rows")
        return builder.finish()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form (arrays packed; see ``_arrays``), read back by :meth:`from_dict`."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "rows": self.rows,
            "seed": self.seed,
            "columns": {name: summary.to_dict() for name, summary in self.columns.items()},
            "sample": {
                "rows": self.sample_rows,
                "columns": {name: pack(codes) for name, codes in self.sample.items()},
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise InvalidInput("profile", f"is not a {FORMAT} record")
        if data.get("version") != VERSION:
            raise InvalidInput(
                "profile", f"has version {data.get('version')!r}; expected {VERSION}"
            )
        try:
            columns: dict[str, ColumnSummary] = {}
            for name, column in data["columns"].items():
                reader = NumericSummary if column["kind"] == "numeric" else CategoricalSummary
                columns[str(name)] = reader.from_dict(column)
            sample = {str(k): unpack(v) for k, v in data["sample"]["columns"].items()}
            return cls(
                columns, int(data["rows"]), sample, int(data["sample"]["rows"]), int(data["seed"])
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput("profile", f"is malformed ({exc!r})") from exc

    def sample_matrix(self, names: Sequence[str]) -> np.ndarray:
        """The sample's codes of ``names`` as a float matrix, NaN where missing."""
        matrix = np.empty((self.sample_rows, len(names)), dtype=np.float64)
        for j, name in enumerate(names):
            codes = self.sample[name]
            matrix[:, j] = np.where(codes == MISSING_CODE, np.nan, codes)
        return matrix

    def coded(
        self, frame: pd.DataFrame, names: Sequence[str], rows: np.ndarray | None = None
    ) -> np.ndarray:
        """Rows of ``frame`` (all, or the positions ``rows``) coded like the sample: the bin code
        of a number on its column's grid, a category's position (new ones as ``other`` or after
        the known ones), NaN where missing. Every name must be a profiled column."""
        picked = frame if rows is None else frame.iloc[rows]
        matrix = np.empty((len(picked), len(names)), dtype=np.float64)
        for j, name in enumerate(names):
            column = picked[name]
            summary = self.columns[name]
            if isinstance(summary, NumericSummary):
                values = as_floats(column)
                if values is None:
                    raise InvalidInput(name, "holds values that are not numbers")
                codes = numeric_codes(values, summary.grid)
            else:
                known = len(summary.categories)
                unknown = known if summary.other else known + 1  # "other" or new
                codes = category_codes(column.tolist(), summary.categories, unknown)
            matrix[:, j] = np.where(codes == MISSING_CODE, np.nan, codes)
        return matrix


def numeric_codes(values: np.ndarray, grid: Grid | None) -> np.ndarray:
    """Bin codes of float values (infinite ones in the outer bins), ``MISSING_CODE`` for NaN."""
    missing = np.isnan(values)
    if grid is None:
        return np.full(values.shape, MISSING_CODE, dtype=np.uint16)
    codes = grid.codes(np.where(missing, grid.lo, values)).astype(np.uint16)
    codes[missing] = MISSING_CODE
    return codes


def category_codes(values: Sequence[Any], categories: Sequence[str], unknown: int) -> np.ndarray:
    """Each value's position in ``categories`` (as text), ``unknown`` if it is not there, and
    ``MISSING_CODE`` if it is missing (None or NaN)."""
    import pandas as pd

    position = {name: i for i, name in enumerate(categories)}
    codes = np.full(len(values), MISSING_CODE, dtype=np.uint16)
    for i, value in enumerate(values):
        if value is not None and not (not isinstance(value, str) and pd.isna(value)):
            codes[i] = position.get(value if isinstance(value, str) else str(value), unknown)
    return codes


class _Reservoir:
    """Algorithm R over row positions: which rows of each chunk enter the sample, in which slot."""

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.seen = size, 0
        self.rng = np.random.default_rng(seed)

    def offer(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        start, self.seen = self.seen, self.seen + n
        fill = min(max(self.size - start, 0), n)
        rows, slots = np.arange(fill), np.arange(start, start + fill)
        if fill < n and self.size:
            later = np.arange(fill, n)
            draws = self.rng.integers(0, start + later + 1)  # row t replaces slot j < size
            kept = draws < self.size
            rows = np.concatenate([rows, later[kept]])
            slots = np.concatenate([slots, draws[kept]])
        # a later row overwrites an earlier one in the same slot: keep each slot's last row
        unique, first_from_end = np.unique(slots[::-1], return_index=True)
        last = slots.size - 1 - first_from_end
        return rows[last], unique


class _NumericBuilder:
    def __init__(self, name: str, bins: int, source: Kind, sample_rows: int) -> None:
        self.name, self.bins, self.source = name, bins, source
        self.pending: list[np.ndarray] = []
        self.pending_finite = 0
        self.summary: NumericSummary | None = None
        self.sample = np.full(sample_rows, np.nan)

    def add(self, series: pd.Series, rows: np.ndarray, slots: np.ndarray, number: int) -> None:
        values = as_floats(series)
        if values is None:
            raise InvalidInput(
                "reference", f"column {self.name!r} of chunk {number} is not numeric"
            )
        self.sample[slots] = values[rows]
        if self.summary is not None and self.summary.grid is not None:
            chunk = summarise_numeric(values, self.summary.grid, self.source)
            self.summary = self.summary.merge(chunk)
            return
        self.pending.append(values)
        self.pending_finite += int(np.count_nonzero(np.isfinite(values)))
        if self.pending_finite >= GRID_ROWS:
            self._fix_grid()

    def _fix_grid(self) -> None:
        values = self.pending[0] if len(self.pending) == 1 else np.concatenate(self.pending)
        self.pending = []
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            nan = int(np.count_nonzero(np.isnan(values)))
            empty = np.zeros(0, dtype=np.int64)
            self.summary = NumericSummary(
                None, empty, 0, nan, values.size - nan, source=self.source
            )
            return
        self.summary = summarise_numeric(values, fit_grid(finite, self.bins), self.source)

    def finish(self) -> tuple[NumericSummary, np.ndarray]:
        if self.summary is None:
            self._fix_grid()
        assert self.summary is not None
        return self.summary.quantised(), numeric_codes(self.sample, self.summary.grid)


class _CategoricalBuilder:
    def __init__(self, name: str, max_categories: int, source: Kind, sample_rows: int) -> None:
        self.name, self.max_categories, self.source = name, max_categories, source
        self.capacity = 10 * max_categories
        self.counts: dict[str, int] = {}
        self.pooled = 0  # values of categories dropped while counting
        self.missing = 0
        self.sample: list[Any] = [None] * sample_rows

    def add(self, series: pd.Series, rows: np.ndarray, slots: np.ndarray, number: int) -> None:
        for slot, value in zip(slots.tolist(), series.iloc[rows].tolist(), strict=True):
            self.sample[slot] = value
        counts, missing = count_categories(series)
        self.missing += missing
        for name, count in counts.items():
            self.counts[name] = self.counts.get(name, 0) + count
        if len(self.counts) > self.capacity:
            ranked = sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))
            keep = self.capacity // 2
            self.pooled += sum(count for _, count in ranked[keep:])
            self.counts = dict(ranked[:keep])

    def finish(self) -> tuple[CategoricalSummary, np.ndarray]:
        ranked = sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))
        kept = ranked[: self.max_categories]
        other = self.pooled + sum(count for _, count in ranked[self.max_categories :])
        summary = CategoricalSummary(
            categories=tuple(name for name, _ in kept),
            counts=np.array([count for _, count in kept], dtype=np.int64),
            other=other,
            missing=self.missing,
            source=self.source,
        )
        codes = category_codes(self.sample, summary.categories, unknown=len(summary.categories))
        return summary, codes


class _Builder:
    def __init__(
        self,
        first: pd.DataFrame,
        columns: Sequence[str] | None,
        kinds: Mapping[str, Kind] | None,
        seed: int,
        bins: int,
        max_categories: int,
        sample_rows: int,
    ) -> None:
        names = list(first.columns) if columns is None else list(columns)
        if not names or not all(isinstance(name, str) for name in names):
            raise InvalidInput("columns", "need at least one, each named by text")
        if len(set(names)) != len(names) or first.columns.duplicated().any():
            raise InvalidInput("columns", "must be distinct")
        absent = [name for name in names if name not in first.columns]
        if absent:
            raise InvalidInput("columns", f"not in the reference: {absent}")
        overrides = dict(kinds or {})
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise InvalidInput("kinds", f"names columns that are not profiled: {unknown}")
        if any(kind not in ("numeric", "categorical") for kind in overrides.values()):
            raise InvalidInput("kinds", "each kind must be 'numeric' or 'categorical'")
        self.names, self.seed, self.rows = names, seed, 0
        self.reservoir = _Reservoir(sample_rows, seed)
        self.builders: dict[str, _NumericBuilder | _CategoricalBuilder] = {}
        for name in names:
            source = kind_of(first[name])
            if overrides.get(name, source) == "numeric":
                self.builders[name] = _NumericBuilder(name, bins, source, sample_rows)
            else:
                self.builders[name] = _CategoricalBuilder(name, max_categories, source, sample_rows)

    def add(self, frame: pd.DataFrame, number: int) -> None:
        absent = [name for name in self.names if name not in frame.columns]
        if absent:
            raise InvalidInput("reference", f"chunk {number} lacks the columns {absent}")
        rows, slots = self.reservoir.offer(len(frame))
        for name, builder in self.builders.items():
            builder.add(frame[name], rows, slots, number)
        self.rows += len(frame)

    def finish(self) -> ReferenceProfile:
        filled = min(self.rows, self.reservoir.size)
        columns: dict[str, ColumnSummary] = {}
        sample: dict[str, np.ndarray] = {}
        for name, builder in self.builders.items():
            columns[name], codes = builder.finish()
            sample[name] = codes[:filled]
        return ReferenceProfile(columns, self.rows, sample, filled, self.seed)
