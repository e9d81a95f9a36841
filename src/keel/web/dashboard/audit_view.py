"""The audit page's data: entries filtered by subject, action, actor and time, newest first,
and whether the hash chain verifies.

Verifying walks the whole chain, which grows without bound, so a page never waits for it: the
newest verification is shown with its age, and a new one starts in the background when it is
older than ``max_age_s`` and none is running.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from keel.domain.audit import ChainVerification
from keel.errors import InvalidInput
from keel.registry import audit
from keel.store.database import Database
from keel.store.schema import audit_log

PAGE_SIZE = 200


@dataclass
class Verified:
    result: ChainVerification
    at: float
    seconds: float


class ChainWatcher:
    """Runs ``audit.verify`` in a background thread, at most one at a time, and keeps the
    newest answer."""

    def __init__(self, db: Database, *, max_age_s: float = 60.0) -> None:
        self.db = db
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
            result = audit.verify(self.db)
            with self._lock:
                self.latest = Verified(result, time.monotonic(), time.monotonic() - began)
        finally:
            with self._lock:
                self._running = None


def audit_page(
    db: Database,
    *,
    model: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_seq: int | None = None,
) -> dict[str, Any]:
    if since is not None and until is not None and since > until:
        raise InvalidInput("since", "must not be after until")
    c = audit_log.c
    query = sa.select(c.seq, c.at, c.actor, c.action, c.subject, c.details, c.hash)
    if model:
        query = query.where(
            sa.or_(
                c.subject == f"model:{model}",
                c.subject.startswith(f"model:{model}/", autoescape=True),
                c.subject == model,
                c.subject.startswith(f"{model}/", autoescape=True),
            )
        )
    if action:
        query = query.where(c.action.startswith(action, autoescape=True))
    if actor:
        query = query.where(c.actor == actor)
    if since is not None:
        query = query.where(c.at >= _stamp(since))
    if until is not None:
        query = query.where(c.at <= _stamp(until))
    if before_seq is not None:
        query = query.where(c.seq < before_seq)
    rows = conn_rows(db, query.order_by(c.seq.desc()).limit(PAGE_SIZE + 1))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    with db.read() as conn:
        actions = [r[0] for r in conn.execute(sa.select(c.action).distinct().order_by(c.action))]
    return {
        "entries": [
            {
                "seq": r.seq,
                "at": r.at,
                "actor": r.actor,
                "action": r.action,
                "subject": r.subject,
                "details": r.details,
                "hash": r.hash,
            }
            for r in rows
        ],
        "older": rows[-1].seq if more and rows else None,
        "actions": actions,
        "filters": {
            "model": model or "",
            "action": action or "",
            "actor": actor or "",
            "since": since.isoformat() if since else "",
            "until": until.isoformat() if until else "",
        },
    }


def _stamp(moment: datetime) -> str:
    """``moment`` as the log writes its times (UTC ISO text, compared as text)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def conn_rows(db: Database, query: Any) -> list[Any]:
    with db.read() as conn:
        return list(conn.execute(query).all())
