"""The audit page's data: entries filtered by subject, action, actor and time, newest first,
and whether the hash chain verifies.

Verifying walks the whole chain, which grows without bound, so a page never waits for it: the
newest verification is shown with its age, and a new one starts in the background when it is
older than ``max_age_s`` and none is running.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from keel.domain.audit import ChainVerification

if TYPE_CHECKING:
    from keel.services import Services

PAGE_SIZE = 200


@dataclass
class Verified:
    result: ChainVerification
    at: float
    seconds: float


class ChainWatcher:
    """Runs ``verify`` (the hash chain's check, ``AuditTrail.verify_chain``) in a background
    thread, at most one at a time, and keeps the newest answer."""

    def __init__(self, verify: Callable[[], ChainVerification], *, max_age_s: float = 60.0) -> None:
        self.verify = verify
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._running: threading.Thread | None = None
        self.latest: Verified | None = None

    def current(self, wait_s: float = 0.1) -> tuple[Verified | None, bool]:
        """The newest answer and whether a verification is running; starts one when the
        answer is stale, and waits up to ``wait_s`` for it (small chains finish in time)."""
        with self._lock:
            stale = self.latest is None or time.monotonic() - self.latest.at > self.max_age_s
            if stale and self._running is None:
                self._running = threading.Thread(target=self._verify, daemon=True)
                self._running.start()
            running = self._running
        if running is not None and wait_s > 0:
            running.join(wait_s)
        with self._lock:
            return self.latest, self._running is not None

    def _verify(self) -> None:
        began = time.monotonic()
        try:
            result = self.verify()
            with self._lock:
                self.latest = Verified(result, time.monotonic(), time.monotonic() - began)
        finally:
            with self._lock:
                self._running = None


def audit_page(
    services: Services,
    *,
    model: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_seq: int | None = None,
) -> dict[str, Any]:
    found = services.audit.search_audit(
        model=model,
        action=action,
        actor=actor,
        since=since,
        until=until,
        before_seq=before_seq,
        limit=PAGE_SIZE,
    )
    return {
        "entries": [
            {
                "seq": e.seq,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "subject": e.subject,
                "details": e.details,
                "hash": e.hash,
            }
            for e in found.entries
        ],
        "older": found.older,
        "actions": services.audit.audit_actions(),
        "filters": {
            "model": model or "",
            "action": action or "",
            "actor": actor or "",
            "since": since.isoformat() if since else "",
            "until": until.isoformat() if until else "",
        },
    }
