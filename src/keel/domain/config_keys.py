"""Strict configuration: merging a file over its defaults and refusing keys no schema knows.

Shared by policies and ``keel.yaml`` settings, so a misspelt key fails the same way everywhere
(naming the closest known key) instead of silently leaving a setting at its default.

>>> unknown_key("monitorng", ["gates", "monitoring"])
"unknown key 'monitorng'; did you mean 'monitoring'?"
>>> merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}})
{'a': {'b': 1, 'c': 3}}
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel

__all__ = ["known_keys", "merge", "unknown_key"]


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``, mapping by mapping (neither is modified)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def unknown_key(key: str, known: list[str]) -> str:
    """The problem of a key no schema knows, naming the closest known one (a typo is the usual
    cause: ``monitorng`` for ``monitoring``)."""
    import difflib

    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
    return f"unknown key {key!r}{hint}"


def known_keys(model: type[BaseModel], location: tuple[Any, ...]) -> list[str]:
    """The keys the section at ``location`` of ``model`` takes (its fields and their aliases)."""
    current: Any = model
    for part in location:
        field = getattr(current, "model_fields", {}).get(str(part))
        if field is None:
            return []
        kinds = [field.annotation, *typing.get_args(field.annotation)]
        current = next((k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)), None)
        if current is None:
            return []
    names = []
    for name, field in current.model_fields.items():
        names.append(field.alias or name)
    return sorted(names)
