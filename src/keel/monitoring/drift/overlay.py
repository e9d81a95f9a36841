"""Overlays for a report: the reference's and the window's shares side by side, on common bins.

Numbers get ``OVERLAY_BINS`` (20) equal bins spanning both sides' 1%-99% ranges (the end bins
also hold what lies beyond); a stored profile's fine bins are placed by their centres (the outer
bins at their means). Categories show the ``OVERLAY_CATEGORIES`` (20) largest on either side and
the rest summed in a last bucket.

>>> import numpy as np
>>> shown = numeric_overlay(np.arange(10.0), np.ones(10), np.arange(10.0) + 5, np.ones(10))
>>> len(shown["edges"]), round(sum(shown["reference"]), 6), round(sum(shown["current"]), 6)
(21, 1.0, 1.0)
>>> category_overlay(["a", "b"], np.array([3, 1]), np.array([1, 3]))["reference"]
[0.75, 0.25]
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["OVERLAY_BINS", "OVERLAY_CATEGORIES", "category_overlay", "numeric_overlay"]

OVERLAY_BINS = 20
OVERLAY_CATEGORIES = 20


def _quantile(positions: np.ndarray, weights: np.ndarray, level: float) -> float:
    order = np.argsort(positions, kind="stable")
    cumulative = np.cumsum(weights[order]) / weights.sum()
    index = min(int(np.searchsorted(cumulative, level)), order.size - 1)
    return float(positions[order][index])


def numeric_overlay(
    ref_positions: np.ndarray,
    ref_weights: np.ndarray,
    cur_positions: np.ndarray,
    cur_weights: np.ndarray,
) -> dict[str, Any]:
    """Shares of both sides in ``OVERLAY_BINS`` equal bins spanning both sides' 1%-99% ranges
    (the end bins also hold what lies beyond)."""
    lo = min(
        _quantile(ref_positions, ref_weights, 0.01), _quantile(cur_positions, cur_weights, 0.01)
    )
    hi = max(
        _quantile(ref_positions, ref_weights, 0.99), _quantile(cur_positions, cur_weights, 0.99)
    )
    if not hi > lo:
        lo, hi = lo - 0.5, lo + 0.5
    edges = np.linspace(lo, hi, OVERLAY_BINS + 1)

    def shares(positions: np.ndarray, weights: np.ndarray) -> list[float]:
        with np.errstate(over="ignore", invalid="ignore"):  # spans near the float limits
            fraction = np.nan_to_num((positions - lo) / (hi - lo), nan=0.0, posinf=1.0, neginf=0.0)
        index = np.minimum(
            (np.clip(fraction, 0.0, 1.0) * OVERLAY_BINS).astype(np.int64), OVERLAY_BINS - 1
        )
        counts = np.bincount(index, weights=weights, minlength=OVERLAY_BINS)
        return (counts / counts.sum()).tolist()

    return {
        "edges": edges.tolist(),
        "reference": shares(ref_positions, ref_weights),
        "current": shares(cur_positions, cur_weights),
    }


def category_overlay(labels: list[str], ref: np.ndarray, cur: np.ndarray) -> dict[str, Any]:
    """Shares of the ``OVERLAY_CATEGORIES`` buckets with the largest share on either side, the
    rest summed in a last bucket."""
    ref_shares, cur_shares = ref / ref.sum(), cur / cur.sum()
    top = np.argsort(-np.maximum(ref_shares, cur_shares), kind="stable")[:OVERLAY_CATEGORIES]
    shown = [labels[i] for i in top]
    reference, current = ref_shares[top].tolist(), cur_shares[top].tolist()
    if len(labels) > len(top):
        shown.append("(rest)")
        reference.append(max(1.0 - sum(reference), 0.0))
        current.append(max(1.0 - sum(current), 0.0))
    return {"categories": shown, "reference": reference, "current": current}
