"""Durations written the way people write them in policies: ``90s``, ``10m``, ``1h``, ``30d``.

>>> parse_duration("1h30m").total_seconds()
5400.0
"""

from __future__ import annotations

import re
from datetime import timedelta

from keel.errors import InvalidInput

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


#: the longest duration accepted: a thousand years, beyond any policy's need ("forever" is often
#: written as a few hundred years) and safely within what dates can be moved by
MAX_SECONDS = 1000 * 366 * 86_400


def parse_duration(text: str | int | float, field: str = "duration") -> timedelta:
    """A positive duration from ``"10m"``, ``"1h30m"``, ``"2d"`` or a number of seconds."""
    if isinstance(text, bool):
        raise InvalidInput(field, f"{text!r} is not a duration")
    if isinstance(text, int | float):
        seconds = float(text)
    elif isinstance(text, str):
        clean = text.strip().lower().replace(" ", "")
        position, seconds = 0, 0.0
        for match in _PART.finditer(clean):
            if match.start() != position:
                break
            seconds += float(match[1]) * _UNIT_SECONDS[match[2]]
            position = match.end()
        if not clean or position != len(clean):
            raise InvalidInput(
                field, f"{text!r} is not a duration; write e.g. '90s', '10m', '1h', '30d'"
            )
    else:
        raise InvalidInput(field, f"{text!r} is not a duration")
    if not seconds > 0:  # also NaN
        raise InvalidInput(field, f"{text!r} must be longer than zero")
    if seconds > MAX_SECONDS:
        raise InvalidInput(field, f"{text!r} is longer than Keel can count (1,000 years)")
    return timedelta(seconds=seconds)
