"""The unit an A/B test counts: an entity key, or a row.

A sticky deployment routes by a hash of the request's entity key, so a customer who sends
twenty requests lands on one variant twenty times: the split is decided once per key, not once
per row. Counting rows treats twenty copies of one coin toss as twenty tosses: a healthy 50/50
split of 400 keys with 20 requests each looks "mismatched" about half the time, and the
variance of an error rate or an accuracy is understated by the design effect (about
1 + (m - 1)·ICC for m rows per key whose outcomes correlate by ICC). So the A/B checks count
what was randomised:

- a sticky deployment's rows that carry a key: one unit per distinct key;
- rows without a key, or any row of a deployment that is not sticky: each row is its own unit
  (each was routed by a draw of its own).

The canary step analysis (``keel.rollout.analysis``) counts the same units: its minimum size
asks for keys as well as rows, and each proportion it tests (errors, right answers, slow
requests) is summed per unit (``by_unit``) so its variance can be widened by the units' design
effect (``UnitOutcomes.effect``, ``keel.rollout.sequential.design_effect``).

A key seen on both variants (sticky hashing keeps a key on one variant for the whole
deployment, so its routing changed: worth a look) counts for the sample-ratio check on the
variant of its first row (first exposure, by ``timestamp``, then log order); its outcomes stay
with the variant that served them, one unit on each side, and ``mixed_keys`` says how many
such keys there were.

>>> import pandas as pd
>>> stable = pd.DataFrame({"entity_key": ["a", "a", "b"], "timestamp": [1, 2, 3]})
>>> candidate = pd.DataFrame({"entity_key": ["c"] * 5, "timestamp": range(5)})
>>> counted = count_units(stable, candidate, sticky=True)
>>> counted.unit, counted.counts, counted.rows
('keys', {'stable': 2, 'candidate': 1}, {'stable': 3, 'candidate': 5})
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import ArrayLike

    from keel.monitoring.references import Reference

__all__ = [
    "UNANSWERED",
    "Unit",
    "UnitCounts",
    "UnitOutcomes",
    "accuracy_outcomes",
    "by_unit",
    "count_units",
    "error_outcomes",
    "unit_codes",
    "unit_count",
    "unit_of",
]

#: rows with no prediction: the model raised, or the input policy rejected the row
UNANSWERED = ("error", "rejected")

Unit = Literal["keys", "rows", "keys and rows"]
KEY = "entity_key"


@dataclass(frozen=True)
class UnitCounts:
    """What each variant received, counted in the unit its traffic was split by.

    ``counts`` are the units (distinct keys plus keyless rows): what the sample-ratio check
    tests; ``rows`` and ``keys`` are shown beside them."""

    unit: Unit
    counts: dict[str, int]
    rows: dict[str, int]
    keys: dict[str, int]
    mixed_keys: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class UnitOutcomes:
    """One arm's 0/1 outcomes summed per unit: successes and rows of each key (or row)."""

    successes: np.ndarray
    rows: np.ndarray

    @property
    def units(self) -> int:
        return len(self.rows)

    @property
    def effect(self) -> float:
        """How much counting in units widens the variance of the proportion (successes over
        rows): its design effect, at least 1 (``keel.rollout.sequential.design_effect``)."""
        from keel.rollout.sequential import design_effect

        return design_effect(self.successes, self.rows)


def unit_of(keyed_rows: int, keyless_rows: int) -> Unit:
    """The unit's name for rows of which ``keyed_rows`` are counted by key."""
    if keyed_rows == 0:
        return "rows"
    return "keys" if keyless_rows == 0 else "keys and rows"


def _keys(rows: pd.DataFrame, sticky: bool) -> pd.Series | None:
    if not sticky or KEY not in rows:
        return None
    return rows[KEY]


def unit_codes(rows: pd.DataFrame, *, sticky: bool) -> np.ndarray:
    """Per row, the integer id of its unit: rows of one key share one, a keyless row (or any
    row when the deployment is not sticky) has one of its own."""
    import pandas as pd

    keys = _keys(rows, sticky)
    if keys is None:
        return np.arange(len(rows), dtype="int64")
    codes, uniques = pd.factorize(keys, use_na_sentinel=True)
    codes = codes.astype("int64")
    missing = codes < 0
    codes[missing] = len(uniques) + np.arange(int(missing.sum()), dtype="int64")
    return codes


