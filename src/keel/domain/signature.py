"""A model's input signature: the features it was trained on and the values it saw.

The signature is what serving validates requests against, what drift checks name features by, and
what every path that hands rows to a model rebuilds the training types from. Each feature has a
``kind`` (what monitoring picks a drift test by) and a logical ``type`` (what the model was given):

- ``int``, ``float``, ``bool``: numbers as trained; ``dtype`` keeps the exact one (``int64``,
  ``Int64``, ``float32``...);
- ``string``: text, its values sorted in ``categories`` up to a bound (none above it);
- ``category``: a pandas ``category`` column, with every category *in the training dtype's order*,
  as JSON values (an int category stays an int), and whether it is ``ordered``;
- ``datetime``: timestamps, ``dtype`` names the unit and time zone;
- ``other``: anything else, handed on as it comes.

Signatures stored before ``type`` existed get one from their kind and dtype, so old registries
keep working. ``Signature`` is what a ``ModelVersion`` carries: it is built once where the stored
JSON is read; ``to_dict`` writes today's form (every type named), ``stored_form`` the JSON as read.

>>> stored = {"inputs": [{"name": "age", "kind": "integer", "dtype": "int64"}]}
>>> signature = Signature.from_dict(stored)
>>> signature.feature("age").type, signature.feature_names
('int', ['age'])
>>> signature.to_dict()
{'inputs': [{'name': 'age', 'kind': 'integer', 'dtype': 'int64', 'type': 'int'}], 'outputs': {}}
>>> signature.stored_form() == stored
True
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: kinds a feature can have; the dtype keeps the exact type
KINDS = ("number", "integer", "boolean", "category", "datetime", "other")

#: logical types a feature can have: what rows are rebuilt as before they reach the model
TYPES = ("int", "float", "bool", "string", "category", "datetime", "other")

_TYPE_OF_KIND = {
    "number": "float",
    "integer": "int",
    "boolean": "bool",
    "datetime": "datetime",
    "other": "other",
}


def type_of(kind: str, dtype: str) -> str:
    """The logical type of a feature stored with only a kind and a dtype (older signatures).

    >>> type_of("category", "category"), type_of("category", "object"), type_of("integer", "Int64")
    ('category', 'string', 'int')
    """
    if kind == "category":
        return "category" if dtype == "category" else "string"
    return _TYPE_OF_KIND.get(kind, "other")


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    kind: str
    dtype: str
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    #: ``string``: the sorted values (None when too many); ``category``: all, in training order
    categories: tuple[Any, ...] | None = None
    #: ``category`` only: whether the categories are ordered
    ordered: bool = False
    #: the logical type (one of ``TYPES``); derived from kind and dtype when not given
    type: str = ""

    def __post_init__(self) -> None:
        if not self.type:
            object.__setattr__(self, "type", type_of(self.kind, self.dtype))
        elif self.type not in TYPES:
            raise TypeError(f"feature {self.name!r}: unknown type {self.type!r}")

    @property
    def labels(self) -> tuple[str, ...] | None:
        """The categories as text, as clients and the prediction log write them (3 -> "3")."""
        if self.categories is None:
            return None
        return tuple(c if isinstance(c, str) else str(c) for c in self.categories)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "dtype": self.dtype,
            "type": self.type,
        }
        if self.nullable:
            out["nullable"] = True
        if self.minimum is not None:
            out["min"] = self.minimum
        if self.maximum is not None:
            out["max"] = self.maximum
        if self.categories is not None:
            out["categories"] = list(self.categories)
        if self.ordered:
            out["ordered"] = True
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        cats = data.get("categories")
        return cls(
            name=data["name"],
            kind=data["kind"],
            dtype=data["dtype"],
            nullable=bool(data.get("nullable", False)),
            minimum=data.get("min"),
            maximum=data.get("max"),
            categories=tuple(cats) if cats is not None else None,
            ordered=bool(data.get("ordered", False)),
            type=str(data.get("type") or ""),
        )


@dataclass(frozen=True)
class Signature:
    """The features a model takes, in training order, and what it answers.

    ``outputs`` is what ``register`` records from the model's flavour (``flavour``,
    ``probabilities`` and, for a classifier, ``classes``) or what the user gave; it is kept as
    given, a JSON mapping, since nothing decides by it."""

    inputs: tuple[FeatureSpec, ...]
    outputs: dict[str, Any] = field(default_factory=dict)
    #: the JSON this signature was read from, when it was (a version registered before
    #: ``type`` existed shows what it stored); not copied by ``dataclasses.replace``
    document: dict[str, Any] | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.inputs]

    def only(self, names: Iterable[str]) -> Signature:
        """The features named in ``names``, still in training order (a frame holding some of
        them is typed by this one)."""
        wanted = set(names)
        return Signature(inputs=tuple(f for f in self.inputs if f.name in wanted))

    def feature(self, name: str) -> FeatureSpec:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": [f.to_dict() for f in self.inputs], "outputs": dict(self.outputs)}

    def stored_form(self) -> dict[str, Any]:
        """The JSON as the store keeps it: what it was read from, else ``to_dict``. A version's
        record shows this, so an old signature reads as it was written."""
        return copy.deepcopy(self.document) if self.document is not None else self.to_dict()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        found = cls(
            inputs=tuple(FeatureSpec.from_dict(f) for f in data.get("inputs", [])),
            outputs=dict(data.get("outputs", {})),
        )
        object.__setattr__(found, "document", copy.deepcopy(data))
        return found
