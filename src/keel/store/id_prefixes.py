"""Ids given by their first characters, as listings print them (``keel runs list`` shows 8).

An exact id always wins; otherwise a prefix of at least ``MIN_PREFIX`` characters names the one
id that starts with it. A prefix shared by several ids is refused with some of them named, so a
shortened id never silently picks the wrong record.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from keel.errors import InvalidInput, NotFound

__all__ = ["MIN_PREFIX", "resolve_id"]

MIN_PREFIX = 4


def resolve_id(conn: Any, column: sa.Column[Any], given: str, kind: str, field: str) -> str:
    """The full id in ``column`` that ``given`` names: itself, or the one id it begins (case
    counts, on every database)."""
    if not isinstance(given, str) or not given.strip():
        raise InvalidInput(field, f"a {kind} id is a non-empty string")
    if conn.execute(sa.select(column).where(column == given)).first() is not None:
        return given
    if len(given) < MIN_PREFIX:
        raise InvalidInput(
            field, f"{given!r} is too short: give the whole id or at least {MIN_PREFIX} characters"
        )
    # substr, not LIKE: no wildcards to escape, and SQLite's LIKE would ignore case
    begins = sa.func.substr(column, 1, len(given)) == given
    found = [row[0] for row in conn.execute(sa.select(column).where(begins).limit(3))]
    if not found:
        raise NotFound(kind, given)
    if len(found) > 1:
        shown = ", ".join(found[:2]) + (", ..." if len(found) > 2 else "")
        raise InvalidInput(
            field, f"{given!r} begins more than one {kind} id ({shown}): give more characters"
        )
    return str(found[0])
