"""A model's input signature: the features it was trained on and the values it saw.

The signature is what serving validates requests against and what drift checks name features by.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: kinds a feature can have; the dtype keeps the exact type
KINDS = ("number", "integer", "boolean", "category", "datetime", "other")


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    kind: str
    dtype: str
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "dtype": self.dtype}
        if self.nullable:
            out["nullable"] = True
        if self.minimum is not None:
            out["min"] = self.minimum
        if self.maximum is not None:
            out["max"] = self.maximum
        if self.categories is not None:
            out["categories"] = list(self.categories)
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
        )


@dataclass(frozen=True)
class Signature:
    inputs: tuple[FeatureSpec, ...]
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.inputs]

    def feature(self, name: str) -> FeatureSpec:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": [f.to_dict() for f in self.inputs], "outputs": dict(self.outputs)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        return cls(
            inputs=tuple(FeatureSpec.from_dict(f) for f in data.get("inputs", [])),
            outputs=dict(data.get("outputs", {})),
        )
