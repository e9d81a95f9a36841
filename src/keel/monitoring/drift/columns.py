"""One column against its reference: data-quality checks, then every statistic of its kind.

Two paths give the same :class:`~keel.monitoring.drift.results.FeatureDrift`:

- against a stored summary (:func:`profile_column`): the window is binned on the reference's grid
  (numbers) or counted per category, and the tests run on those counts;
- against raw reference values (:func:`raw_column`): the tests run on the values and agree with
  SciPy (``ks_2samp(method="asymp")``, ``wasserstein_distance``, ``chi2_contingency(correction=
  False)``, ``jensenshannon(base=2)``).

A column that cannot be tested is skipped with a data-quality *issue* (``{"column", "code",
"problem"}``): no values in the reference (``no_reference_values``), none in the window
(``all_missing``), or a type that does not fit the reference's (``type_mismatch``, e.g. text where
the reference had numbers). A column that can be tested may still carry an issue: infinite values
(``infinite_values``: counted as missing and left out) or categories the reference never had
(``new_categories``: each counted in a bucket of its own, with a reference count of zero, so they
weigh in the chi-square and the Jensen-Shannon distance; with a reference that pooled its rare
categories into ``other`` they cannot be told from those and go to ``other``).
Multiple testing and the alarm are the caller's: the results here have ``p_adjusted = p_value``
and ``drifted = False``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from keel.monitoring.drift._frames import as_floats, count_categories, kind_of
from keel.monitoring.drift.chisquare import chi_square
from keel.monitoring.drift.jensen_shannon import jensen_shannon
from keel.monitoring.drift.ks import ks_binned, ks_test
from keel.monitoring.drift.overlay import category_overlay, numeric_overlay
from keel.monitoring.drift.psi import psi, psi_numeric, quantile_groups
from keel.monitoring.drift.results import DriftConfig, FeatureDrift
from keel.monitoring.drift.summary import (
    CategoricalSummary,
    ColumnSummary,
    Kind,
    NumericSummary,
    summarise_numeric,
)
from keel.monitoring.drift.wasserstein import wasserstein, wasserstein_weighted

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Outcome", "issue", "profile_column", "raw_column"]

Outcome = tuple[FeatureDrift | None, list[dict[str, Any]]]
#: new categories counted one by one; the rest share a bucket
MAX_NEW = 1000
OTHER, OTHER_NEW = "(other)", "(other new)"


def issue(column: str | None, code: str, problem: str, **details: Any) -> dict[str, Any]:
    return {"column": column, "code": code, "problem": problem, **details}


def profile_column(
    name: str, reference: ColumnSummary, current: pd.Series, config: DriftConfig
) -> Outcome:
    if reference.rows == 0:
        return None, [issue(name, "no_reference_values", "the reference has no values")]
    if bool(current.isna().all()):
        return None, [issue(name, "all_missing", "every value in the window is missing")]
    if isinstance(reference, NumericSummary):
        return _numeric_profile(name, reference, current, config)
    return _categorical_profile(name, reference, current, config)


def raw_column(
    name: str, reference: pd.Series, current: pd.Series, kind: Kind, config: DriftConfig
) -> Outcome:
    if bool(reference.isna().all()):
        return None, [issue(name, "no_reference_values", "the reference has no values")]
    if bool(current.isna().all()):
        return None, [issue(name, "all_missing", "every value in the window is missing")]
    if kind == "numeric":
        return _numeric_raw(name, reference, current, config)
    return _categorical_raw(name, reference, current, config)


# -- numbers ------------------------------------------------------------------------------------
def _mismatch(name: str, expected: str, current: pd.Series) -> dict[str, Any]:
    problem = f"{expected} in the reference but {current.dtype} in the window"
    return issue(name, "type_mismatch", problem)


def _infinite(name: str, count: int, rows: int) -> list[dict[str, Any]]:
    if not count:
        return []
    problem = f"{count} infinite value(s) in {rows} rows, left out like missing values"
    return [issue(name, "infinite_values", problem, count=count)]


def _scale(std: float, mean: float) -> float:
    """The reference standard deviation, or |mean| (else 1) for a constant reference."""
    if np.isfinite(std) and std > 0:
        return float(std)
    return abs(mean) if np.isfinite(mean) and mean != 0 else 1.0


def _numeric_profile(
    name: str, reference: NumericSummary, current: pd.Series, config: DriftConfig
) -> Outcome:
    values = as_floats(current)
    if values is None or reference.grid is None:
        return None, [_mismatch(name, "numeric", current)]
    window = summarise_numeric(values, reference.grid)
    issues = _infinite(name, window.infinite, window.total)
    if window.rows == 0:
        return None, [*issues, issue(name, "all_missing", "no finite value in the window")]
    ref, cur = reference.counts, window.counts
    ks = ks_binned(ref, cur, "auto", reference_rows=reference.rows, current_rows=window.rows)
    ref_positions = _positions(reference)
    cur_positions = _positions(window)
    positions = np.concatenate([ref_positions, cur_positions])
    zeros = np.zeros(ref.size)
    order = np.argsort(positions, kind="stable")
    distance = wasserstein_weighted(
        positions[order], np.concatenate([ref, zeros])[order], np.concatenate([zeros, cur])[order]
    )
    groups = quantile_groups(ref, config.psi_bins)
    psi_value = psi(np.bincount(groups, weights=ref), np.bincount(groups, weights=cur))
    shares_ref, shares_cur = ref / ref.sum(), cur / cur.sum()
    tests = {
        "ks": ks.statistic,
        "ks_p_value": ks.p_value,
        "ks_p_method": ks.method,
        "ks_resolution": float(np.minimum(shares_ref, shares_cur).max()),
        "wasserstein": distance,
        "psi": psi_value,
        "bin_width": reference.grid.width,
    }
    overlay = numeric_overlay(ref_positions, ref, cur_positions, cur)
    return _numeric_result(name, tests, reference, window, config, overlay), issues


def _positions(summary: NumericSummary) -> np.ndarray:
    """Where each bin's mass sits: the outer bins at their values' mean, the others at centres."""
    assert summary.grid is not None
    under, over = summary.outer_means()
    return np.concatenate([[under], summary.grid.centres(), [over]])


def _numeric_raw(
    name: str, reference: pd.Series, current: pd.Series, config: DriftConfig
) -> Outcome:
    ref_all, cur_all = as_floats(reference), as_floats(current)
    if ref_all is None or cur_all is None:
        return None, [_mismatch(name, "numeric" if ref_all is not None else "text", current)]
    ref, cur = ref_all[np.isfinite(ref_all)], cur_all[np.isfinite(cur_all)]
    issues = _infinite(name, int(np.isinf(cur_all).sum()), cur_all.size)
    if ref.size == 0:
        return None, [issue(name, "no_reference_values", "the reference has no finite value")]
    if cur.size == 0:
        return None, [*issues, issue(name, "all_missing", "no finite value in the window")]
    ks = ks_test(ref, cur)
    tests = {
        "ks": ks.statistic,
        "ks_p_value": ks.p_value,
        "ks_p_method": ks.method,
        "wasserstein": wasserstein(ref, cur),
        "psi": psi_numeric(ref, cur, config.psi_bins),
    }
    overlay = numeric_overlay(ref, np.ones(ref.size), cur, np.ones(cur.size))
    summaries = _moments(ref_all), _moments(cur_all)
    return _numeric_result(name, tests, *summaries, config, overlay), issues


def _moments(values: np.ndarray) -> NumericSummary:
    """Counts and moments of raw float values (no grid)."""
    finite = values[np.isfinite(values)]
    missing = int(np.isnan(values).sum())
    return NumericSummary(
        grid=None,
        counts=np.zeros(0, dtype=np.int64),
        rows=int(finite.size),
        missing=missing,
        infinite=values.size - finite.size - missing,
        mean=float(finite.mean()),
        std=float(finite.std()),
        minimum=float(finite.min()),
        maximum=float(finite.max()),
    )


def _numeric_result(
    name: str,
    tests: dict[str, Any],
    reference: NumericSummary,
    current: NumericSummary,
    config: DriftConfig,
    overlay: dict[str, Any],
) -> FeatureDrift:
    """The verdict from ``tests`` (``ks``, ``ks_p_value``, ``wasserstein``, ``psi``, extras)."""
    scale = _scale(reference.std, reference.mean)
    statistic, p_value, effect = tests["ks"], tests["ks_p_value"], tests["wasserstein"] / scale
    stats = {
        **tests,
        "wasserstein_std": effect,
        "scale": scale,
        "reference_mean": reference.mean,
        "current_mean": current.mean,
        "reference_std": reference.std,
        "current_std": current.std,
        "reference_min": reference.minimum,
        "reference_max": reference.maximum,
        "current_min": current.minimum,
        "current_max": current.maximum,
        "current_infinite": current.infinite,
    }
    return FeatureDrift(
        feature=name,
        kind="numeric",
        test="ks",
        statistic=statistic,
        p_value=p_value,
        p_adjusted=p_value,
        effect=effect,
        effect_name="wasserstein_std",
        threshold=config.numeric_effect,
        drifted=False,
        psi=tests["psi"],
        stats=stats,
        rows=current.rows,
        reference_rows=reference.rows,
        missing_share=current.missing_share,
        reference_missing_share=reference.missing_share,
        histogram=overlay,
    )


# -- categories ---------------------------------------------------------------------------------
def _categorical_profile(
    name: str, reference: CategoricalSummary, current: pd.Series, config: DriftConfig
) -> Outcome:
    if reference.source == "categorical" and kind_of(current) == "numeric":
        return None, [_mismatch(name, "text", current)]
    counts, missing = count_categories(current)
    position = {category: i for i, category in enumerate(reference.categories)}
    cur = np.zeros(len(reference.categories), dtype=np.int64)
    other, new = 0, {}
    for category, count in counts.items():
        i = position.get(category)
        if i is not None:
            cur[i] += count
        elif reference.other:
            other += count
        else:
            new[category] = count
    labels, ref_counts, cur_counts = list(reference.categories), [reference.counts], [cur]
    if reference.other or other:
        labels.append(OTHER)
        ref_counts.append(np.array([reference.other]))
        cur_counts.append(np.array([other]))
    issues = _new_categories(name, new, sum(counts.values()))
    new_labels, new_counts = _bucket_new(new)
    labels += new_labels
    ref_counts.append(np.zeros(len(new_counts), dtype=np.int64))
    cur_counts.append(np.array(new_counts, dtype=np.int64))
    rows = sum(counts.values())
    shares = (reference.missing_share, missing / (missing + rows))
    result = _categorical_result(
        name,
        labels,
        np.concatenate(ref_counts),
        np.concatenate(cur_counts),
        shares,
        len(new),
        config,
    )
    return result, issues


def _categorical_raw(
    name: str, reference: pd.Series, current: pd.Series, config: DriftConfig
) -> Outcome:
    if kind_of(reference) == "categorical" and kind_of(current) == "numeric":
        return None, [_mismatch(name, "text", current)]
    ref_counts, ref_missing = count_categories(reference)
    cur_counts, cur_missing = count_categories(current)
    labels = sorted(set(ref_counts) | set(cur_counts))
    new = {c: n for c, n in cur_counts.items() if c not in ref_counts}
    ref = np.array([ref_counts.get(c, 0) for c in labels], dtype=np.int64)
    cur = np.array([cur_counts.get(c, 0) for c in labels], dtype=np.int64)
    shares = (ref_missing / len(reference), cur_missing / len(current))
    issues = _new_categories(name, new, int(cur.sum()))
    return _categorical_result(name, labels, ref, cur, shares, len(new), config), issues


def _new_categories(name: str, new: dict[str, int], rows: int) -> list[dict[str, Any]]:
    if not new:
        return []
    share = sum(new.values()) / rows
    examples = sorted(new, key=lambda c: (-new[c], c))[:10]
    problem = (
        f"{len(new)} categor{'y' if len(new) == 1 else 'ies'} not in the reference "
        f"({share:.2%} of the window's values), each tested as a category of its own"
    )
    return [issue(name, "new_categories", problem, categories=examples, share=share)]


def _bucket_new(new: dict[str, int]) -> tuple[list[str], list[int]]:
    ranked = sorted(new.items(), key=lambda item: (-item[1], item[0]))
    labels = [c for c, _ in ranked[:MAX_NEW]]
    counts = [n for _, n in ranked[:MAX_NEW]]
    if len(ranked) > MAX_NEW:
        labels.append(OTHER_NEW)
        counts.append(sum(n for _, n in ranked[MAX_NEW:]))
    return labels, counts


def _categorical_result(
    name: str,
    labels: list[str],
    ref: np.ndarray,
    cur: np.ndarray,
    missing_shares: tuple[float, float],
    new: int,
    config: DriftConfig,
) -> FeatureDrift:
    chi = chi_square(ref, cur)
    distance = jensen_shannon(ref, cur)
    psi_value = psi(ref, cur)
    stats = {
        "chi2": chi.statistic,
        "chi2_p_value": chi.p_value,
        "dof": chi.dof,
        "cramers_v": chi.cramers_v,
        "jensen_shannon": distance,
        "psi": psi_value,
        "categories": len(labels),
        "new_categories": new,
    }
    return FeatureDrift(
        feature=name,
        kind="categorical",
        test="chi2",
        statistic=chi.statistic,
        p_value=chi.p_value,
        p_adjusted=chi.p_value,
        effect=distance,
        effect_name="jensen_shannon",
        threshold=config.categorical_effect,
        drifted=False,
        psi=psi_value,
        stats=stats,
        rows=int(cur.sum()),
        reference_rows=int(ref.sum()),
        missing_share=missing_shares[1],
        reference_missing_share=missing_shares[0],
        histogram=category_overlay(labels, ref, cur),
    )
