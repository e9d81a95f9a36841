"""Where a step's function runs: in this process (the default), a local process pool, or Ray.

An executor is a tiny interface: ``submit`` a function with its keyword arguments and get a
``concurrent.futures.Future`` back, ``close`` when done. The pipeline never knows which one it
has, so the same steps run on a laptop and on a cluster. Functions and results travel as
cloudpickle bytes, so steps defined in a script or a notebook work in every executor.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, TypedDict, Unpack

from keel.errors import InvalidInput
from keel.pipelines.pickled import call_pickled, unpickled

__all__ = ["EXECUTORS", "Executor", "InlineExecutor", "ProcessExecutor", "make_executor"]

EXECUTORS = ("inline", "process", "ray")


class ExecutorOptions(TypedDict, total=False):
    """What ``make_executor`` hands the executor it makes (each reads its own)."""

    max_workers: int | None  # process
    address: str | None  # ray: a running cluster's address, else a local Ray
    num_cpus: int | None  # ray: the local Ray's CPUs


class Executor(Protocol):
    name: str

    def submit(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Future[Any]: ...

    def close(self) -> None: ...


class InlineExecutor:
    """Runs each step at once, in the calling thread: simplest to debug, nothing to set up."""

    name = "inline"

    def submit(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(**kwargs))
        except BaseException as exc:  # the pipeline records it as the step's failure
            future.set_exception(exc)
        return future

    def close(self) -> None:
        pass


class ProcessExecutor:
    """A pool of fresh ("spawn") worker processes on this machine, for CPU-bound steps.

    Spawned workers share nothing with the parent (no inherited database connections or
    threads); a step that needs the registry opens its own client from its context.
    """

    name = "process"

    def __init__(self, max_workers: int | None = None) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self._pool = ProcessPoolExecutor(
            max_workers=max_workers, mp_context=multiprocessing.get_context("spawn")
        )

    def submit(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Future[Any]:
        import cloudpickle

        return unpickled(self._pool.submit(call_pickled, cloudpickle.dumps((fn, kwargs))))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def make_executor(kind: str, **options: Unpack[ExecutorOptions]) -> Executor:
    """An executor by name: ``inline``, ``process`` or ``ray`` (the ``ray`` extra)."""
    if kind == "inline":
        return InlineExecutor()
    if kind == "process":
        return ProcessExecutor(options.get("max_workers"))
    if kind == "ray":
        from keel.pipelines.ray_executor import RayExecutor

        return RayExecutor(address=options.get("address"), num_cpus=options.get("num_cpus"))
    raise InvalidInput("executor", f"{kind!r} is not one of {', '.join(EXECUTORS)}")
