"""Data quality of a window's inputs as serving found them: values the model never saw in
training, counted per feature.

Serving checks every row against the version's signature under the model's input policy
(``keel.domain.policy.Inputs``) and writes what it found to the log's ``warnings`` column, JSON
``[{"field": ..., "code": ...}]`` with a code of ``INPUT_CHECKS``; a row the policy rejected has
status ``rejected``. Each feature and code becomes one data-quality issue of the window (the
drift checks' ``{"column", "code", "problem"}`` shape) with the number of rows and how many of
them were rejected, beside the window's counts of flagged and rejected rows.

>>> import pandas as pd
>>> age = '{"field":"age","code":"out_of_range"}'
>>> frame = pd.DataFrame({"status": ["ok", "rejected", "ok"],
...                       "warnings": [None, f"[{age}]", f"[{age}]"]})
>>> found = input_quality(frame)
>>> found.issues[0]["column"], found.issues[0]["rows"], found.issues[0]["rejected"]
('age', 2, 1)
>>> found.flagged_rows, found.rejected_rows
(1, 1)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from keel.domain.policy import INPUT_CHECKS
from keel.monitoring.drift.columns import issue

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["InputQuality", "input_quality"]

_WHAT = {
    "out_of_range": "outside the training range",
    "unseen_category": "a category unseen in training",
}
assert set(_WHAT) == set(INPUT_CHECKS)


@dataclass(frozen=True)
class InputQuality:
    """One issue per feature and check; the rows answered with a flagged value, and the rows
    rejected (for any reason the policy gave)."""

    issues: list[dict[str, Any]] = field(default_factory=list)
    flagged_rows: int = 0
    rejected_rows: int = 0


def input_quality(window: pd.DataFrame) -> InputQuality:
    """What serving found in ``window``'s inputs (nothing for a log without the columns)."""
    rows = len(window)
    status = window.get("status")
    rejected_rows = int((status == "rejected").sum()) if status is not None else 0
    if "warnings" not in window:
        return InputQuality(rejected_rows=rejected_rows)
    seen: Counter[tuple[str, str]] = Counter()
    refused: Counter[tuple[str, str]] = Counter()
    flagged = 0
    states = status.tolist() if status is not None else [None] * rows
    for text, state in zip(window["warnings"].tolist(), states, strict=True):
        if not isinstance(text, str):
            continue
        found = {(str(w.get("field")), str(w.get("code"))) for w in _entries(text)}
        seen.update(found)
        if state == "rejected":
            refused.update(found)
        else:
            flagged += 1
    issues = []
    for (column, code), count in sorted(seen.items()):
        what = _WHAT.get(code, code)
        share = f"{count:,} of {rows:,} rows {what}"
        if refused[(column, code)]:
            share += f" ({refused[(column, code)]:,} rejected)"
        issues.append(issue(column, code, share, rows=count, rejected=refused[(column, code)]))
    return InputQuality(issues, flagged, rejected_rows)


def _entries(text: str) -> list[dict[str, Any]]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
