"""A pipeline step: a plain Python function whose parameters name what it needs.

A parameter is filled, by name, with the output of the step of that name, with a run parameter
of that name, or (``context``) with the run's :class:`StepContext`. So a pipeline is just the list
of its steps; the order they run in follows from the names:

>>> @step
... def window(rows: int) -> list[int]:
...     return list(range(rows))
>>> @step(cache=False)
... def total(window: list[int]) -> int:
...     return sum(window)
>>> total.needs, total.cache
(('window',), False)

``cache=False`` marks a step with side effects (registering, deploying): its result is never
taken from another run, though a resumed run still keeps it.
"""

from __future__ import annotations

import hashlib
import inspect
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from keel.errors import InvalidInput

if TYPE_CHECKING:
    from keel.settings import Settings

__all__ = ["Step", "StepContext", "step"]

CONTEXT = "context"


@dataclass(frozen=True)
class StepContext:
    """What a step may know about its run; small and picklable, so it travels to any worker.

    A step that needs the registry opens the run's stores from :meth:`settings` (or a client,
    with :meth:`client`) in whatever process or machine it runs on (so a process pool or a Ray
    cluster needs a store every worker can reach: a SQLite file on a shared disk, or
    PostgreSQL).
    """

    run_id: str
    pipeline: str
    step: str
    store_url: str
    artifacts: str
    actor: str
    params: dict[str, Any] = field(default_factory=dict)
    artifact_options: dict[str, Any] = field(default_factory=dict)
    #: what opens a client on the run's store: the class of the client that started the run,
    #: handed in by the pipeline (it travels by reference, like the step's own function)
    client_class: type | None = None

    def settings(self) -> Settings:
        """The run's store, artifacts and actor, for opening them where the step runs."""
        from keel.settings import Settings

        return Settings(
            store_url=self.store_url,
            artifacts=self.artifacts,
            actor=self.actor,
            artifact_options=self.artifact_options,
        )

    def client(self) -> Any:
        """A :class:`keel.Client` on the run's store (close it when done)."""
        if self.client_class is None:
            raise InvalidInput(
                "context",
                "was not made by a pipeline run started from a client, so it cannot open one; "
                "open keel.Client(context.settings()) yourself",
            )
        return self.client_class(settings=self.settings())


@dataclass(frozen=True)
class Step:
    """A function plus what the pipeline needs to know about it."""

    fn: Callable[..., Any]
    name: str
    needs: tuple[str, ...]
    cache: bool
    code_hash: str
    defaults: dict[str, Any]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    @property
    def wants_context(self) -> bool:
        return CONTEXT in self.needs


@overload
def step(fn: Callable[..., Any], /) -> Step: ...


@overload
def step(
    *, name: str | None = None, cache: bool = True
) -> Callable[[Callable[..., Any]], Step]: ...


def step(
    fn: Callable[..., Any] | None = None, /, *, name: str | None = None, cache: bool = True
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Make ``fn`` a pipeline step (``@step`` or ``@step(name=..., cache=False)``)."""

    def wrap(function: Callable[..., Any]) -> Step:
        if not callable(function):
            raise InvalidInput("step", f"{function!r} is not a function")
        signature = inspect.signature(function)
        needs: list[str] = []
        defaults: dict[str, Any] = {}
        for parameter in signature.parameters.values():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise InvalidInput(
                    "step", f"{function.__name__}: a step's inputs are named, not *args/**kwargs"
                )
            needs.append(parameter.name)
            if parameter.default is not parameter.empty:
                defaults[parameter.name] = parameter.default
        return Step(
            fn=function,
            name=name or function.__name__,
            needs=tuple(needs),
            cache=cache,
            code_hash=_code_hash(function),
            defaults=defaults,
        )

    return wrap(fn) if fn is not None else wrap


def _code_hash(function: Callable[..., Any]) -> str:
    """The step's source text, so editing a step invalidates its cached results."""
    try:
        text = inspect.getsource(function)
    except (OSError, TypeError):  # defined where no source is kept (a REPL): use the bytecode
        code = getattr(function, "__code__", None)
        text = _code_text(code) if code is not None else repr(function)
    return hashlib.sha256(text.encode()).hexdigest()


def _code_text(code: types.CodeType) -> str:
    """Bytecode with its constants and names: ``return 1`` and ``return 2`` share bytecode and
    differ only in their constants; nested code (inner functions) is folded in the same way."""
    parts = [code.co_code.hex(), repr(code.co_names)]
    for constant in code.co_consts:
        parts.append(
            _code_text(constant) if isinstance(constant, types.CodeType) else repr(constant)
        )
    return "|".join(parts)
