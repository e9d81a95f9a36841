"""The figures of ``bench/estimation.py``: per analysis, MAE, band coverage and alerts of each
method over the replicates' chunks pooled, and the issue's targets."""

from __future__ import annotations

from typing import Any

import numpy as np

METRICS = ("accuracy", "roc_auc")
#: a tie in MAE: differences below this are noise of the isotonic fits
MAE_TIE = 0.001


def figures(
    side: dict[str, Any], realized: dict[str, list[float]], fell: dict[str, list[bool]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for metric in METRICS:
        value = np.asarray(side[metric]["value"], dtype=float)
        truth = np.asarray(realized[metric])
        low = np.asarray(side[metric]["low"], dtype=float)
        high = np.asarray(side[metric]["high"], dtype=float)
        alert = np.asarray(side[metric]["alert"], dtype=bool)
        really = np.asarray(fell[metric], dtype=bool)
        out[metric] = {
            "mae": float(np.mean(np.abs(value - truth))),
            "coverage": float(np.mean((low <= truth) & (truth <= high))),
            "covered_chunks": int(np.sum((low <= truth) & (truth <= high))),
            "alerts_found": int(np.sum(alert & really)),
            "alerts_missed": int(np.sum(~alert & really)),
            "false_alerts": int(np.sum(alert & ~really)),
        }
    return out


def _fell(measured: dict[str, Any]) -> dict[str, list[bool]]:
    """Per chunk: did the metric really fall, i.e. is its realized value below the held-out
    reference's own limit for it (the same rule, fed labels)?"""
    return {
        metric: [v < measured["heldout"][metric]["limit"] for v in measured["realized"][metric]]
        for metric in METRICS
    }


def _pooled_side(sides: list[dict[str, Any]]) -> dict[str, Any]:
    """One method's per-chunk lists of every replicate, end to end."""
    return {
        metric: {
            key: [x for side in sides for x in side[metric][key]]
            for key in ("value", "low", "high", "alert")
        }
        for metric in METRICS
    }


def _pooled(lists: list[dict[str, list[Any]]]) -> dict[str, list[Any]]:
    return {metric: [x for one in lists for x in one[metric]] for metric in METRICS}


def summarise(
    chunk_rows: int, replicates: list[tuple[dict[str, Any], dict[str, Any] | None]]
) -> dict[str, Any]:
    """One analysis's figures over its replicates' chunks pooled (``replicates``: per replicate,
    Keel's measurements and NannyML's, or None), and each replicate's accuracy MAE."""
    fell = _pooled([_fell(measured) for measured, _ in replicates])
    realized = _pooled([measured["realized"] for measured, _ in replicates])
    out: dict[str, Any] = {
        "replicates": len(replicates),
        "chunks": sum(measured["chunks"] for measured, _ in replicates),
        "chunk_rows": chunk_rows,
        "really_fell": {metric: int(sum(fell[metric])) for metric in METRICS},
        "nannyml": None,
    }
    for label in ("default", "heldout"):
        sides = [measured[label] for measured, _ in replicates]
        out[f"keel_{label}"] = figures(_pooled_side(sides), realized, fell)
        out[f"keel_{label}_wall_s"] = sum(side["wall_s"] for side in sides)
        # chunks whose inputs drifted and whose estimate reweighted the held-out rows
        out[f"keel_{label}_reweighted_chunks"] = sum(side["reweighted"] for side in sides)
        effective = [x for side in sides for x in side["effective_rows"]]
        out[f"keel_{label}_effective_rows_median"] = (
            float(np.median(effective)) if effective else None
        )
        out[f"keel_{label}_accuracy_mae_by_replicate"] = [
            figures(side, measured["realized"], _fell(measured))["accuracy"]["mae"]
            for side, (measured, _) in zip(sides, replicates, strict=True)
        ]
    theirs = [nannyml for _, nannyml in replicates]
    if all(nannyml is not None for nannyml in theirs):
        mine = [n for n in theirs if n is not None]
        out["nannyml"] = figures(_pooled_side(mine), realized, fell)
        out["nannyml_wall_s"] = sum(n["wall_s"] for n in mine)
        out["nannyml_version"] = mine[0]["version"]
        out["nannyml_accuracy_mae_by_replicate"] = [
            figures(n, measured["realized"], _fell(measured))["accuracy"]["mae"]
            for n, (measured, _) in zip(mine, replicates, strict=True)
        ]
        out["heldout_vs_nannyml_max_abs_diff"] = {
            metric: max(
                float(
                    np.max(
                        np.abs(
                            np.asarray(measured["heldout"][metric]["value"])
                            - np.asarray(n[metric]["value"], dtype=float)
                        )
                    )
                )
                for n, (measured, _) in zip(mine, replicates, strict=True)
            )
            for metric in METRICS
        }
    return out


def targets(cases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per case and analysis: coverage of Keel's default bands, MAE against NannyML's; per case
    with fresh windows, the false-positive rate."""
    checks: dict[str, Any] = {}
    for case_name, whole in cases.items():
        if "false_positive_rate" in whole:
            checks[f"{case_name}_false_positive_rate_under_1pct"] = (
                whole["false_positive_rate"]["rate"] < 0.01
            )
        for analysis, case in whole.items():
            if not isinstance(case, dict) or "keel_default" not in case:
                continue
            name = f"{case_name}_{analysis}"
            checks.update(_targets_of(name, case))
    return checks


def _targets_of(name: str, case: dict[str, Any]) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    for metric in METRICS:
        mine = case["keel_default"][metric]
        checks[f"{name}_{metric}_coverage_93"] = mine["coverage"] >= 0.93
        if case["nannyml"] is not None:
            theirs = case["nannyml"][metric]
            checks[f"{name}_{metric}_mae_not_worse"] = mine["mae"] <= theirs["mae"] + MAE_TIE
    return checks


def rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return round(value, 5) if isinstance(value, float) else value
