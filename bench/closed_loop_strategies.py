"""The strategies ``bench/closed_loop.py`` replays besides Keel's autopilot: rules that decide
from the windows seen so far, calendar schedules with the autopilot's setup selection, and the
best schedule in hindsight.

Rules (``Policy``: True retrains after the window):
- ``never``: the initial model serves throughout;
- ``every``: retrain after every window; ``every_kth(k)``: after windows k, 2k, ... (counted
  from 1), named ``every_k``;
- ``accuracy_drop``: a window at least 0.02 below the serving model's first window (the issue's
  2-point rule, ``drop_2pt``); ``accuracy_drop_fixed``: the same against the initial model's
  first window, never reset (``drop_2pt_fixed``, the reading under which the issue's reference
  figures for that rule reproduce). Neither is in the default run.

Calendar schedules with the autopilot's setup selection (``SelectingReplay``, named
``every_selected``, ``every_k_selected``): the same retrain points as ``every_k``, but each retrain
trains the way Keel's default retraining does, so the gain from choosing *when* (the autopilot
against ``every_k``) shows apart from the gain from choosing *on what* (``every_k_selected``
against ``every_k``). Each retrain after window ``w`` takes the newest ``recent_rows`` labelled
rows ending with window ``w`` (Keel's default ``training.recent_rows``; the stream is contiguous,
so "the newest production rows topped up from the initial training rows" is exactly these rows);
the newest ``holdout`` share of the production rows among them is what the autopilot's retrain
holds back for its gates, so it is held back here too. ``keel.controller.setup_selection``'s
``select_setup`` chooses a setup on the rest (each of Keel's default setups fitted on all but
their newest ``validation`` share and scored on it, within the default budget) and ``fit_setup``
fits the chosen one on the rest again, or, when the default policy's ``training.refit`` is on
(the low risk profile turns it on), on all the rows, holdout included, as the retrain ships
it. The learner is the plain setup's. Every default (setups, validation, budget, rows, holdout,
refit) is read from Keel's default policy, none is the bench's. The initial model is the plain
one, as the autopilot's is.

The best schedule in hindsight (``hindsight``): with at most a given number of retrains, the
windows to retrain after that maximise the mean accuracy of the plain setup, by dynamic
programming over every model's accuracy on every later window (``closed_loop_oracle``). Nobody
can run it (it knows the future); it is the ceiling at that retrain count.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from closed_loop_data import Dataset
from closed_loop_oracle import hindsight_schedule
from closed_loop_results import Policy, Replay, StrategyResult, WindowOutcome

DROP_POINTS = 0.02
CALENDAR_K = (1, 2, 3, 4, 5)  # every_k for these k; 1 is "every"


def never(outcome: WindowOutcome) -> bool:
    return False


def every(outcome: WindowOutcome) -> bool:
    return True


def every_kth(k: int) -> Policy:
    """Retrain after windows k, 2k, ... (counted from 1)."""
    return lambda outcome: (outcome.window + 1) % k == 0


def calendar_name(k: int, selected: bool = False) -> str:
    name = "every" if k == 1 else f"every_{k}"
    return f"{name}_selected" if selected else name


def accuracy_drop(points: float = DROP_POINTS) -> Policy:
    """Retrain when a window is ``points`` or more below the serving model's first window."""
    return lambda outcome: outcome.accuracy <= outcome.model_first_accuracy - points + 1e-9


def accuracy_drop_fixed(points: float = DROP_POINTS) -> Policy:
    """Retrain when a window is ``points`` or more below the initial model's first window."""
    reference: list[float] = []

    def policy(outcome: WindowOutcome) -> bool:
        if not reference:
            reference.append(outcome.accuracy)
        return outcome.accuracy <= reference[0] - points + 1e-9

    return policy


def calendar(replay: Replay, selected: bool = False) -> list[StrategyResult]:
    """``every_k`` for k in ``CALENDAR_K`` on ``replay`` (named ``..._selected`` when the replay
    trains with setup selection)."""
    return [
        replay.run(calendar_name(k, selected), every if k == 1 else every_kth(k))
        for k in CALENDAR_K
    ]


