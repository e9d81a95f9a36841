"""Retrying a write that lost a race for a unique number (PostgreSQL under concurrency)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from keel.errors import StoreConflict

T = TypeVar("T")


def retry_on_conflict(action: Callable[[], T], attempts: int = 8) -> T:
    for attempt in range(attempts):
        try:
            return action()
        except StoreConflict:
            if attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0.001, 0.01) * (attempt + 1))
    raise AssertionError("unreachable")
