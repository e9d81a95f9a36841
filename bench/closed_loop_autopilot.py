"""Keel's own autopilot deciding when to retrain, replayed on a stream for ``bench/closed_loop.py``.

Not a re-implementation: ``AutopilotReplay`` drives Keel's controller through the public client.
Per stream, a fresh embedded store (SQLite and an artifacts folder in a temporary folder under
``.bench/``, or ``--store-root``; removed afterwards). Launch: the harness's initial model is
registered (``format="cloudpickle"``) with its training rows as the snapshot, their newest 20% as
the holdout snapshot and the signature's categories left open, the policy is set and
``client.deploy(..., strategy="replace")`` makes it champion. Then, per window: the champion
(``client.load_model("models:/NAME@champion")``, called directly) predicts it and is scored, the
predictions are logged on a simulated clock (window ``w`` is day ``w``), the labels are logged as
arriving at the day's end, and one ``client.autopilot(models=[NAME], now=day_end)`` pass
monitors, fires whatever trigger the policy has, trains, gates and deploys. Each decision
``retrain`` counts as a retrain; ``promoted`` and ``rejected`` are reported apart. The next
window is predicted by whichever version is champion then. No pass runs after the last window (a
retrain then would serve nothing). After each pass the bench reads which alerts are open
(``client.list_alerts``); at the end, the setup each retrain chose (``client.retrains``:
``details["selection"]["chosen"]``).

The policy (``bench_policy``) says only what describes the data and the replay, never how to
retrain: risk profile low; a suite naming the label column and the launch holdout, marked
``time_ordered`` (the rows are in time order, which the persistence baseline needs); monitoring
of that label in windows of the replay's window rows; labels awaited ``100000d`` (the replay's
labels arrive a simulated day after the predictions, for decades of days). Everything under
``retraining:`` and ``gates:`` is Keel's default (``Policy()`` with risk profile low), whatever
it is when the bench runs: one policy for every stream. ``--policy-override FILE`` merges a
mapping over it, for experiments only.

History (what the bench's own policy was, and why it went). Until this version the bench wrote
its own retraining policy, tuned on the very figures it reported: trigger ``accuracy drops by
0.01 against the last 5 champions over the last WINDOW_ROWS labelled predictions``, training
``recent_rows`` 10 windows, ``holdout`` 0.1, ``refit`` on, ``min_new_labels`` one window, gate
``accuracy not worse than champion by more than 0.02 at 95% confidence``, chosen among these
full runs (mean accuracy, retrains and rejected candidates on Elec2 / weather / bank; ``every``
0.720 (40) / 0.800 (15) / 0.881 (18)):
``launch`` (accuracy below the launch accuracy minus 0.02), refit off: 0.664 (8) / 0.788 (1) /
0.871 (9); ``launch``, refit on: 0.671 (6) / 0.788 (1) / 0.881 (9); ``drop`` (the champion's
window 0.02 below its own first), refit off: 0.670 (14) / 0.791 (4) / 0.870 (3); ``drop``,
refit on: 0.696 (18) / 0.790 (5) / 0.873 (3); ``launch+drop``, refit on, 1-point gate: 0.696
(18, 7 rejected) / 0.790 (5, 2) / 0.881 (10, 0); the same with the 2-point gate: 0.696 (16, 2) /
0.790 (3, 0) / 0.881 (10, 0); ``champions``, 1-point gate: 0.684 (13, 3) / 0.790 (6, 3) / 0.881
(9, 0); ``launch+champions``, 2-point gate: 0.690 (15, 1) / 0.795 (4, 1) / 0.881 (11, 0);
``champions``, 2-point gate (the bench's default then): 0.685 (13, 1) / 0.795 (4, 1) / 0.881
(9, 0). Holdout 0.1 against 0.2: 0.664 / 0.650 on Elec2, 0.788 / 0.787 on weather, 0.871 / 0.870
on bank. With ``max_age`` 4 windows: ``drop`` 0.696 (16, 2) / 0.793 (4, 2) / 0.879 (5, 0),
``champions`` 0.700 (17, 1) / 0.795 (4, 1) / 0.881 (10, 0). Keel's streaming detector
(``accuracy_drop >= 1`` over 10 windows): 0.664 (8) / 0.788 (3) / 0.870 (4). The gate moved from
1 to 2 points because on a 1,000-row holdout the one-sided 95% bound of an accuracy difference
sits 1.5 to 3 points under the difference itself: "not worse by more than 0.01" rejected a
weather candidate 2 points *better* than the champion. The best of these met the old target
only on bank; ``bench/closed_loop_sweep.py`` showed that on Elec2 no online rule within half of
``every``'s retrains reaches ``every`` minus 0.5 points (a window of age costs 3.3 points there,
while a fresh model's accuracy varies by 6.9 points between windows). A policy tuned per
benchmark on the figures it reports measures the tuning, not Keel; the issue asks for Keel's
defaults on every stream, so the bench now sets none of it.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from closed_loop_data import Dataset
from closed_loop_results import Replay, StrategyResult, log
from closed_loop_targets import baseline_alert, window_beats_baseline

if TYPE_CHECKING:
    import pandas as pd

AUTOPILOT_EPOCH = datetime(2000, 1, 3, tzinfo=UTC)  # window w is day w of the simulated clock
LAUNCH_HOLDOUT = 0.2  # the newest share of the initial rows, the suite's holdout snapshot
LABELS_AWAITED = "100000d"
BENCH_DIR = Path(__file__).resolve().parent.parent / ".bench"


def bench_policy(dataset: Dataset, override: dict[str, Any] | None = None) -> dict[str, Any]:
    """What describes the stream and the replay; Keel's defaults for everything else."""
    from keel.domain.config_keys import merge

    target = dataset.target_name
    policy: dict[str, Any] = {
        "risk_profile": "low",
        "suites": {
            "release": {
                "snapshots": [f"{dataset.name}-holdout"],
                "target": target,
                "time_ordered": True,
            }
        },
        "monitoring": {
            "target": target,
            "window": {"rows": dataset.window_rows},
            "label_horizon": LABELS_AWAITED,
        },
    }
    return merge(policy, override) if override else policy


