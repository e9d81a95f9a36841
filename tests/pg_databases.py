"""Fresh PostgreSQL databases for tests without each test waiting for one.

Creating a database, migrating it to Keel's schema head and dropping it afterwards costs about a
second per test, most of it spent waiting on the server. ``Databases`` migrates one template
once, then a background thread keeps a couple of copies of it ready (``CREATE DATABASE ...
TEMPLATE``, done by the server while the thread only waits) and drops the used ones behind the
tests' backs. Every test still gets a database of its own.
"""

from __future__ import annotations

import queue
import threading
import uuid

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"


class Databases:
    def __init__(self, admin: str, *, ahead: int = 2) -> None:
        import psycopg

        from keel.store.database import Database

        self.admin = admin
        self.template = f"keel_tpl_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.template}"')
        Database(PG_URL.format(db=self.template)).close()  # migrated to the head, then left alone
        self._ready: queue.Queue[str] = queue.Queue(maxsize=ahead)
        self._used: queue.Queue[str] = queue.Queue()
        self._failure: BaseException | None = None
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="pg-databases", daemon=True)
        self._worker.start()

    def take(self, timeout: float = 60.0) -> str:
        """The URL of a fresh database at the schema head, for one test."""
        try:
            name = self._ready.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"no test database within {timeout} s: {self._failure!r}") from None
        return PG_URL.format(db=name)

    def give_back(self, url: str) -> None:
        self._used.put(url.rsplit("/", 1)[1])

    def close(self) -> None:
        import psycopg

        self._stop.set()
        self._worker.join(30)
        leftovers = [*_drain(self._ready), *_drain(self._used), self.template]
        with psycopg.connect(self.admin, autocommit=True) as conn:
            for name in leftovers:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _work(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self.admin, autocommit=True) as conn:
                while not self._stop.is_set():
                    try:
                        used = self._used.get_nowait()
                    except queue.Empty:
                        used = None
                    if used is not None:
                        conn.execute(f'DROP DATABASE IF EXISTS "{used}" WITH (FORCE)')
                    elif not self._ready.full():
                        name = f"keel_t_{uuid.uuid4().hex[:12]}"
                        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
                        self._ready.put(name)
                    else:
                        self._stop.wait(0.02)
        except BaseException as exc:  # seen by the next take(), which then fails loudly
            self._failure = exc


def _drain(found: queue.Queue[str]) -> list[str]:
    names = []
    while True:
        try:
            names.append(found.get_nowait())
        except queue.Empty:
            return names
