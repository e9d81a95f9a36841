"""``door``: a method of a face (the SDK's ``Client``) that is a service's method, so the face
holds no logic of its own and cannot drift from what the CLI, the management API and the
dashboard call.

>>> class Greeter:
...     def hello(self, name: str) -> str:
...         "Say hello."
...         return f"hello {name}"
>>> class Face:
...     greeter = Greeter()
...     hello = door("greeter", Greeter.hello)
>>> Face().hello("ann")
'hello ann'
>>> Face.hello.__doc__
'Say hello.'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

__all__ = ["door"]

P = ParamSpec("P")
R = TypeVar("R")


class door(Generic[P, R]):
    """The face's attribute ``service``'s method of the same name, with its signature and
    docstring (``help(Client.deploy)`` shows the service's)."""

    def __init__(self, service: str, method: Callable[Concatenate[Any, P], R]) -> None:
        self.service = service
        self.name = method.__name__
        self.__doc__ = method.__doc__
        self.__wrapped__ = method  # inspect.signature and help() show the method's

    def __call__(self, face: object, *args: P.args, **kwargs: P.kwargs) -> R:
        """``Client.deploy(client, ...)``, as with any method looked up on its class."""
        method: Callable[P, R] = getattr(getattr(face, self.service), self.name)
        return method(*args, **kwargs)

    @overload
    def __get__(self, face: None, owner: type) -> door[P, R]: ...

    @overload
    def __get__(self, face: object, owner: type) -> Callable[P, R]: ...

    def __get__(self, face: object | None, owner: type) -> door[P, R] | Callable[P, R]:
        if face is None:
            return self
        method: Callable[P, R] = getattr(getattr(face, self.service), self.name)
        return method