def baseline_rule_rows(policy: dict[str, Any]) -> int | None:
    """How many newest labelled predictions the majority-baseline alert reads (None: the
    policy has no such rule)."""
    from keel.domain.policy import Policy

    for rule in Policy.parse(policy).monitoring.alerts:
        if rule.metric == "accuracy" and rule.baseline == "majority":
            return rule.labelled_rows
    return None


@dataclass
class AutopilotTally:
    """What the controller decided over one replay, by the window after which it decided."""

    verbose: bool = False
    retrained_after: list[int] = field(default_factory=list)
    promoted_after: list[int] = field(default_factory=list)
    rejected_after: list[int] = field(default_factory=list)
    other: dict[str, int] = field(default_factory=dict)  # failed, error, retry, ... by action
    pass_seconds: dict[int, float] = field(default_factory=dict)
    alert_open: list[bool] = field(default_factory=list)  # the baseline alert, after each pass

    def count(self, window: int, decisions: list[Any], seconds: float) -> None:
        self.pass_seconds[window] = seconds
        for decision in decisions:
            if self.verbose and decision.action not in ("monitor", "idle"):
                log(f"  after window {window}: {decision.action}: {decision.reason}")
            if decision.action == "retrain":
                self.retrained_after.append(window)
            elif decision.action == "promoted":
                self.promoted_after.append(window)
            elif decision.action == "rejected":
                self.rejected_after.append(window)
            elif decision.action in ("failed", "error", "retry", "rolled_back", "waiting", "hold"):
                self.other[decision.action] = self.other.get(decision.action, 0) + 1

    def summary(self) -> dict[str, Any]:
        retraining = [self.pass_seconds[w] for w in self.retrained_after]
        idle = [s for w, s in self.pass_seconds.items() if w not in self.retrained_after]
        return {
            "promoted": len(self.promoted_after),
            "rejected": len(self.rejected_after),
            "retrained_after": self.retrained_after,
            "promoted_after": self.promoted_after,
            **({"other_decisions": self.other} if self.other else {}),
            "pass_seconds_idle": sum(idle) / len(idle) if idle else None,
            "pass_seconds_retrain": sum(retraining) / len(retraining) if retraining else None,
        }