# -- the best schedule in hindsight ---------------------------------------------------------------
def hindsight(replay: Replay, budget: int, name: str = "hindsight") -> StrategyResult:
    """The best schedule in hindsight with at most ``budget`` retrains (plain setup)."""
    windows = len(replay.dataset.windows)
    _, schedule = hindsight_schedule(replay.accuracy, windows, budget)
    model, accuracies = -1, []
    for window in range(windows):
        accuracies.append(replay.accuracy(model, window))
        if window in schedule:
            model = window
    return StrategyResult(
        name, accuracies, len(schedule), list(schedule), details={"budget": budget}
    )


def hindsight_half(replay: Replay) -> StrategyResult:
    """The ceiling of target (a): the best schedule in hindsight with at most half of
    ``every``'s retrains."""
    return hindsight(replay, (len(replay.dataset.windows) - 1) // 2, "hindsight_half")


# -- calendar schedules with the autopilot's setup selection ---------------------------------------
class SelectingReplay(Replay):
    """A replay whose retrains train as Keel's default retraining does: its rows, its holdout,
    its setup selection (see the module's docstring). ``chosen[after_window]`` names the setup
    each retrain chose."""

    def __init__(self, dataset: Dataset) -> None:
        from keel.controller import setup_selection  # noqa: F401  (fails early if absent)
        from keel.domain.policy import Policy

        super().__init__(dataset)
        # the default policy's training section (the low profile's, as a policy set with no
        # retraining section of its own gets it), not the bare model's defaults
        self.training = Policy.parse({}).retraining.training
        self.chosen: dict[tuple[int, int], str] = {}

    def training_rows(self, after_window: int) -> tuple[int, int]:
        end = self.dataset.windows[after_window][1]
        return (max(0, end - self.training.recent_rows), end)

    def fit(self, rows: tuple[int, int]) -> Any:
        if rows == self.initial_rows:
            return super().fit(rows)
        from keel.controller.setup_selection import fit_setup, select_setup

        start, end = rows
        held = self.held_back(rows)
        train = self._frame(start, end - held)
        choice = self.training.choice
        if not self.training.selecting:
            self.chosen[rows] = "(no selection)"
            return self._fit(self._frame(start, end) if self.training.refit else train, None)
        selection = select_setup(
            train,
            self._fit,
            self._score,
            choice.setups,
            validation=choice.validation,
            budget=choice.budget,
        )
        self.chosen[rows] = selection.chosen.name
        shipped = self._frame(start, end) if self.training.refit else train
        return fit_setup(shipped, self._fit, selection.chosen)

    def held_back(self, rows: tuple[int, int]) -> int:
        """The newest rows the autopilot's retrain keeps back for its gates: the ``holdout``
        share of the production rows (those after the initial training rows), none when that
        is under 50 rows (the retrain then holds back part of the initial rows instead, which
        this mirror does not: it trains on them all)."""
        start, end = rows
        production = end - max(start, self.dataset.initial_rows)
        held = round(production * self.training.holdout)
        return held if held >= 50 else 0

    def _frame(self, start: int, end: int) -> Any:
        name = self.dataset.target_name
        return self.dataset.features.iloc[start:end].assign(
            **{name: self.dataset.target[start:end]}
        )

    def _fit(self, frame: Any, weights: Any) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier

        model = HistGradientBoostingClassifier(random_state=0)
        name = self.dataset.target_name
        return model.fit(frame.drop(columns=[name]), frame[name], sample_weight=weights)

    def _score(self, model: Any, frame: Any) -> float:
        name = self.dataset.target_name
        return float(model.score(frame.drop(columns=[name]), frame[name]))

    def chosen_counts(self, result: StrategyResult) -> dict[str, int]:
        """How often each setup was chosen by ``result``'s retrains."""
        counts: dict[str, int] = {}
        for window in result.retrained_after:
            name = self.chosen.get(self.training_rows(window), "?")
            counts[name] = counts.get(name, 0) + 1
        return counts


def selected_calendar(dataset: Dataset, threads: int = 1) -> tuple[list[StrategyResult], float]:
    """``every_k_selected`` for k in ``CALENDAR_K``, each with the setups its retrains chose,
    and the seconds it took (with ``threads`` OpenMP threads: it may run in a process of its
    own, beside the autopilot's replay)."""
    import time

    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime, so the limit reaches it)
    from threadpoolctl import threadpool_limits

    began = time.perf_counter()
    with threadpool_limits(threads):
        replay = SelectingReplay(dataset)
        results = calendar(replay, selected=True)
    counted = [replace(r, details={"setups": replay.chosen_counts(r)}) for r in results]
    return counted, time.perf_counter() - began
