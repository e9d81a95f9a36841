"""Numbers written in policy sentences (gates, alert rules, retrain triggers).

``float("1e400")`` is infinity and ``float("nan")`` is not a number at all; a threshold, margin
or count built from either would pass validation and then compare as always true, always
false, or crash when turned into an int. Every number a policy sentence holds goes through here:

>>> finite("5,000", "alerts[0]", "accuracy < 0.9 over the last 5,000 labelled predictions")
5000.0
>>> finite("1e400", "gates.checks[0]", "accuracy >= 1e400")
Traceback (most recent call last):
...
keel.errors.InvalidInput: gates.checks[0]: 'accuracy >= 1e400': 1e400 is not a finite number
"""

from __future__ import annotations

import math

from keel.errors import InvalidInput

#: the largest whole number the store keeps (SQLite INTEGER, PostgreSQL BIGINT): a limit or id
#: above it is refused where it enters, not met as an OverflowError in a database driver
MAX_STORED_INT = 2**63 - 1


def finite(text: str, field: str, sentence: str) -> float:
    """``text`` (thousands may be separated by commas) as a finite float, else InvalidInput
    naming the ``sentence`` it came from."""
    try:
        value = float(text.replace(",", ""))
    except ValueError as exc:
        raise InvalidInput(field, f"{sentence!r}: {text!r} is not a number") from exc
    if not math.isfinite(value):
        raise InvalidInput(field, f"{sentence!r}: {text} is not a finite number")
    return value


def whole(text: str, field: str, sentence: str) -> int:
    """``text`` as an int (``"5,000"``, ``"1e3"``), finite, else InvalidInput."""
    return int(finite(text, field, sentence))