class AutopilotReplay:
    """One stream through Keel's own loop, in a fresh embedded store: the champion predicts
    each window, its predictions and then the labels are logged on a simulated clock (window
    ``w`` is day ``w``; its labels arrive at the day's end), and one autopilot pass decides."""

    def __init__(
        self,
        client: Any,
        replay: Replay,
        override: dict[str, Any] | None = None,
        verbose: bool = False,
    ) -> None:
        self.client = client
        self.dataset = replay.dataset
        self.replay = replay
        self.verbose = verbose
        self.name = self.dataset.name
        self.target = self.dataset.target_name
        self.policy = bench_policy(self.dataset, override)
        self.predictions: list[Any] = []  # what the champions predicted, window by window

    def day(self, window: int) -> datetime:
        return AUTOPILOT_EPOCH + timedelta(days=window)

    def frame(self, start: int, end: int) -> pd.DataFrame:
        rows = self.dataset.features.iloc[start:end]
        return rows.assign(**{self.target: self.dataset.target[start:end]})

    def launch(self) -> None:
        """Register the harness's initial model (its training rows as the snapshot, their
        newest 20% as the holdout, categories open), set the policy, make it champion."""
        from keel.registry.signatures import infer_signature

        client, name, dataset = self.client, self.name, self.dataset
        initial = self.frame(0, dataset.initial_rows)
        snapshot = client.register_snapshot(initial, f"{name}-train")
        holdout = initial.iloc[round(len(initial) * (1 - LAUNCH_HOLDOUT)) :]
        client.register_snapshot(holdout, f"{name}-holdout")
        signature = infer_signature(initial, [str(c) for c in dataset.features.columns])
        signature = replace(
            signature, inputs=tuple(replace(s, categories=None) for s in signature.inputs)
        )
        client.register_model(
            name,
            self.replay.model(self.replay.initial_rows),
            training_data=snapshot,
            target=self.target,
            signature=signature,
            format="cloudpickle",
            trust="code",  # the bench's own learner, pickled for speed
            description="the bench's initial model",
        )
        client.set_policy(name, self.policy)
        client.deploy(name, 1, strategy="replace", reason="launch", now=self.day(0))

    def run(self) -> tuple[StrategyResult, AutopilotTally]:
        import numpy as np
        import pandas as pd

        from keel.monitoring.sinks import MemorySink

        self.launch()
        client, name, dataset = self.client, self.name, self.dataset
        rule_rows = baseline_rule_rows(self.policy)
        sink = MemorySink("bench")
        tally = AutopilotTally(self.verbose)
        champion = client.load_model(f"models:/{name}@champion")
        accuracies: list[float] = []
        last = len(dataset.windows) - 1
        for window in range(len(dataset.windows)):
            features, labels = dataset.window_features(window), dataset.window_labels(window)
            predictions = champion.predict(features)
            self.predictions.append(predictions)
            accuracies.append(float((predictions == labels).mean()))
            rows = len(labels)
            offsets = pd.to_timedelta(np.arange(rows) * (86_400_000_000 // rows), unit="us")
            probabilities = champion.predict_proba(features)
            scores = probabilities[:, 1] if probabilities.shape[1] == 2 else probabilities.max(1)
            receipt = client.log_predictions(
                name,
                features,
                version=champion.version.version,
                predictions=predictions,
                scores=scores,
                timestamps=pd.Timestamp(self.day(window)) + offsets,
            )
            end = self.day(window + 1)
            client.log_labels(name, receipt.request_ids, labels, timestamps=[end] * rows)
            if window == last:  # a retrain now would serve nothing: neither made nor counted
                break
            began = time.perf_counter()
            decisions = client.autopilot(models=[name], now=end, sinks=[sink])
            tally.count(window, decisions, time.perf_counter() - began)
            if rule_rows is not None:
                tally.alert_open.append(self._baseline_alert_open())
            if client.get_version(f"models:/{name}@champion").version != champion.version.version:
                champion = client.load_model(f"models:/{name}@champion")
        result = StrategyResult(
            "autopilot",
            accuracies,
            len(tally.retrained_after),
            tally.retrained_after,
            rejected_after=tally.rejected_after,
        )
        return result, tally

    def _baseline_alert_open(self) -> bool:
        alerts = self.client.list_alerts(self.name, state="open")
        return any("baseline majority" in alert.rule for alert in alerts)

    def setups_chosen(self) -> dict[str, int]:
        """How often the retrains chose each setup (``?``: a retrain that recorded none)."""
        counts: dict[str, int] = {}
        for retrain in self.client.retrains(self.name, limit=100_000):
            chosen = (retrain.details or {}).get("selection", {}).get("chosen")
            if isinstance(chosen, dict):
                chosen = chosen.get("name")
            key = str(chosen) if chosen is not None else "?"
            counts[key] = counts.get(key, 0) + 1
        return counts

    def alert_check(self, tally: AutopilotTally) -> dict[str, Any] | None:
        """Target ``c_baseline_alert`` (``closed_loop_targets.baseline_alert``); None when the
        policy has no majority-baseline alert."""
        import numpy as np

        rule_rows = baseline_rule_rows(self.policy)
        if rule_rows is None:
            return None
        windows = self.dataset.windows
        offset = windows[0][0]
        ends = [end - offset for _, end in windows[: len(tally.alert_open)]]
        labels = self.dataset.target[offset : windows[-1][1]]
        beats = window_beats_baseline(np.concatenate(self.predictions), labels, ends, rule_rows)
        return baseline_alert(beats, tally.alert_open) | {"labelled_rows": rule_rows}


def run_autopilot(
    dataset: Dataset,
    replay: Replay | None = None,
    store_root: Path = BENCH_DIR,
    override: dict[str, Any] | None = None,
    verbose: bool = False,
) -> StrategyResult:
    """Keel's autopilot deciding when to retrain (``AutopilotReplay``), in a fresh store in a
    temporary folder under ``store_root``; its decisions, the setups it chose and the baseline
    alert's record go in ``details``."""
    from keel.client import Client
    from keel.domain.policy import Policy
    from keel.settings import Settings

    replay = replay or Replay(dataset)
    store_root.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"closed_loop-{dataset.name}-", dir=store_root) as tmp:
        settings = Settings(
            store_url=f"sqlite:///{tmp}/keel.db", artifacts=f"{tmp}/artifacts", actor="bench"
        )
        with Client(settings=settings) as client:
            loop = AutopilotReplay(client, replay, override, verbose)
            result, tally = loop.run()
            setups = loop.setups_chosen()
            alert = loop.alert_check(tally)
    retraining = Policy.parse(loop.policy).retraining
    details = {
        **tally.summary(),
        "setups": setups,
        "baseline_alert": alert,
        "triggers": [t.text for t in retraining.triggers],
        "value_rule": getattr(retraining, "by_value", None),  # the default rule, where it exists
        "schedule": retraining.schedule,
        "policy_override": override,
        "seconds": time.perf_counter() - began,
    }
    return replace(result, details=details)
