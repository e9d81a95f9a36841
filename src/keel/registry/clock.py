"""One clock for every timestamp the registry writes, in UTC.

Production reads the wall clock. A replay of the past (the demo, a benchmark) can make the
registry read its simulated clock instead, with ``replayed``, so versions, alias moves, gate
runs and the audit trail carry the replayed dates and line up with its monitoring windows. The
choice is per context (a ``ContextVar``): another thread, such as a server, keeps the wall clock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

__all__ = ["replayed", "utcnow"]

_source: ContextVar[Callable[[], datetime] | None] = ContextVar("keel_clock", default=None)


def utcnow() -> datetime:
    source = _source.get()
    return datetime.now(UTC) if source is None else source()


@contextlib.contextmanager
def replayed(source: Callable[[], datetime]) -> Iterator[None]:
    """Within the block, the registry's ``now`` is ``source()`` (a zone-aware datetime)."""
    token = _source.set(source)
    try:
        yield
    finally:
        _source.reset(token)
