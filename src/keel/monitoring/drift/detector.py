"""Drift detection for a window of rows: every feature, multiple testing, the multivariate check.

:func:`detect_drift` compares the current window with a reference, either a stored
:class:`~keel.monitoring.drift.reference.ReferenceProfile` (fast: the window is binned on the
profile's grids, the tests run on counts) or a raw DataFrame (the tests run on the values and
give SciPy's answers). Per feature it runs the test of its kind (KS for numbers, chi-square for
categories) with its effect size (Wasserstein distance in reference standard deviations,
Jensen-Shannon distance) and PSI; the p-values are adjusted across the tested features with
Benjamini-Hochberg, and a feature has drifted when its adjusted p-value is below ``alpha`` *and*
its effect is above its threshold. A domain classifier then looks for drift in the joint
distribution (see :mod:`~keel.monitoring.drift.domain_classifier`).

Prediction drift and label drift are the same tests on another column: pass the ``prediction``
(or ``score``) or label column among the features, or call :func:`column_drift` with that
column's reference summary (``profile.columns["score"]``) or reference values.

Bad input: an empty window, a window that is not a DataFrame, or ``features`` naming a column the
reference lacks raise :class:`~keel.errors.InvalidInput`; a column the window lacks, or one that
cannot be tested (see :mod:`~keel.monitoring.drift.columns`), is skipped and reported in
``issues``, and the rest are tested.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> reference = pd.DataFrame({"x": rng.normal(size=5000), "y": rng.normal(size=5000)})
>>> current = pd.DataFrame({"x": rng.normal(0.5, 1, size=5000), "y": rng.normal(size=5000)})
>>> profile = ReferenceProfile.build(reference)
>>> report = detect_drift(profile, current, DriftConfig(multivariate=False))
>>> report.drifted
['x']
>>> round(report.features[0].effect, 1)
0.5
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from keel.errors import InvalidInput
from keel.monitoring.drift._frames import as_floats, count_categories, kind_of
from keel.monitoring.drift.columns import Outcome, issue, profile_column, raw_column
from keel.monitoring.drift.domain_classifier import MIN_ROWS, domain_classifier
from keel.monitoring.drift.multiple_testing import benjamini_hochberg
from keel.monitoring.drift.reference import (
    MISSING_CODE,
    ReferenceProfile,
    category_codes,
)
from keel.monitoring.drift.results import DriftConfig, DriftReport, FeatureDrift
from keel.monitoring.drift.summary import CategoricalSummary, ColumnSummary, Kind, NumericSummary

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")

__all__ = ["DriftConfig", "DriftReport", "FeatureDrift", "column_drift", "detect_drift"]


def detect_drift(
    reference: ReferenceProfile | pd.DataFrame,
    current: pd.DataFrame,
    config: DriftConfig | None = None,
) -> DriftReport:
    """Test every feature of ``current`` against ``reference``; see the module notes."""
    import pandas as pd

    config = config or DriftConfig()
    if not isinstance(current, pd.DataFrame):
        raise InvalidInput("current", f"must be a pandas DataFrame, not {type(current).__name__}")
    if len(current) == 0:
        raise InvalidInput("current", "the window has no rows")
    if isinstance(reference, ReferenceProfile):
        known, reference_rows = list(reference.columns), reference.rows
    elif isinstance(reference, pd.DataFrame):
        if len(reference) == 0:
            raise InvalidInput("reference", "has no rows")
        known, reference_rows = _column_names(reference, "reference"), len(reference)
    else:
        raise InvalidInput("reference", "must be a ReferenceProfile or a pandas DataFrame")
    names = list(config.features) if config.features is not None else known
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InvalidInput("features", f"not in the reference: {unknown}")
    repeated = sorted({str(c) for c in current.columns[current.columns.duplicated()]} & set(names))
    if repeated:
        raise InvalidInput("current", f"has more than one column named {repeated}")

    issues: list[dict[str, Any]] = []
    tasks: list[Callable[[], Outcome]] = []
    for name in names:
        if name not in current.columns:
            issues.append(issue(name, "missing_column", "the window has no such column"))
        else:
            tasks.append(_task(reference, name, current[name], config))
    # the domain classifier runs beside the column tests, on the features expected to be tested
    # (again on the ones actually tested, in the rare case the guess was wrong)
    expected = [n for n in names if n in current.columns and _testable(reference, current[n], n)]
    run = (
        (lambda: _multivariate(reference, current, expected, config))
        if config.multivariate
        else None
    )
    outcomes, multivariate_outcome = _run(tasks, run, config.workers)
    results: list[FeatureDrift] = []
    for result, found in outcomes:
        if result is not None:
            results.append(result)
        issues.extend(found)
    results = _decide(results, config)

    multivariate = None
    if multivariate_outcome is not None:
        tested = [r.feature for r in results]
        if tested != expected:
            multivariate_outcome = _multivariate(reference, current, tested, config)
        multivariate, problem = multivariate_outcome
        if problem:
            issues.append(issue(None, "multivariate_skipped", problem))
    results.sort(key=lambda r: (np.inf if np.isnan(r.effect) else -r.effect, r.feature))
    return DriftReport(results, multivariate, issues, len(current), reference_rows, config)


def column_drift(
    reference: ColumnSummary | pd.Series | np.ndarray | Sequence[Any],
    current: pd.Series | np.ndarray | Sequence[Any],
    *,
    name: str = "column",
    kind: Kind | None = None,
    config: DriftConfig | None = None,
) -> FeatureDrift:
    """One column's drift (e.g. of predictions, scores or labels) against a reference summary
    (``profile.columns[name]``) or raw reference values; ``kind`` overrides the kind inferred
    from raw values' type. Alone, the column needs no multiple-testing correction
    (``p_adjusted == p_value``). A column that cannot be tested raises ``InvalidInput``."""
    import pandas as pd

    config = config or DriftConfig()
    window = current if isinstance(current, pd.Series) else pd.Series(np.asarray(current))
    if len(window) == 0:
        raise InvalidInput(name, "the window has no values")
    if isinstance(reference, NumericSummary | CategoricalSummary):
        result, issues = profile_column(name, reference, window, config)
    else:
        values = reference if isinstance(reference, pd.Series) else pd.Series(np.asarray(reference))
        if len(values) == 0:
            raise InvalidInput("reference", "has no values")
        result, issues = raw_column(name, values, window, kind or kind_of(values), config)
    if result is None:
        raise InvalidInput(name, issues[-1]["problem"], issues=issues)
    return _decide([result], config)[0]


def _column_names(frame: pd.DataFrame, field: str) -> list[str]:
    names = list(frame.columns)
    if not all(isinstance(name, str) for name in names) or len(set(names)) != len(names):
        raise InvalidInput(field, "column names must be distinct text")
    return names


def _task(
    reference: ReferenceProfile | pd.DataFrame, name: str, column: pd.Series, config: DriftConfig
) -> Callable[[], Outcome]:
    if isinstance(reference, ReferenceProfile):
        summary = reference.columns[name]
        return lambda: profile_column(name, summary, column, config)
    values = reference[name]
    return lambda: raw_column(name, values, column, kind_of(values), config)


def _run(
    tasks: list[Callable[[], Outcome]], side: Callable[[], T] | None, workers: int | None
) -> tuple[list[Outcome], T | None]:
    """The tasks' outcomes in order and ``side()``'s result (started first), on up to
    ``workers`` threads (NumPy, pandas and scikit-learn release the GIL in their loops)."""
    threads = min(workers or min(4, os.cpu_count() or 1), len(tasks) + (side is not None))
    if threads <= 1:
        return [task() for task in tasks], None if side is None else side()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        future = None if side is None else pool.submit(side)
        outcomes = list(pool.map(lambda task: task(), tasks))
        return outcomes, None if future is None else future.result()


def _testable(reference: ReferenceProfile | pd.DataFrame, column: pd.Series, name: str) -> bool:
    """A quick guess whether :func:`profile_column` / :func:`raw_column` will test the column."""
    if bool(column.isna().all()):
        return False
    if isinstance(reference, ReferenceProfile):
        summary = reference.columns[name]
        if summary.rows == 0:
            return False
        kind, source = summary.kind, summary.source
    else:
        if bool(reference[name].isna().all()):
            return False
        kind = source = kind_of(reference[name])
    if kind == "numeric":
        return kind_of(column) == "numeric" or column.dtype == object
    return not (source == "categorical" and kind_of(column) == "numeric")


def _decide(results: list[FeatureDrift], config: DriftConfig) -> list[FeatureDrift]:
    """Benjamini-Hochberg across ``results``, then the alarm: adjusted p < alpha and effect above
    the threshold."""
    adjusted = benjamini_hochberg([r.p_value for r in results])
    return [
        replace(
            r,
            p_adjusted=float(p),
            drifted=bool(p < config.alpha and r.effect > r.threshold),
        )
        for r, p in zip(results, adjusted, strict=True)
    ]


def _multivariate(
    reference: ReferenceProfile | pd.DataFrame,
    current: pd.DataFrame,
    names: list[str],
    config: DriftConfig,
) -> tuple[dict[str, Any] | None, str | None]:
    """The domain classifier's verdict on the tested features, or why it did not run."""
    if not names:
        return None, "no feature could be tested"
    if config.sample_rows < MIN_ROWS:
        return None, f"sample_rows is {config.sample_rows}; the classifier needs {MIN_ROWS}"
    rows = np.sort(
        np.random.default_rng([config.seed, 2]).choice(
            len(current), size=min(config.sample_rows, len(current)), replace=False
        )
    )
    if isinstance(reference, ReferenceProfile):
        ref_matrix = reference.sample_matrix(names)
        cur_matrix = reference.coded(current, names, rows)
    else:
        size = min(config.sample_rows, len(reference))
        ref_rows = np.sort(
            np.random.default_rng([config.seed, 1]).choice(len(reference), size, False)
        )
        ref_matrix, cur_matrix = _raw_matrices(reference, current, names, ref_rows, rows)
    if min(len(ref_matrix), len(cur_matrix)) < MIN_ROWS:
        sizes = f"{len(ref_matrix)} reference and {len(cur_matrix)} current rows"
        return None, f"the classifier needs {MIN_ROWS} rows a side; it has {sizes}"
    result = domain_classifier(ref_matrix, cur_matrix, seed=config.seed, folds=config.folds)
    drifted = result.auc > config.domain_auc and result.p_value < config.alpha
    return {
        "auc": result.auc,
        "p_value": result.p_value,
        "drifted": bool(drifted),
        "threshold": config.domain_auc,
        "rows": {"reference": result.reference_rows, "current": result.current_rows},
        "folds": result.folds,
        "features": names,
    }, None


def _raw_matrices(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    names: list[str],
    ref_rows: np.ndarray,
    cur_rows: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Sampled rows of both frames as floats: numbers as they are (infinite ones as NaN),
    categories by their rank in the reference sample (unseen ones after all of them)."""
    matrices = [np.empty((ref_rows.size, len(names))), np.empty((cur_rows.size, len(names)))]
    for j, name in enumerate(names):
        ref, cur = reference[name].iloc[ref_rows], current[name].iloc[cur_rows]
        if kind_of(reference[name]) == "numeric":
            for matrix, column in zip(matrices, (ref, cur), strict=True):
                values = as_floats(column)
                assert values is not None
                matrix[:, j] = np.where(np.isfinite(values), values, np.nan)
            continue
        counts, _ = count_categories(ref)
        ranked = [c for c, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
        ranked = ranked[: MISSING_CODE - 1]
        for matrix, column in zip(matrices, (ref, cur), strict=True):
            codes = category_codes(column.tolist(), ranked, len(ranked))
            matrix[:, j] = np.where(codes == MISSING_CODE, np.nan, codes)
    return matrices[0], matrices[1]
