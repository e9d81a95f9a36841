"""The store behind ``bench/dashboard.py``: models, versions, aliases, gates, a prediction log,
labels and monitoring windows, all written through Keel's production APIs.

Each model is built by ``build_model`` (one worker process per CPU, each with its own
``keel.Client`` on the shared SQLite file and artifact folder):

- a training snapshot (2,000 rows, features ``f0``..``f4`` and ``target`` from a seeded linear
  concept) and, for gated models, a holdout snapshot (1,000 rows);
- the policy (``set_policy``): low risk, windows cut by day, univariate drift only, a file sink;
  drifting models add ``drift_alerts``, noisy-label models an ``accuracy < 0.75`` rule, gated
  models a ``release`` suite with ``accuracy >= 0.6``;
- N versions (``register_model(..., training_data=snapshot, metrics=..., tags=...)``), each a
  LogisticRegression fitted on its own 300-row bootstrap sample of the training rows;
- champion moves: ``challenger`` then ``champion`` at evenly spaced versions (``set_alias``, the
  last one by ``deploy(strategy="replace")``); gated models run ``gate`` on each new champion;
- the prediction log: for each of D days up to yesterday the champion of that time scores the
  day's rows (drifting models: ``f0`` shifted by one standard deviation over the last quarter of
  the days); rows are checked and assembled by ``prediction_table`` and written with the log's
  writer ``logs.append`` as one part per day, named by the day's end (``part_id``, as the serving
  write-ahead log names its parts), so the log is laid out as live serving leaves it;
- labels for half the rows of the older half of the days (``log_labels``, one batch);
- one ``monitor`` run: daily windows with drift, estimates, operations, realized accuracy on the
  labelled ones, alert rules.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

FEATURES = ["f0", "f1", "f2", "f3", "f4"]
TRAIN_ROWS = 2_000
HOLDOUT_ROWS = 1_000
BOOTSTRAP_ROWS = 300
ACTOR = "bench-builder"


@dataclass(frozen=True)
class StoreSpec:
    """Everything the store's content depends on (the marker compares it)."""

    models: int
    versions_per_model: int
    predictions: int
    days: int
    champion_moves: int = 5
    labelled_days_share: float = 0.5
    labelled_rows_share: float = 0.5
    gated_every: int = 10
    seed: int = 7

    def params(self) -> dict[str, Any]:
        return asdict(self)

    def rows_per_model(self) -> int:
        return self.predictions // self.models

    def champions(self) -> list[int]:
        """The versions that become champion, in order (evenly spaced, the last is the newest)."""
        moves = max(1, min(self.champion_moves, self.versions_per_model))
        return [self.versions_per_model * (k + 1) // moves for k in range(moves)]

    def served_by(self, day: int) -> int:
        """The champion (index into ``champions()``) that served ``day`` (0 = oldest)."""
        return day * len(self.champions()) // self.days


def model_name(index: int) -> str:
    return f"model-{index:03d}"


def role(index: int, spec: StoreSpec) -> dict[str, bool]:
    """Which extras a model gets: drift in its newest days, noisy labels (an accuracy alert), a
    gate result on every champion."""
    return {
        "drifting": index % 10 == 5,
        "noisy_labels": index % 10 == 3,
        "gated": index % spec.gated_every == 0,
    }


def policy_for(index: int, spec: StoreSpec, holdout: str | None, sink_path: str) -> dict[str, Any]:
    kinds = role(index, spec)
    monitoring: dict[str, Any] = {
        "window": {"every": "1d"},
        "drift": {"multivariate": False},
        "drift_alerts": kinds["drifting"],
        "sinks": [{"type": "file", "path": sink_path}],
    }
    if kinds["noisy_labels"]:
        monitoring["alerts"] = ["accuracy < 0.75"]
    policy: dict[str, Any] = {"risk_profile": "low", "monitoring": monitoring}
    if holdout is not None:
        policy["suites"] = {
            "release": {
                "snapshots": [holdout],
                "target": "target",
                "resamples": 100,
                "measure_cost": False,
            }
        }
        policy["gates"] = {"suite": "release", "checks": ["accuracy >= 0.6"]}
    return policy


@dataclass
class ModelReport:
    """What building one model did and how long each phase took (seconds)."""

    name: str
    versions: int = 0
    rows: int = 0
    parts: int = 0
    labels: int = 0
    windows: int = 0
    labelled_windows: int = 0
    alerts: int = 0
    gates: int = 0
    alias_moves: int = 0
    fit_s: float = 0.0
    register_s: float = 0.0
    aliases_s: float = 0.0
    gates_s: float = 0.0
    log_s: float = 0.0
    labels_s: float = 0.0
    monitor_s: float = 0.0
    register_ms: list[float] = field(default_factory=list)  # each register_model call


def build_model(store_url: str, artifacts: str, params: dict[str, Any], index: int) -> ModelReport:
    """Build model ``index`` into the store; runs in a worker process."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    import keel

    spec = StoreSpec(**params)
    name = model_name(index)
    kinds = role(index, spec)
    report = ModelReport(name)
    rng = np.random.default_rng([spec.seed, index])
    weights = rng.normal(0.0, 1.0, len(FEATURES))

    def draw(rows: int) -> tuple[pd.DataFrame, np.ndarray]:
        x = rng.standard_normal((rows, len(FEATURES)))
        y = (x @ weights + rng.normal(0.0, 0.8, rows) > 0).astype(np.int64)
        return pd.DataFrame(x, columns=FEATURES), y

    with threadpool_limits(1), keel.Client(store_url, artifacts, actor=ACTOR) as client:
        train_x, train_y = draw(TRAIN_ROWS)
        snapshot = client.register_snapshot(train_x.assign(target=train_y), f"{name}-train")
        holdout = None
        if kinds["gated"]:
            hold_x, hold_y = draw(HOLDOUT_ROWS)
            holdout = client.register_snapshot(hold_x.assign(target=hold_y), f"{name}-holdout").ref
        sink = os.path.join(os.path.dirname(artifacts.rstrip("/")), "alerts.jsonl")

        champions = spec.champions()
        served: dict[int, Any] = {}
        score_x, score_y = train_x.iloc[:500], train_y[:500]
        for number in range(1, spec.versions_per_model + 1):
            began = time.perf_counter()
            rows = rng.integers(0, TRAIN_ROWS, BOOTSTRAP_ROWS)
            c_value = float(rng.choice([0.01, 0.1, 1.0, 10.0]))
            model = LogisticRegression(C=c_value).fit(train_x.iloc[rows], train_y[rows])
            accuracy = float((model.predict(score_x) == score_y).mean())
            report.fit_s += time.perf_counter() - began
            began = time.perf_counter()
            version = client.register_model(
                name,
                model,
                training_data=snapshot,
                target="target",
                metrics={"accuracy": round(accuracy, 4), "train_rows": BOOTSTRAP_ROWS},
                tags={"team": f"team-{index % 7}", "stage": "bench"},
                description=f"bootstrap fit {number} of {name}",
            )
            took = time.perf_counter() - began
            report.register_s += took
            report.register_ms.append(round(took * 1000, 2))
            report.versions += 1
            if number == 1:  # a policy needs its model
                client.set_policy(name, policy_for(index, spec, holdout, sink), source="bench")
            if version.version not in champions:
                continue
            served[version.version] = model
            began = time.perf_counter()
            client.set_alias(name, "challenger", version.version, reason="newest candidate")
            report.alias_moves += 1
            report.aliases_s += time.perf_counter() - began
            if kinds["gated"]:
                began = time.perf_counter()
                client.gate(f"{name}/{version.version}")
                report.gates += 1
                report.gates_s += time.perf_counter() - began
            began = time.perf_counter()
            reason = f"scheduled release {champions.index(version.version) + 1}"
            if version.version == champions[-1]:
                client.deploy(name, version.version, strategy="replace", reason=reason)
            else:
                client.set_alias(name, "champion", version.version, reason=reason)
            report.alias_moves += 1
            report.aliases_s += time.perf_counter() - began

        _log_traffic(client, spec, index, name, served, weights, rng, report)
        began = time.perf_counter()
        result = client.monitor(name)
        report.monitor_s = time.perf_counter() - began
        report.windows = len(result.windows)
        report.labelled_windows = result.relabelled
        report.alerts = len(client.list_alerts(name, limit=1000))
    return report


def _log_traffic(
    client: Any,
    spec: StoreSpec,
    index: int,
    name: str,
    served: dict[int, Any],
    weights: Any,
    rng: Any,
    report: ModelReport,
) -> None:
    """Score and log each day's rows with the champion of its time, then log labels."""
    import numpy as np
    import pandas as pd

    from keel.registry.predictions import prediction_table

    kinds = role(index, spec)
    champions = spec.champions()
    total = spec.rows_per_model()
    first_day = pd.Timestamp.now(tz="UTC").floor("D") - pd.Timedelta(days=spec.days + 1)
    labelled_days = int(spec.days * spec.labelled_days_share)
    label_ids: list[np.ndarray] = []
    label_values: list[np.ndarray] = []
    label_times: list[np.ndarray] = []
    began = time.perf_counter()
    for day in range(spec.days):
        rows = total // spec.days + (1 if day < total % spec.days else 0)
        if rows == 0:
            continue
        start = first_day + pd.Timedelta(days=day)
        x = rng.standard_normal((rows, len(FEATURES)))
        if kinds["drifting"] and day >= spec.days * 3 // 4:
            x[:, 0] += 1.0
        frame = pd.DataFrame(x, columns=FEATURES)
        version = champions[spec.served_by(day)]
        model = served[version]
        scores = model.predict_proba(frame)[:, 1]
        predictions = (scores >= 0.5).astype(np.int64)
        offsets = np.sort(rng.random(rows)) * 86_400.0
        stamps = start + pd.to_timedelta(offsets, unit="s")
        latency = rng.gamma(2.0, 1.5, rows) + 0.2 * champions.index(version)
        status = np.where(rng.random(rows) < 0.002, "error", "ok")
        ids = np.array([f"{name}-{day:03d}-{i:06d}" for i in range(rows)], dtype=object)
        table = prediction_table(
            frame,
            version=version,
            predictions=predictions,
            scores=scores,
            request_ids=ids,
            timestamps=stamps,
            latency_ms=latency,
            cpu_ms=latency * 0.6,
            status=status,
            errors=[None if s == "ok" else "timeout upstream" for s in status],
        )
        end_ns = (start + pd.Timedelta(days=1)).value - 1_000_000
        client.logs.append("predictions", name, table, part_id=(end_ns, f"b{index:03d}d{day:03d}"))
        report.rows += rows
        report.parts += 1
        if day < labelled_days:
            chosen = rng.random(rows) < spec.labelled_rows_share
            truth = (x @ weights + rng.normal(0.0, 0.8, rows) > 0).astype(np.int64)
            if kinds["noisy_labels"]:
                flip = rng.random(rows) < 0.3
                truth = np.where(flip, 1 - truth, truth)
            label_ids.append(ids[chosen])
            label_values.append(truth[chosen])
            label_times.append(stamps[chosen].asi8 + pd.Timedelta(days=2).value)
    report.log_s = time.perf_counter() - began
    if label_ids:
        began = time.perf_counter()
        labels = client.log_labels(
            name,
            np.concatenate(label_ids),
            np.concatenate(label_values),
            timestamps=pd.to_datetime(np.concatenate(label_times), utc=True),
        )
        report.labels = labels.matched
        report.labels_s = time.perf_counter() - began
