"""The Ray executor: each step becomes a Ray task, so a pipeline uses a whole cluster.

Install with ``pip install mlkeel[ray]``. Connects to ``address`` (``auto`` for a running
cluster, ``ray://host:10001`` for a remote one) or, with none, starts a local Ray for this
process. Steps that open the registry need a store every node can reach (PostgreSQL and an
object store, or a shared disk).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from keel.errors import InvalidInput
from keel.pipelines.pickled import call_pickled, unpickled

__all__ = ["RayExecutor"]


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        try:
            import ray
        except ImportError as exc:
            raise InvalidInput(
                "executor", "the ray executor needs Ray: pip install 'mlkeel[ray]'"
            ) from exc
        self._ray = ray
        self._started_here = False
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address is None and num_cpus is not None:
                options["num_cpus"] = num_cpus
            ray.init(address=address, **options)
            self._started_here = True
        self._task = ray.remote(call_pickled)

    def submit(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Future[Any]:
        import cloudpickle

        reference = self._task.remote(cloudpickle.dumps((fn, kwargs)))
        return unpickled(_cause(reference.future()))

    def close(self) -> None:
        if self._started_here:
            self._ray.shutdown()


def _cause(source: Future[Any]) -> Future[Any]:
    """Fail with the step's own exception, not Ray's wrapper (whose text is a coloured worker
    traceback), so a step's recorded error reads the same on every executor."""
    target: Future[Any] = Future()

    def done(finished: Future[Any]) -> None:
        error = finished.exception()
        if error is None:
            target.set_result(finished.result())
            return
        cause = getattr(error, "cause", None)
        target.set_exception(cause if isinstance(cause, Exception) else error)

    source.add_done_callback(done)
    return target
