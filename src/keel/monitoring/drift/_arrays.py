"""Compact, JSON-safe storage of NumPy arrays and floats (the reference profile is stored as JSON).

An array is kept as ``{"dtype": "<u4", "shape": [n], "zlib": "<base64 of the zlib'd bytes>"}``:
exact, a few bytes per value, and zeros (empty bins) cost almost nothing. Floats that are not
finite become ``None``.

>>> import numpy as np
>>> packed = pack(np.array([0, 0, 7, 0], dtype=np.int64))
>>> packed["dtype"], unpack(packed).tolist()
('<u4', [0, 0, 7, 0])
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


def pack(array: np.ndarray) -> dict[str, Any]:
    """An exact, compact JSON-safe form of ``array`` (integer counts are narrowed first)."""
    values = np.ascontiguousarray(array)
    if values.dtype.kind in "iu" and values.dtype.itemsize > 4 and _fits_u4(values):
        values = values.astype("<u4")  # counts: 4 bytes, and zlib squeezes the zero high bytes
    values = values.astype(values.dtype.newbyteorder("<"), copy=False)
    return {
        "dtype": values.dtype.str,
        "shape": list(values.shape),
        "zlib": base64.b64encode(zlib.compress(values.tobytes(), 6)).decode("ascii"),
    }


def _fits_u4(values: np.ndarray) -> bool:
    return not values.size or (int(values.min()) >= 0 and int(values.max()) < 2**32)


def unpack(packed: Any, field: str = "profile") -> np.ndarray:
    """The array :func:`pack` stored; ``InvalidInput`` if ``packed`` is not such a record."""
    try:
        dtype = np.dtype(packed["dtype"])
        shape = tuple(int(n) for n in packed["shape"])
        raw = zlib.decompress(base64.b64decode(packed["zlib"]))
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    except (KeyError, TypeError, ValueError, zlib.error) as exc:
        raise InvalidInput(field, f"not a packed array ({exc})") from exc


def finite(value: float | None) -> float | None:
    """``value`` as a float, or ``None`` when it is missing, NaN or infinite (JSON has neither)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
