"""Bounded summaries of one column: what a reference profile keeps, and what a window becomes.

A numeric column is counted on a fixed uniform grid (:class:`Grid`): ``bins`` equal bins between
``lo`` and ``hi`` plus an underflow and an overflow bin, so summarising a window is arithmetic
and one ``np.bincount`` per column (no sort, no search). The summary also keeps the count of
finite values, missing (NaN) and infinite values, the mean, standard deviation, minimum and
maximum, and the mean of the values in each outer bin (where their mass is placed). Infinite
values are counted and left out of everything else. A stored profile's counts are *quantised*
to sum to 65,536 (:meth:`NumericSummary.quantised`): its CDF stays within 0.5 / 65,536 of the
exact one at every edge, and its size stops growing with the reference's.

A categorical column keeps the count of each category (at most ``max_categories``, the rest
pooled in ``other``) and of missing values; categories are compared as text (``str(value)``).

Both are small, fixed-size and mergeable: a reference built chunk by chunk merges the chunks'
summaries, and a window is summarised on the reference's grid exactly the same way.

>>> import numpy as np
>>> grid = Grid(lo=0.0, hi=1.0, bins=4)
>>> grid.codes(np.array([-5.0, 0.0, 0.3, 0.99, 1.0])).tolist()
[0, 1, 2, 4, 5]
>>> summary = summarise_numeric(np.array([0.1, 0.2, np.nan, np.inf, 2.0]), grid)
>>> summary.counts.tolist(), summary.rows, summary.missing, summary.infinite
([0, 2, 0, 0, 0, 1], 3, 1, 1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from keel.monitoring.drift._arrays import finite, pack, unpack

__all__ = [
    "CategoricalSummary",
    "ColumnSummary",
    "Grid",
    "Kind",
    "NumericSummary",
    "fit_grid",
    "summarise_numeric",
]

Kind = Literal["numeric", "categorical"]

#: the share cut off each tail before the grid's range is widened by ``MARGIN`` of it
TAIL = 0.001
MARGIN = 0.05
#: a stored numeric profile's counts sum to at most this (its CDF is exact to 0.5 / QUANTUM)
QUANTUM = 2**16


@dataclass(frozen=True)
class Grid:
    """``bins`` equal bins on ``[lo, hi)``; code 0 is the underflow bin, ``bins + 1`` overflow."""

    lo: float
    hi: float
    bins: int

    @property
    def width(self) -> float:
        return (self.hi - self.lo) / self.bins

    def edges(self) -> np.ndarray:
        return np.linspace(self.lo, self.hi, self.bins + 1)

    def centres(self) -> np.ndarray:
        return self.lo + (np.arange(self.bins) + 0.5) * self.width

    def codes(self, values: np.ndarray) -> np.ndarray:
        """The bin code of each finite value. The offset is taken in float64 and the rest in
        float32 (twice as fast; every value is coded by the same monotone arithmetic on both
        sides, so the bins stay intervals); huge values just land in the overflow bin."""
        scaled = np.empty(values.shape, dtype=np.float32)
        with np.errstate(over="ignore", invalid="ignore"):
            # (x - (lo - width)) / width = (x - lo) / width + 1: inner bins are codes 1..bins
            np.subtract(values, self.lo - self.width, out=scaled, casting="same_kind")
            scaled *= np.float32(self.bins / (self.hi - self.lo))
        np.clip(scaled, 0.0, self.bins + 1, out=scaled)
        return scaled.astype(np.intp)

    def to_dict(self) -> dict[str, Any]:
        return {"lo": self.lo, "hi": self.hi, "bins": self.bins}


def fit_grid(values: np.ndarray, bins: int) -> Grid:
    """A grid over the finite ``values``' robust range: the 0.1% and 99.9% quantiles widened by
    5% of their span, within the observed minimum and maximum. A (nearly) constant column uses
    its full range, and a constant one (or one spanning less than ``bins * 1e-30``, too little for
    the float32 arithmetic of :meth:`Grid.codes`) the unit interval above its minimum."""
    low, high = (float(q) for q in np.quantile(values, [TAIL, 1.0 - TAIL]))
    smallest, largest = float(values.min()), float(values.max())
    span = high - low
    if span > 0:
        lo, hi = max(smallest, low - MARGIN * span), min(largest, high + MARGIN * span)
    else:
        lo, hi = smallest, largest
    if not hi - lo > bins * 1e-30 or not math.isfinite(hi - lo):  # (nearly) no span for float32
        lo, hi = smallest, smallest + 1.0
    return Grid(lo, hi, bins)


@dataclass(frozen=True, eq=False)  # arrays: compare to_dict() instead
class NumericSummary:
    grid: Grid | None  # None when the column had no finite value to fit a grid on
    counts: np.ndarray  # bins + 2 counts, int64 (a profile's may be quantised: see quantised())
    rows: int  # finite values
    missing: int
    infinite: int
    mean: float = math.nan
    std: float = math.nan  # population standard deviation (ddof 0)
    minimum: float = math.nan
    maximum: float = math.nan
    under_mean: float = math.nan  # mean of the values below the grid (NaN: none)
    over_mean: float = math.nan  # mean of the values at or above the grid's end
    source: Kind = "numeric"  # the kind of the column's data type
    kind: Kind = field(default="numeric", init=False)

    @property
    def total(self) -> int:
        return self.rows + self.missing + self.infinite

    @property
    def missing_share(self) -> float:
        return (self.missing + self.infinite) / self.total if self.total else 0.0

    def outer_means(self) -> tuple[float, float]:
        """Where the outer bins' mass sits: their values' mean (the grid's ends when empty)."""
        assert self.grid is not None
        under = self.under_mean if math.isfinite(self.under_mean) else self.grid.lo
        over = self.over_mean if math.isfinite(self.over_mean) else self.grid.hi
        return float(under), float(over)

    def quantised(self, total: int = QUANTUM) -> NumericSummary:
        """The counts rounded so that they sum to ``total`` (unchanged if they sum to less):
        the cumulative counts are scaled and rounded, so the CDF at every bin edge stays within
        ``0.5 / total`` of the exact one, and a stored profile stops growing with its reference
        (the exact number of values stays in ``rows``)."""
        n = int(self.counts.sum())
        if n <= total:
            return self
        cumulative = np.cumsum(self.counts, dtype=np.int64)
        scaled = (cumulative * (2 * total) + n) // (2 * n)  # round half up, in integers
        return replace(self, counts=np.diff(scaled, prepend=0))

    def merge(self, other: NumericSummary) -> NumericSummary:
        """Both summaries' values together (same grid, exact counts); moments by Chan's
        parallel formula."""
        if other.rows == 0 or self.rows == 0:
            base, extra = (self, other) if self.rows else (other, self)
            return replace(
                base,
                counts=base.counts + extra.counts,
                missing=base.missing + extra.missing,
                infinite=base.infinite + extra.infinite,
            )
        n = self.rows + other.rows
        delta = other.mean - self.mean
        spread = self.std**2 * self.rows + other.std**2 * other.rows
        m2 = spread + delta**2 * self.rows * other.rows / n
        return NumericSummary(
            grid=self.grid,
            counts=self.counts + other.counts,
            rows=n,
            missing=self.missing + other.missing,
            infinite=self.infinite + other.infinite,
            mean=self.mean + delta * other.rows / n,
            std=math.sqrt(max(m2 / n, 0.0)),
            minimum=min(self.minimum, other.minimum),
            maximum=max(self.maximum, other.maximum),
            under_mean=_pooled(self.under_mean, self.counts[0], other.under_mean, other.counts[0]),
            over_mean=_pooled(self.over_mean, self.counts[-1], other.over_mean, other.counts[-1]),
            source=self.source,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "numeric",
            "source": self.source,
            "grid": None if self.grid is None else self.grid.to_dict(),
            "counts": pack(self.counts, delta=True),
            "rows": self.rows,
            "missing": self.missing,
            "infinite": self.infinite,
            "mean": finite(self.mean),
            "std": finite(self.std),
            "min": finite(self.minimum),
            "max": finite(self.maximum),
            "under_mean": finite(self.under_mean),
            "over_mean": finite(self.over_mean),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NumericSummary:
        grid = data["grid"]

        def number(key: str) -> float:
            value = data.get(key)
            return math.nan if value is None else float(value)

        return cls(
            grid=None
            if grid is None
            else Grid(float(grid["lo"]), float(grid["hi"]), int(grid["bins"])),
            counts=unpack(data["counts"]).astype(np.int64),
            rows=int(data["rows"]),
            missing=int(data["missing"]),
            infinite=int(data["infinite"]),
            mean=number("mean"),
            std=number("std"),
            minimum=number("min"),
            maximum=number("max"),
            under_mean=number("under_mean"),
            over_mean=number("over_mean"),
            source=data.get("source", "numeric"),
        )


def _pooled(mean_a: float, count_a: int, mean_b: float, count_b: int) -> float:
    if not count_b:
        return mean_a
    if not count_a:
        return mean_b
    return float((mean_a * count_a + mean_b * count_b) / (count_a + count_b))


def summarise_numeric(values: np.ndarray, grid: Grid, source: Kind = "numeric") -> NumericSummary:
    """The summary of float64 ``values`` on ``grid`` (exact counts)."""
    x = values
    missing = infinite = 0
    is_finite = np.isfinite(x)
    if not is_finite.all():
        bad = x.size - int(np.count_nonzero(is_finite))
        missing = int(np.count_nonzero(np.isnan(x)))
        infinite = bad - missing
        x = x[is_finite]
    if x.size == 0:
        empty = np.zeros(grid.bins + 2, dtype=np.int64)
        return NumericSummary(grid, empty, 0, missing, infinite, source=source)
    codes = grid.codes(x)
    counts = np.bincount(codes, minlength=grid.bins + 2).astype(np.int64, copy=False)
    under = float(x[codes == 0].mean()) if counts[0] else math.nan
    over = float(x[codes == grid.bins + 1].mean()) if counts[-1] else math.nan
    mean = float(x.mean())
    return NumericSummary(
        grid=grid,
        counts=counts,
        rows=int(x.size),
        missing=missing,
        infinite=infinite,
        mean=mean,
        std=_std(x, mean),
        minimum=float(x.min()),
        maximum=float(x.max()),
        under_mean=under,
        over_mean=over,
        source=source,
    )


def _std(x: np.ndarray, mean: float) -> float:
    """The population standard deviation: from one sum of squares (``einsum``: no temporary
    array, and no BLAS threads to fight the column threads) when the mean is small enough next
    to the spread for ``E[x^2] - mean^2`` to keep six digits, by the two-pass formula otherwise."""
    variance = float(np.einsum("i,i->", x, x)) / x.size - mean * mean
    if variance > 0 and mean * mean < 1e6 * variance:
        return math.sqrt(variance)
    deviations = x - mean
    return math.sqrt(float(np.einsum("i,i->", deviations, deviations)) / x.size)


@dataclass(frozen=True, eq=False)  # arrays: compare to_dict() instead
class CategoricalSummary:
    categories: tuple[str, ...]  # most frequent first
    counts: np.ndarray  # int64, one per category
    other: int  # values of the categories not kept
    missing: int
    source: Kind = "categorical"
    kind: Kind = field(default="categorical", init=False)

    @property
    def rows(self) -> int:
        return int(self.counts.sum()) + self.other

    @property
    def total(self) -> int:
        return self.rows + self.missing

    @property
    def missing_share(self) -> float:
        return self.missing / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "categorical",
            "source": self.source,
            "categories": list(self.categories),
            "counts": pack(self.counts),
            "other": self.other,
            "missing": self.missing,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CategoricalSummary:
        return cls(
            categories=tuple(str(c) for c in data["categories"]),
            counts=unpack(data["counts"]).astype(np.int64),
            other=int(data["other"]),
            missing=int(data["missing"]),
            source=data.get("source", "categorical"),
        )


ColumnSummary = NumericSummary | CategoricalSummary
