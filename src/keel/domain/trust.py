"""Trust: the recorded decision that lets an artifact be loaded although it can run code.

Loading a model is deserializing it. A skops file names the types it rebuilds; Keel loads those on
a fixed list of exact names (skops' own safe types and the classes Keel has reviewed) and nothing
else unless a named person trusted the extra types for that version. A cloudpickle file can run
any code while it loads, so it is loaded only when someone trusted that version's code. The
decision is kept with the version (who, when, which types, why) and in the audit trail, and every
later load (SDK, CLI, gate, serving, monitoring, retraining) honours that record and nothing else.

    >>> record = TrustRecord(("mylib.Scaler",), code=False, by="ana", at="2026-01-02T03:04")
    >>> record.allows(["mylib.Scaler"]), record.allows(["mylib.Other"])
    (True, False)
    >>> TrustRecord.from_dict(record.to_dict()) == record
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from keel.errors import InvalidInput

#: what ``trust=`` takes to trust a version's code (cloudpickle)
CODE = "code"

#: the longest type name accepted (a dotted Python path)
_MAX_TYPE_NAME = 512


@dataclass(frozen=True)
class TrustRequest:
    """What a caller asks to trust: exact type names, or code."""

    types: tuple[str, ...] = ()
    code: bool = False

    @property
    def empty(self) -> bool:
        return not self.types and not self.code


@dataclass(frozen=True)
class TrustRecord:
    """A trust decision as stored with a version; ``inherited_from`` names the version whose
    record a retrain carried over (the person who trusted it is still ``by``)."""

    types: tuple[str, ...]
    code: bool
    by: str
    at: str
    reason: str = ""
    inherited_from: str | None = None

    def allows(self, types: Iterable[str]) -> bool:
        return set(types) <= set(self.types)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "types": list(self.types),
            "code": self.code,
            "by": self.by,
            "at": self.at,
            "reason": self.reason,
        }
        if self.inherited_from is not None:
            out["inherited_from"] = self.inherited_from
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TrustRecord | None:
        if not data:
            return None
        return cls(
            types=tuple(data.get("types") or ()),
            code=bool(data.get("code", False)),
            by=str(data.get("by", "")),
            at=str(data.get("at", "")),
            reason=str(data.get("reason", "")),
            inherited_from=data.get("inherited_from"),
        )

    def inherited(self, source: str) -> TrustRecord:
        """The same decision carried to a version made from ``source`` by a retrain."""
        return replace(self, inherited_from=source)


def parse_trust(value: Any, field: str = "trust") -> TrustRequest:
    """``None``, ``"code"`` or a list of exact type names (``"module.Class"``), checked."""
    if value is None:
        return TrustRequest()
    if isinstance(value, TrustRequest):
        return value
    if isinstance(value, str):
        if value == CODE:
            return TrustRequest(code=True)
        raise InvalidInput(
            field,
            f"{value!r} is neither 'code' nor a list of type names; "
            "pass trust='code' to trust a pickled model's code, or trust=['module.Type', ...]",
        )
    if not isinstance(value, Sequence) or isinstance(value, bytes):
        raise InvalidInput(field, "'code' or a list of exact type names, e.g. ['mylib.Scaler']")
    return TrustRequest(types=tuple(sorted({check_type_name(t, field) for t in value})))


def check_type_name(name: Any, field: str = "trust") -> str:
    """An exact dotted name: a prefix (``sklearn.``) or a wildcard is never a trust decision."""
    if not isinstance(name, str) or not name:
        raise InvalidInput(field, f"type names are non-empty text, not {name!r}")
    parts = name.split(".")
    if (
        len(name) > _MAX_TYPE_NAME
        or len(parts) < 2
        or not all(part.isidentifier() for part in parts)
    ):
        raise InvalidInput(
            field,
            f"{name!r} is not an exact type name like 'module.Class' "
            "(prefixes and wildcards are not trusted)",
        )
    return name
