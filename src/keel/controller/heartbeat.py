"""A retrain's heartbeat: the process driving a retrain renews its lease every few seconds.

A retrain's lease lasts one lease length (by default three heartbeats) past its newest beat, so a
process that stops beating (killed with SIGKILL, its machine gone) loses the retrain within
seconds rather than after a long fixed lease, and any other controller may take it over
(``keel retrain MODEL --takeover``, or the autopilot's next pass). While the process lives, its
lease never lapses, however long a step (training) takes.

The beats come from a daemon thread, timed by a stop event, stamped by ``clock`` (the registry's
clock by default, read in the starting thread's context, so a replayed clock holds there too).
``beat()`` is the whole of one renewal, so a test can beat by hand on a fake clock without the
thread::

    with Heartbeat(db, retrain.id, owner, every_s=5.0, lease=timedelta(seconds=15)):
        ...  # drive the retrain; the lease stays ours while this process lives
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType

from keel.controller import retrains
from keel.errors import InvalidInput, KeelError
from keel.registry.clock import utcnow
from keel.store.database import Database

__all__ = ["Heartbeat"]

log = logging.getLogger("keel.autopilot")


class Heartbeat:
    """Renews ``owner``'s lease on retrain ``retrain_id`` every ``every_s`` seconds while in a
    ``with`` block; ``lost`` turns true when a beat finds the lease held by another process."""

    def __init__(
        self,
        db: Database,
        retrain_id: int,
        owner: str,
        *,
        every_s: float,
        lease: timedelta,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if not every_s > 0:
            raise InvalidInput("heartbeat", "must be a positive number of seconds")
        self.db, self.retrain_id, self.owner = db, retrain_id, owner
        self.every_s, self.lease, self.clock = every_s, lease, clock
        self.beats = 0
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> bool:
        """Renew the lease now; False (and ``lost``) when this process no longer holds it."""
        held = retrains.beat(self.db, self.retrain_id, self.owner, self.lease, now=self.clock())
        if held:
            self.beats += 1
        else:
            self.lost = True
        return held

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                if not self.beat():
                    log.warning(
                        "retrain #%s: the lease was taken over or ended; heartbeat stopped",
                        self.retrain_id,
                    )
                    return
            except KeelError as exc:  # a busy or unreachable store: try again next beat
                log.warning("retrain #%s: heartbeat failed: %s", self.retrain_id, exc.message)

    def start(self) -> Heartbeat:
        context = contextvars.copy_context()  # the caller's registry clock, if replayed
        self._thread = threading.Thread(
            target=context.run,
            args=(self._run,),
            name=f"keel-heartbeat-{self.retrain_id}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
