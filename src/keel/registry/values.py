"""Checking and cleaning the free-form maps users attach: params, metrics and tags."""

from __future__ import annotations

import math
from typing import Any

from keel.errors import InvalidInput


def clean_metrics(metrics: dict[str, Any] | None, field: str = "metrics") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        out[check_key(key, field)] = metric_value(value, f"{field}.{key}")
    return out


def metric_value(value: Any, field: str) -> float:
    if isinstance(value, bool) or (
        not isinstance(value, int | float) and not hasattr(value, "__float__")
    ):
        raise InvalidInput(field, f"{value!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInput(field, f"{value!r} is not a finite number")
    return number


def check_key(key: Any, field: str) -> str:
    if not isinstance(key, str) or not key or len(key) > 256:
        raise InvalidInput(
            field, f"{key!r} is not a valid key (a non-empty string up to 256 chars)"
        )
    return key


def clean_tags(tags: dict[str, Any] | None, field: str = "tags") -> dict[str, str]:
    return {check_key(k, field): str(v) for k, v in (tags or {}).items()}


def jsonable(value: Any) -> Any:
    """A JSON-safe copy of a parameter value; objects become their repr."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        try:
            return jsonable(value.item())
        except (TypeError, ValueError):
            pass
    return repr(value)


def clean_params(params: dict[str, Any] | None, field: str = "params") -> dict[str, Any]:
    return {check_key(k, field): jsonable(v) for k, v in (params or {}).items()}


def model_params(model: Any) -> dict[str, Any]:
    """Constructor arguments under their own names, as scikit-learn's ``get_params`` gives them."""
    getter = getattr(model, "get_params", None)
    if not callable(getter):
        return {}
    try:
        return clean_params(getter(deep=False))
    except TypeError:
        return clean_params(getter())
