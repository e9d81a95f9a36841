"""Steps and their results travel between processes as cloudpickle bytes: the worker side
(``call_pickled``) and the caller side (``unpickled``), shared by the process pool and Ray
executors."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

__all__ = ["call_pickled", "unpickled"]


def call_pickled(payload: bytes) -> bytes:
    """Run a cloudpickled ``(fn, kwargs)`` and return the cloudpickled result (worker side)."""
    import cloudpickle

    fn, kwargs = cloudpickle.loads(payload)
    return cloudpickle.dumps(fn(**kwargs))


def unpickled(source: Future[bytes]) -> Future[Any]:
    """A future of the object whose cloudpickled bytes ``source`` will hold (caller side)."""
    import cloudpickle

    target: Future[Any] = Future()

    def done(finished: Future[bytes]) -> None:
        error = finished.exception()
        if error is not None:
            target.set_exception(error)
        else:
            target.set_result(cloudpickle.loads(finished.result()))

    source.add_done_callback(done)
    return target
