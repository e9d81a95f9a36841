"""A streaming accuracy-drop detector: a bank of Bernoulli CUSUM charts on the error rate.

Each prediction outcome is a Bernoulli trial: an error with probability ``p0`` while the model is
as good as its baseline, and with some higher probability once it has degraded. A CUSUM chart for
the rise from ``p0`` to ``p1`` adds, row by row, the log-likelihood ratio of the row under ``p1``
against ``p0`` (``log(p1/p0)`` for an error, ``log((1-p1)/(1-p0))`` for a correct prediction) and
floors the running sum at zero, so the sum measures the evidence since the most favourable change
point; it alarms when the sum reaches a threshold ``h``. For a known rise it is the fastest
detector for a given false-alarm rate (Lorden; Moustakides). The size of the rise is not known, so
the detector runs one chart for each rise ``min_shift * 2**j`` that keeps ``p1 < 1`` and alarms
when any of them does: a discretised generalised likelihood-ratio test over the size of the rise,
since a chart tuned to a small rise needs far more rows than a matching one to see a large rise.

Why not a hand-tuned constant: ``h`` is set so that the bank's in-control average run length
(rows between false alarms while the error rate stays at ``p0``) equals ``arl0``. Each chart's
run length is computed exactly on a lattice (a Markov chain, Brook & Evans 1972, whose steps are
the chart's two log-likelihood-ratio increments) and the bank's as ``1 / sum(1 / ARL_k)``, which
is conservative because the charts move together.

The baseline ``p0`` is ``1 - reference_accuracy`` when the caller knows it (from the evaluation of
the model on held-out data). Otherwise the first ``warmup`` rows only estimate it, and afterwards
every row seen refines it; the charts use the upper end of a Wilson interval on that estimate
(``baseline_z``), so a baseline estimated a little too low does not turn noise into alarms. After
an alarm the charts restart from zero; an estimated baseline is estimated anew from the rows that
follow (the new regime), a given one is kept (the detector alarms again while the model stays
worse than its reference).

The statistics are kept as integers in units of ``2**-20`` nats, so a chunk gives the same
alarms and the same state as its rows given one by one, and the state (a few numbers) survives a
JSON round trip exactly; the monitor stores it and resumes on the next run.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> errors = np.concatenate([rng.random(20_000) < 0.10, rng.random(5_000) < 0.20])
>>> detector = AccuracyDropDetector(min_shift=0.05, arl0=10_000_000)
>>> alarms = detector.update_many(errors.astype(int))
>>> 20_000 < alarms[0] < 21_000   # no alarm before the rise, one soon after it
True
>>> resumed = AccuracyDropDetector.from_dict(detector.to_dict())
>>> resumed.to_dict() == detector.to_dict()
True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from keel.errors import InvalidInput

__all__ = ["AccuracyDropDetector"]

Outcome = Literal["error", "correct"]

#: statistics are integers in units of 1/SCALE nats (exact sums, exact resumption)
SCALE = float(2**20)
#: rows processed per vectorised block (bounds memory: a few arrays of charts x BLOCK)
BLOCK = 65_536
#: the largest Markov chain used to compute a chart's run length
MAX_STATES = 1_000
STATE_VERSION = 1


class AccuracyDropDetector:
    """Alarms soon after the error rate rises by ``min_shift`` or more, and about once per
    ``arl0`` rows while it does not.

    The default ``arl0`` of ten million rows keeps a false alarm (and the retraining it may
    trigger) a rare event even on busy streams; each tenfold increase costs about
    ``ln(10) / KL`` rows of delay (about 50 rows for a rise from 10 % to 20 % errors).

    ``outcome`` says what a 1 means in the input: ``"error"`` (the default: 1 = wrong
    prediction) or ``"correct"`` (1 = right prediction).
    """

    def __init__(
        self,
        *,
        min_shift: float = 0.05,
        arl0: float = 10_000_000,
        reference_accuracy: float | None = None,
        warmup: int = 1_000,
        baseline_z: float = 2.0,
        outcome: Outcome = "error",
    ) -> None:
        if not 0.0 < min_shift < 1.0:
            raise InvalidInput("min_shift", f"must lie in (0, 1), got {min_shift!r}")
        if not (math.isfinite(arl0) and arl0 >= 10):
            raise InvalidInput("arl0", f"must be a finite number of rows >= 10, got {arl0!r}")
        if reference_accuracy is not None and not min_shift < reference_accuracy < 1.0:
            raise InvalidInput(
                "reference_accuracy",
                f"must lie in ({min_shift}, 1) so that a rise of min_shift in the error rate is "
                f"possible and the baseline error rate is not zero; got {reference_accuracy!r}",
            )
        if warmup < 1:
            raise InvalidInput("warmup", f"must be at least one row, got {warmup!r}")
        if not (math.isfinite(baseline_z) and baseline_z >= 0):
            raise InvalidInput("baseline_z", f"must be a finite number >= 0, got {baseline_z!r}")
        if outcome not in ("error", "correct"):
            raise InvalidInput("outcome", f"must be 'error' or 'correct', got {outcome!r}")
        self.min_shift = float(min_shift)
        self.arl0 = float(arl0)
        self.reference_accuracy = None if reference_accuracy is None else float(reference_accuracy)
        self.warmup = int(warmup)
        self.baseline_z = float(baseline_z)
        self.outcome: Outcome = outcome
        self.rows = 0  # every row given since construction or reset()
        self.alarms = 0
        self._reset_charts()

    # -- public --------------------------------------------------------------------------------
    def update(self, value: float | int | bool) -> bool:
        """Add one outcome; whether the detector alarms on it."""
        return bool(self.update_many(np.asarray([value])))

    def update_many(self, values: Sequence[float] | np.ndarray) -> list[int]:
        """Add a chunk of outcomes in order; the positions in the chunk where it alarmed."""
        errors = self._errors_of(values)
        alarms: list[int] = []
        position = 0
        size = BLOCK
        while position < len(errors):
            if self._shifts is None:
                position += self._warm(errors[position : position + BLOCK])
                continue
            block = errors[position : position + size]
            hit = self._advance(block)
            if hit is None:
                position += len(block)
                size = min(2 * size, BLOCK)
            else:
                alarms.append(position + hit)
                position += hit + 1
                self.alarms += 1
                self._after_alarm()
                # alarms may follow each other closely (a given baseline that the model no
                # longer reaches): small blocks first, so each costs about the rows it spans
                size = 1_024
        self.rows += len(errors)
        return alarms

    def reset(self) -> None:
        """Forget everything seen: a fresh warm-up (or the given baseline) and no alarms."""
        self.rows = 0
        self.alarms = 0
        self._reset_charts()

    @property
    def baseline(self) -> float | None:
        """The baseline error rate the charts compare against now (None while warming up)."""
        if self._shifts is None:
            return None
        return float(self._baseline(np.asarray([self._errors]), np.asarray([self._seen]))[0])

    @property
    def charts(self) -> list[dict[str, float]]:
        """Each chart's rise, alarm threshold and current statistic, in nats (none while
        warming up): ``statistic / threshold`` says how close the chart is to an alarm."""
        return [
            {"shift": shift, "threshold": threshold / SCALE, "statistic": statistic / SCALE}
            for shift, threshold, statistic in zip(
                self._shifts or [], self._thresholds or [], self._statistics, strict=True
            )
        ]

    def to_dict(self) -> dict[str, Any]:
        """The whole state as JSON-safe plain values (resume with ``from_dict``)."""
        return {
            "version": STATE_VERSION,
            "min_shift": self.min_shift,
            "arl0": self.arl0,
            "reference_accuracy": self.reference_accuracy,
            "warmup": self.warmup,
            "baseline_z": self.baseline_z,
            "outcome": self.outcome,
            "rows": self.rows,
            "alarms": self.alarms,
            "seen": self._seen,
            "errors": self._errors,
            "shifts": self._shifts,
            "thresholds": self._thresholds,
            "statistics": list(self._statistics),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> AccuracyDropDetector:
        """The detector ``to_dict`` described, ready to go on where it stopped."""
        if state.get("version") != STATE_VERSION:
            raise InvalidInput("state", f"unknown detector state version {state.get('version')!r}")
        try:
            detector = cls(
                min_shift=state["min_shift"],
                arl0=state["arl0"],
                reference_accuracy=state["reference_accuracy"],
                warmup=state["warmup"],
                baseline_z=state["baseline_z"],
                outcome=state["outcome"],
            )
            detector.rows, detector.alarms = int(state["rows"]), int(state["alarms"])
            detector._seen, detector._errors = int(state["seen"]), int(state["errors"])
            shifts, thresholds = state["shifts"], state["thresholds"]
            detector._shifts = None if shifts is None else [float(s) for s in shifts]
            detector._thresholds = None if thresholds is None else [int(t) for t in thresholds]
            detector._statistics = [int(s) for s in state["statistics"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput("state", f"not a detector state: {exc!r}") from exc
        sizes = {len(x) for x in (detector._shifts, detector._thresholds) if x is not None}
        if (detector._shifts is None) != (detector._thresholds is None) or sizes - {
            len(detector._statistics)
        }:
            raise InvalidInput("state", "charts, thresholds and statistics do not match")
        return detector

    def __repr__(self) -> str:
        return (
            f"AccuracyDropDetector(min_shift={self.min_shift}, arl0={self.arl0:g}, "
            f"baseline={self.baseline}, rows={self.rows}, alarms={self.alarms})"
        )

    # -- inside --------------------------------------------------------------------------------
    def _reset_charts(self) -> None:
        self._seen = 0  # rows behind the baseline estimate
        self._errors = 0  # errors among them
        self._shifts: list[float] | None = None  # one chart per rise; None while warming up
        self._thresholds: list[int] | None = None  # each chart's h in units of 1/SCALE nats
        self._statistics: list[int] = []
        if self.reference_accuracy is not None:
            self._start_charts()

    def _after_alarm(self) -> None:
        if self.reference_accuracy is None:
            self._reset_charts()  # the new regime is the new baseline
        else:
            self._statistics = [0] * len(self._statistics)

    def _errors_of(self, values: Sequence[float] | np.ndarray) -> np.ndarray:
        """The chunk as 0/1 error indicators; anything but 0 and 1 (NaN included) is refused."""
        try:
            array = np.asarray(values, dtype=float)
        except (TypeError, ValueError) as exc:
            raise InvalidInput("outcomes", f"must be numbers 0 or 1: {exc}") from exc
        if array.ndim != 1:
            raise InvalidInput("outcomes", f"must be one-dimensional, got shape {array.shape}")
        bad = ~((array == 0) | (array == 1))
        if bad.any():
            first = int(np.argmax(bad))
            raise InvalidInput(
                "outcomes",
                f"must be 0 or 1; {int(bad.sum())} value(s) are not, the first at position "
                f"{first}: {array[first]!r}",
            )
        ones = array.astype(np.int8)
        return ones if self.outcome == "error" else 1 - ones

    def _baseline(self, errors: np.ndarray, seen: np.ndarray) -> np.ndarray:
        """The error rate the charts compare against after ``errors`` errors in ``seen`` rows:
        the reference, or the upper end of the Wilson interval on the estimate."""
        if self.reference_accuracy is not None:
            return np.full(len(seen), 1.0 - self.reference_accuracy)
        n = seen.astype(float)
        p = errors / n
        z2 = self.baseline_z**2
        centre = p + z2 / (2 * n)
        spread = self.baseline_z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
        return np.asarray((centre + spread) / (1 + z2 / n))

    def _warm(self, block: np.ndarray) -> int:
        """Count rows towards the baseline until the warm-up is over; the rows used."""
        used = block[: self.warmup - self._seen]
        self._seen += len(used)
        self._errors += int(used.sum())
        if self._seen >= self.warmup:
            self._start_charts()
        return len(used)

    def _start_charts(self) -> None:
        """One chart per rise that keeps the error rate below 1, each with its threshold."""
        seen = max(self._seen, 1)
        p0 = float(self._baseline(np.asarray([self._errors]), np.asarray([seen]))[0])
        shifts = []
        shift = self.min_shift
        while p0 + shift < 1.0:
            shifts.append(shift)
            shift *= 2
        self._shifts = shifts
        self._statistics = [0] * len(shifts)
        # the baseline is rounded so that nearby estimates share a cached calibration
        thresholds = calibrated_thresholds(round(p0, 4), tuple(shifts), self.arl0)
        self._thresholds = [math.ceil(h * SCALE) for h in thresholds]

    def _advance(self, block: np.ndarray) -> int | None:
        """Run the charts over ``block``; the position of the first alarm, if any (the state is
        then left at that row)."""
        assert self._shifts is not None and self._thresholds is not None
        if not self._shifts:  # the error rate cannot rise by min_shift: never an alarm
            self._seen += len(block)
            self._errors += int(block.sum())
            return None
        before = np.cumsum(block) - block  # errors before each row within the block
        p0 = self._baseline(
            self._errors + before, self._seen + np.arange(len(block), dtype=np.int64)
        )
        p1 = np.minimum(p0[None, :] + np.asarray(self._shifts)[:, None], 1.0 - 1e-9)
        up = np.log(p1 / p0)
        down = np.log1p(-p1) - np.log1p(-p0)
        steps = np.rint(np.where(block.astype(bool), up, down) * SCALE).astype(np.int64)
        running = np.cumsum(steps, axis=1) + np.asarray(self._statistics, dtype=np.int64)[:, None]
        floor = np.minimum(np.minimum.accumulate(running, axis=1), 0)
        statistics = running - floor
        limits = np.asarray(self._thresholds, dtype=np.int64)[:, None]
        crossed = (statistics >= limits).any(axis=0)
        end = int(np.argmax(crossed)) if crossed.any() else len(block) - 1
        self._statistics = [int(s) for s in statistics[:, end]]
        self._seen += end + 1
        self._errors += int(block[: end + 1].sum())
        return end if crossed.any() else None


# -- calibration ------------------------------------------------------------------------------
def chart_arl(p0: float, p1: float, h: float) -> float:
    """Average run length from zero of the Bernoulli CUSUM for ``p0`` -> ``p1`` with threshold
    ``h`` when the error rate is ``p0``.

    A Markov chain on a lattice whose spacing divides the decrement exactly; an increment that
    falls between two lattice points moves to one of them with the probabilities that keep its
    mean. The mean step (the drift, a small difference of two large terms when the rise is small)
    is then exact, which is what the run length hinges on; rounding the increment instead would
    shift the drift by as much as the drift itself.
    """
    from scipy.sparse import csc_matrix, identity
    from scipy.sparse.linalg import spsolve

    up = math.log(p1 / p0)
    down = math.log((1 - p0) / (1 - p1))
    q = max(1, min(64, math.floor(MAX_STATES * down / h)))  # lattice points per decrement
    spacing = down / q
    states = max(1, math.ceil(h / spacing - 1e-9))  # lattice points below the threshold
    m = math.floor(up / spacing)
    fraction = up / spacing - m
    index = np.arange(states)
    rows, cols, probs = [index], [np.maximum(index - q, 0)], [np.full(states, 1.0 - p0)]
    for target, prob in ((index + m, p0 * (1 - fraction)), (index + m + 1, p0 * fraction)):
        inside = target < states  # beyond it: the alarm, which ends the run
        if prob > 0 and inside.any():
            rows.append(index[inside])
            cols.append(target[inside])
            probs.append(np.full(int(inside.sum()), prob))
    transition = csc_matrix(
        (np.concatenate(probs), (np.concatenate(rows), np.concatenate(cols))),
        shape=(states, states),
    )
    lengths = spsolve((identity(states, format="csc") - transition).tocsc(), np.ones(states))
    return float(np.atleast_1d(lengths)[0])


@functools.lru_cache(maxsize=1024)
def chart_threshold(p0: float, shift: float, arl0: float) -> float:
    """The threshold ``h`` (nats) at which the chart for ``p0 -> p0 + shift`` has an in-control
    average run length of ``arl0`` rows."""
    p1 = min(p0 + shift, 1 - 1e-9)

    def gap(h: float) -> float:
        return math.log(chart_arl(p0, p1, h)) - math.log(arl0)

    if gap(1e-3) >= 0:  # even the smallest threshold alarms less often than asked
        return 1e-3
    # log ARL grows almost linearly in h (slope near 1), but in small steps (the statistic
    # takes discrete values): secant steps from Lorden's bound, keeping the lowest threshold
    # whose ARL is at least arl0, until it is within 2 % of it
    h, g = math.log(arl0), gap(math.log(arl0))
    safe = h if g >= 0 else math.inf
    slope = 1.0
    for _ in range(12):
        if 0 <= g < 0.02:
            break
        step = min(max(-g / slope, -3.0), 3.0)
        if g < 0:
            step = max(step, 1e-3)  # always move up from an unsafe point
        h_next = max(h + step, 1e-3)
        g_next = gap(h_next)
        if h_next != h and g_next != g:
            slope = min(max((g_next - g) / (h_next - h), 0.25), 4.0)
        h, g = h_next, g_next
        if g >= 0:
            safe = min(safe, h)
    while not math.isfinite(safe):  # not reached from below in the steps allowed: go up
        h += 1.0
        if gap(h) >= 0:
            safe = h
    return safe


def calibrated_thresholds(p0: float, shifts: tuple[float, ...], arl0: float) -> list[float]:
    """One threshold per chart, each giving its chart an equal share of the false alarms: chart
    ARLs of ``len(shifts) * arl0``, so the bank's is at least ``arl0`` (alarms of different charts
    come together rather than apart, which only lengthens the bank's run)."""
    return [chart_threshold(p0, shift, arl0 * len(shifts)) for shift in shifts]
