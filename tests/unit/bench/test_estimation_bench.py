"""The pure helpers of ``bench/estimation.py`` (and its ``_estimation_figures``): the
simulation's shift, the figures per method and the targets."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from _estimation_figures import figures, targets
from estimation import simulate


def test_the_shift_moves_rows_towards_the_boundary() -> None:
    rng = np.random.default_rng(0)
    calm, shifted = simulate(rng, 20_000), simulate(rng, 20_000, shifted=True)
    assert abs(calm["x0"].std() - 1.0) < 0.05 and abs(shifted["x0"].std() - 0.4) < 0.05
    assert abs(shifted["x5"].mean() - 1.0) < 0.05


def test_figures_count_coverage_and_alerts() -> None:
    side = {
        metric: {
            "value": [0.9, 0.8, 0.7],
            "low": [0.88, 0.75, 0.72],
            "high": [0.92, 0.85, 0.78],
            "alert": [False, True, True],
        }
        for metric in ("accuracy", "roc_auc")
    }
    realized = {metric: [0.91, 0.8, 0.65] for metric in ("accuracy", "roc_auc")}
    fell = {metric: [False, False, True] for metric in ("accuracy", "roc_auc")}
    got = figures(side, realized, fell)["accuracy"]
    assert got["covered_chunks"] == 2 and abs(got["mae"] - (0.01 + 0.0 + 0.05) / 3) < 1e-12
    assert (got["alerts_found"], got["alerts_missed"], got["false_alerts"]) == (1, 0, 1)
    analysis = {
        "keel_default": {"accuracy": got, "roc_auc": got},
        "nannyml": {"accuracy": {**got, "mae": 0.0}, "roc_auc": got},
    }
    checks = targets(
        {"sim": {"shift": analysis, "false_positive_rate": {"rate": 0.005}, "keel_s": 1.0}}
    )
    assert checks["sim_shift_accuracy_mae_not_worse"] is False
    assert checks["sim_shift_roc_auc_mae_not_worse"] is True
    assert checks["sim_false_positive_rate_under_1pct"] is True
    assert checks["sim_shift_accuracy_coverage_93"] is False
