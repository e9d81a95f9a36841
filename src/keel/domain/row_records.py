"""Building a record from a stored row: each field of the dataclass read from the row's
attribute of the same name, so a record over a table says its fields once, in its declaration.

>>> from dataclasses import dataclass
>>> from types import SimpleNamespace
>>> @dataclass(frozen=True)
... class Approval:
...     id: int
...     approver: str
...     note: str
>>> record_of(Approval, SimpleNamespace(id=4, approver="ann", extra=1), note="by hand")
Approval(id=4, approver='ann', note='by hand')
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["record_of"]

R = TypeVar("R", bound="DataclassInstance")


def record_of(cls: type[R], row: Any, **given: Any) -> R:
    """``cls`` with every field not ``given`` read from ``row`` by name (a database row, or
    anything with those attributes); a field the row lacks is an AttributeError, not a None."""
    names = [f.name for f in fields(cls) if f.init and f.name not in given]
    return cls(**{name: getattr(row, name) for name in names}, **given)
