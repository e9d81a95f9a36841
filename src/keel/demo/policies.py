"""The demo's policies: the lending model's (high risk: gates, a canary, automatic rollback) and
one for any time-ordered table (retrain two points under the launch accuracy)."""

from __future__ import annotations

from typing import Any

from keel.demo.world import World

__all__ = ["launch_accuracy", "lending_policy", "table_policy"]


def lending_policy(model: str) -> dict[str, Any]:
    return {
        "risk_profile": "high",
        "suites": {
            "release": {
                "snapshots": [f"{model}-holdout"],
                "target": "default",
                "resamples": 200,
                "measure_cost": False,  # no latency or size gate here: the canary watches latency
            }
        },
        "gates": {
            "checks": [
                "accuracy >= 0.92",
                "roc_auc not worse than champion by more than 0.01 at 95% confidence",
                "accuracy beats baseline majority",
            ]
        },
        "rollout": {
            "strategy": "canary",
            "steps": [25, 100],
            "interval": "5d",
            "auto_rollback": True,
            "sticky": True,  # the branch picks the variant, so the demo replays exactly
            "min_rows_per_step": 150,
            "max_latency_p99_ratio": 3.0,
        },
        "monitoring": {
            "target": "default",
            "reference": f"{model}-holdout",  # out of sample, so CBPE is not overconfident
            "window": {"rows": 1000},
            "label_horizon": "120d",
            "cooldown": "30d",
            "alerts": [
                "accuracy < 0.92 over the last 1,000 labelled predictions as critical",
                "estimated_accuracy < 0.92",
                "drifted_features >= 2",
            ],
        },
        "retraining": {
            "schedule": None,  # the high profile's weekly schedule: this model retrains on need
            "triggers": ["accuracy < 0.92 over the last 1,000 labelled predictions"],
            "min_interval": "7d",
            "min_new_labels": 1000,
            # one setup: the story's injected incidents count the trainer's calls, one per
            # retrain, which choosing among setups would multiply
            "training": {"recent_rows": 6000, "holdout": 0.25, "selection": {"enabled": False}},
            "trainer": "keel.demo.incidents:train",
        },
    }


def launch_accuracy(world: World) -> float:
    """What the first model scores on the newest fifth of the history (its holdout)."""
    cut = int(len(world.history) * 0.8)
    train_rows, holdout = world.history.iloc[:cut], world.history.iloc[cut:]
    model = world.make_model().fit(train_rows[world.features], train_rows[world.target])
    return float(model.score(holdout[world.features], holdout[world.target]))


def table_policy(model: str, target: str, threshold: float) -> dict[str, Any]:
    """A policy for any table: retrain when accuracy falls two points below what the first
    model scored at launch; a candidate must not be worse than the champion on the newest
    labelled rows."""
    trigger = f"accuracy < {threshold:g} over the last 1,000 labelled predictions"
    return {
        "risk_profile": "low",
        "suites": {
            "release": {"snapshots": [f"{model}-holdout"], "target": target, "resamples": 200}
        },
        "gates": {
            "checks": ["accuracy not worse than champion by more than 0.01 at 95% confidence"]
        },
        "rollout": {"strategy": "replace"},
        "monitoring": {
            "target": target,
            "window": {"rows": 1000},
            "label_horizon": "3650d",
            "drift": {"multivariate": False},
            "alerts": [trigger, "drifted_features >= 3"],
        },
        "retraining": {
            "schedule": None,
            "triggers": [trigger],
            "min_new_labels": 1000,
            "training": {"recent_rows": 10_000, "holdout": 0.2},
        },
    }
