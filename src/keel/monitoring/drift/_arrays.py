"""Compact, JSON-safe storage of NumPy arrays and floats (the reference profile is stored as JSON).

An array is kept as ``{"dtype": "<u2", "shape": [n], "delta": false, "zlib": "<base64>"}``: the
values (or, with ``delta``, their successive differences, zigzag-coded to unsigned) narrowed to
the smallest unsigned type that holds them, their bytes regrouped by significance (all low bytes,
then all high bytes: the high ones are mostly zero) and compressed with zlib. It is exact, a byte
or two per value, and empty bins cost almost nothing. Floats that are not finite become ``None``.

>>> import numpy as np
>>> packed = pack(np.array([0, 0, 7, 300, 0], dtype=np.int64), delta=True)
>>> packed["dtype"], unpack(packed).tolist()
('<u2', [0, 0, 7, 300, 0])
>>> finite(float("nan")) is None
True
"""

from __future__ import annotations

import base64
import math
import zlib
from typing import Any

import numpy as np

from keel.errors import InvalidInput

__all__ = ["finite", "pack", "unpack"]


def pack(array: np.ndarray, *, delta: bool = False) -> dict[str, Any]:
    """An exact, compact JSON-safe form of ``array`` (``delta`` suits smooth integer counts)."""
    values = np.ascontiguousarray(array)
    if delta:
        steps = np.diff(values.astype(np.int64).ravel(), prepend=0)
        values = ((steps << 1) ^ (steps >> 63)).astype(np.uint64)  # zigzag: small |d|, small code
    if values.dtype.kind in "iu" and (not values.size or values.min() >= 0):
        top = int(values.max()) if values.size else 0
        values = values.astype("<u2" if top < 2**16 else "<u4" if top < 2**32 else "<u8")
    values = values.astype(values.dtype.newbyteorder("<"), copy=False)
    planes = values.reshape(-1).view(np.uint8).reshape(-1, values.dtype.itemsize).T
    return {
        "dtype": values.dtype.str,
        "shape": list(np.shape(array)),
        "delta": delta,
        "zlib": base64.b64encode(zlib.compress(planes.tobytes(), 9)).decode("ascii"),
    }


def unpack(packed: Any, field: str = "profile") -> np.ndarray:
    """The array :func:`pack` stored; ``InvalidInput`` if ``packed`` is not such a record."""
    try:
        dtype = np.dtype(packed["dtype"])
        shape = tuple(int(n) for n in packed["shape"])
        planes = np.frombuffer(zlib.decompress(base64.b64decode(packed["zlib"])), dtype=np.uint8)
        values = planes.reshape(dtype.itemsize, -1).T.copy().view(dtype).reshape(-1)
        if packed.get("delta"):
            codes = values.astype(np.int64)
            values = np.cumsum((codes >> 1) ^ -(codes & 1))
        return values.reshape(shape)
    except (KeyError, TypeError, ValueError, zlib.error) as exc:
        raise InvalidInput(field, f"not a packed array ({exc})") from exc


def finite(value: float | None) -> float | None:
    """``value`` as a float, or ``None`` when it is missing, NaN or infinite (JSON has neither)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
