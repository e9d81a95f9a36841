"""Choosing a retrain's training setup by validation: no stream-specific tuning, the data says.

A stream that keeps changing is learnt best from its recent past, a stable one from all of it,
and nobody knows in advance which one a model lives on. So a retrain fits each candidate setup
(``keel.domain.retraining.TrainingSetup``: the newest share of the rows, optionally weighted by
age) on its training rows less their newest ``validation`` share, scores each on that share,
which none of them trained on, and keeps the best (the earliest listed on a tie, so the plain
setup wins when weighting buys nothing). The winner's model, fit without the validation rows,
comes along, so a caller that refits on everything anyway needs no further fit.

The logic takes a ``fit`` and a ``score`` function and a frame, so the retraining pipeline and
the closed-loop benchmark's calendar schedules choose the same way.

>>> import pandas as pd
>>> from keel.domain.retraining import TrainingSetup
>>> frame = pd.DataFrame({"x": range(1000)})
>>> setups = [TrainingSetup(name="all"), TrainingSetup(name="newest", rows=0.2)]
>>> fit = lambda rows, weights: len(rows)
>>> score = lambda model, rows: -abs(model - 180)  # a "model" that prefers 180 rows
>>> chosen = select_setup(frame, fit, score, setups, validation=0.1, budget=3)
>>> chosen.chosen.name, [c.rows for c in chosen.candidates], chosen.validation_rows
('newest', [900, 180], 100)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from keel.domain.retraining import TrainingSetup
from keel.errors import InvalidInput

__all__ = ["CandidateScore", "Selection", "fit_setup", "select_setup", "setup_weights"]

#: below this many validation rows a score says too little to choose by: the first setup is kept
MIN_VALIDATION_ROWS = 30
#: a setup with fewer training rows than this is not fit at all
MIN_SETUP_ROWS = 20

Fit = Callable[[pd.DataFrame, "np.ndarray | None"], Any]
Score = Callable[[Any, pd.DataFrame], float]


@dataclass(frozen=True)
class CandidateScore:
    """One setup as the choice saw it: the rows it trained on, its weighting in rows, its score
    on the validation rows (None when it was skipped, and ``skipped`` says why)."""

    name: str
    rows: int
    half_life: int | None
    score: float | None
    fit_s: float
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rows": self.rows,
            "half_life": self.half_life,
            "score": self.score,
            "fit_s": round(self.fit_s, 4),
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class Selection:
    """The choice: the setup kept, every candidate's score, and what the choice cost in fits on
    the whole window (the final fit included). ``model`` is the winner fit on the rows before
    the validation share (None when no candidate was fit)."""

    chosen: TrainingSetup
    metric: str
    validation_rows: int
    candidates: tuple[CandidateScore, ...]
    budget: float
    cost: float
    reason: str
    model: Any = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, as the retrain's record keeps it (the model left out)."""
        return {
            "chosen": self.chosen.name,
            "setup": self.chosen.model_dump(exclude_none=True),
            "metric": self.metric,
            "validation_rows": self.validation_rows,
            "candidates": [c.to_dict() for c in self.candidates],
            "budget": self.budget,
            "cost": round(self.cost, 4),
            "reason": self.reason,
        }


def setup_weights(rows: int, setup: TrainingSetup) -> np.ndarray | None:
    """Age weights for ``rows`` rows ordered oldest to newest: 1 for the newest, halving every
    ``half_life`` share of the rows back (None: unweighted).

    >>> setup_weights(5, TrainingSetup(name="w", half_life=0.4)).round(3).tolist()
    [0.25, 0.354, 0.5, 0.707, 1.0]
    """
    if setup.half_life is None or rows == 0:
        return None
    age = np.arange(rows - 1, -1, -1, dtype=float)
    return np.power(0.5, age / _half_life_rows(rows, setup))


def _half_life_rows(rows: int, setup: TrainingSetup) -> int:
    return max(1, round(rows * (setup.half_life or 0)))


def _setup_rows(rows: int, setup: TrainingSetup) -> int:
    return rows if setup.rows >= 1 else max(1, math.floor(rows * setup.rows))


def fit_setup(train: pd.DataFrame, fit: Fit, setup: TrainingSetup) -> Any:
    """``setup`` applied to ``train`` (ordered oldest to newest): its newest rows, its weights."""
    rows = train.tail(_setup_rows(len(train), setup))
    return fit(rows, setup_weights(len(rows), setup))


def select_setup(
    train: pd.DataFrame,
    fit: Fit,
    score: Score,
    setups: Sequence[TrainingSetup],
    *,
    validation: float,
    budget: float,
    metric: str = "score",
) -> Selection:
    """Fit each of ``setups`` (within ``budget`` fits, the final one counted) on ``train`` less
    its newest ``validation`` share and keep the best scored on that share (higher is better).

    A setup the learner cannot weight (``fit`` raising InvalidInput) or too small to fit is
    skipped and recorded as such; with fewer than ``MIN_VALIDATION_ROWS`` validation rows the
    first setup is kept unscored."""
    if not setups:
        raise InvalidInput("retraining.training.selection.setups", "name at least one setup")
    held = round(len(train) * validation)
    first = setups[0]
    if held < MIN_VALIDATION_ROWS:
        return Selection(
            first,
            metric,
            held,
            (),
            budget,
            1.0,
            f"{held} validation rows, fewer than {MIN_VALIDATION_ROWS}: kept {first.name!r}",
        )
    fitting, checking = train.iloc[: len(train) - held], train.iloc[len(train) - held :]
    spent = 1.0  # the final fit is spent whatever the choice
    scored: list[CandidateScore] = []
    models: dict[str, Any] = {}
    for setup in setups:
        rows = _setup_rows(len(fitting), setup)
        half = _half_life_rows(rows, setup) if setup.half_life is not None else None
        cost = setup.cost(validation)
        skipped = None
        if spent + cost > budget + 1e-9 and scored:
            skipped = f"over the budget of {budget:g} fits ({spent:.2f} spent)"
        elif rows < MIN_SETUP_ROWS:
            skipped = f"{rows} rows, fewer than {MIN_SETUP_ROWS}"
        if skipped is not None:
            scored.append(CandidateScore(setup.name, rows, half, None, 0.0, skipped))
            continue
        started = time.perf_counter()
        try:
            model = fit_setup(fitting, fit, setup)
        except InvalidInput as exc:  # e.g. a learner that takes no sample_weight
            scored.append(CandidateScore(setup.name, rows, half, None, 0.0, exc.problem))
            continue
        took = time.perf_counter() - started
        spent += cost
        value = float(score(model, checking))
        models[setup.name] = model
        scored.append(CandidateScore(setup.name, rows, half, value, took))
    fitted = [c for c in scored if c.score is not None and math.isfinite(c.score)]
    if not fitted:
        return Selection(
            first, metric, held, tuple(scored), budget, spent, "no setup could be scored"
        )
    best = max(fitted, key=lambda c: c.score or 0.0)  # max keeps the earliest of equals
    chosen = next(s for s in setups if s.name == best.name)
    return Selection(
        chosen,
        metric,
        held,
        tuple(scored),
        budget,
        spent,
        f"{best.name!r} scored {metric} {best.score:.4f} on the newest {held} training rows",
        models[best.name],
    )