def unit_count(rows: pd.DataFrame, *, sticky: bool) -> tuple[Unit, int]:
    """The unit one variant's ``rows`` are counted in, and how many units they hold."""
    keys = _keys(rows, sticky)
    keyed = 0 if keys is None else int(keys.notna().sum())
    return unit_of(keyed, len(rows) - keyed), len(np.unique(unit_codes(rows, sticky=sticky)))


def by_unit(
    rows: pd.DataFrame, values: ArrayLike, *, sticky: bool, keep: ArrayLike | None = None
) -> UnitOutcomes:
    """Per-row ``values`` (0/1 outcomes, or each row's chance of one) summed per unit of
    ``rows``, over the rows ``keep`` marks (all of them when None)."""
    codes = unit_codes(rows, sticky=sticky)
    summed = np.asarray(values, dtype="float64")
    if keep is not None:
        mask = np.asarray(keep, dtype=bool)
        codes, summed = codes[mask], summed[mask]
    return _summed(summed, codes)


def count_units(stable: pd.DataFrame, candidate: pd.DataFrame, *, sticky: bool) -> UnitCounts:
    """Units per variant (``stable``, ``candidate``), a key seen on both counted where it was
    first seen."""
    import pandas as pd

    frames = {"stable": stable, "candidate": candidate}
    rows = {name: len(frame) for name, frame in frames.items()}
    keyed = []
    for name, frame in frames.items():
        keys = _keys(frame, sticky)
        if keys is None:
            continue
        when = frame["timestamp"] if "timestamp" in frame else pd.Series(pd.NaT, index=frame.index)
        seen = pd.DataFrame({"key": keys, "when": pd.to_datetime(when, utc=True), "variant": name})
        keyed.append(seen[seen["key"].notna()])
    keys_per = dict.fromkeys(frames, 0)
    mixed = 0
    if keyed:
        seen = pd.concat(keyed, ignore_index=True)
        first = seen.sort_values("when", kind="stable", na_position="last").drop_duplicates("key")
        keys_per.update({str(k): int(v) for k, v in first["variant"].value_counts().items()})
        mixed = int((seen.groupby("key")["variant"].nunique() > 1).sum())
        keyed_rows = {name: int((seen["variant"] == name).sum()) for name in frames}
    else:
        keyed_rows = dict.fromkeys(frames, 0)
    keyless = {name: rows[name] - keyed_rows[name] for name in frames}
    return UnitCounts(
        unit=unit_of(sum(keyed_rows.values()), sum(keyless.values())),
        counts={name: keys_per[name] + keyless[name] for name in frames},
        rows=rows,
        keys=keys_per,
        mixed_keys=mixed,
    )


def _summed(right: np.ndarray, codes: np.ndarray) -> UnitOutcomes:
    if len(codes) == 0:
        empty = np.array([], dtype="float64")
        return UnitOutcomes(empty, empty)
    _, inverse = np.unique(codes, return_inverse=True)
    successes = np.bincount(inverse, weights=right.astype("float64"))
    return UnitOutcomes(successes, np.bincount(inverse).astype("float64"))


def error_outcomes(rows: pd.DataFrame, *, sticky: bool) -> UnitOutcomes:
    """Errors per unit among the rows the model was asked about (rejected rows left out, as
    the error rate of ``keel.rollout.analysis`` does)."""
    if "status" not in rows:
        return by_unit(rows, np.zeros(len(rows)), sticky=sticky)
    errors, scored = (rows["status"] == "error"), (rows["status"] != "rejected")
    return by_unit(rows, errors.to_numpy(), sticky=sticky, keep=scored.to_numpy())


def accuracy_outcomes(
    rows: pd.DataFrame, labels: pd.DataFrame, reference: Reference, *, sticky: bool
) -> UnitOutcomes:
    """Right answers per unit among the answered rows with a label of one of the classes."""
    from keel.monitoring.performance import join_labels, outcomes

    if reference.task == "regression":  # no right or wrong to count
        return _summed(np.array([], dtype=bool), np.array([], dtype="int64"))
    framed = rows.assign(_unit=unit_codes(rows, sticky=sticky))
    if "status" in framed:
        framed = framed[~framed["status"].isin(UNANSWERED)]
    if framed.empty or labels.empty:
        return _summed(np.array([], dtype=bool), np.array([], dtype="int64"))
    joined = join_labels(framed[["request_id", "prediction", "_unit"]], labels)
    if joined.empty:
        return _summed(np.array([], dtype=bool), np.array([], dtype="int64"))
    right, known = outcomes(joined, reference)
    return _summed(right, joined["_unit"].to_numpy(dtype="int64")[known])
