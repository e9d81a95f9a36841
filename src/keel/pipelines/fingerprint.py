"""Content fingerprints of step inputs: equal values give equal fingerprints across processes.

A step's cache key is the hash of its code and of its inputs' fingerprints, so the same
training window and parameters find the model trained before instead of training again.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _hashlib import HASH

__all__ = ["describe", "fingerprint"]


def fingerprint(value: Any) -> str:
    """A SHA-256 of the value's content (DataFrames and arrays by their data, not identity)."""
    digest = hashlib.sha256()
    _feed(digest, value)
    return digest.hexdigest()


def _feed(digest: HASH, value: Any) -> None:
    import numpy as np
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        digest.update(f"frame{len(value)}".encode())
        digest.update(json.dumps([str(c) for c in value.columns]).encode())
        digest.update(json.dumps([str(t) for t in value.dtypes]).encode())
        digest.update(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
    elif isinstance(value, pd.Series):
        digest.update(f"series{len(value)}".encode())
        digest.update(json.dumps([str(value.name), str(value.dtype)]).encode())
        digest.update(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
    elif isinstance(value, np.ndarray) and value.dtype != object:
        digest.update(b"array" + str(value.dtype).encode() + str(value.shape).encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (str, int, float, bool, type(None))):
        # ended by a byte JSON never holds unescaped, so [1, 23] and [12, 3] differ
        digest.update(json.dumps(value).encode() + b"\0")
    elif isinstance(value, (list, tuple)):
        digest.update(f"seq{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    elif isinstance(value, dict):
        digest.update(f"map{len(value)}".encode())
        for key in sorted(value, key=lambda k: (str(k), type(k).__name__)):
            _feed(digest, key)  # delimited like any value, so {"a1": 2} and {"a": 12} differ
            _feed(digest, value[key])
    elif isinstance(value, (set, frozenset)):
        # by the items' fingerprints, sorted: a set's iteration (and pickled) order follows the
        # process's string hash seed, so it would differ between processes
        digest.update(f"set{len(value)}".encode())
        for item in sorted(fingerprint(item) for item in value):
            digest.update(item.encode())
    else:  # a model or any other object: its pickled state
        import cloudpickle

        state = cloudpickle.dumps(value)
        digest.update(f"object{len(state)}".encode() + state)


def describe(value: Any) -> dict[str, Any]:
    """A short, JSON-ready description of a value for the lineage record."""
    import numpy as np
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return {"type": "DataFrame", "rows": len(value), "columns": len(value.columns)}
    if isinstance(value, np.ndarray):
        return {"type": "ndarray", "shape": list(value.shape)}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return {"type": type(value).__name__, "value": value}
    if isinstance(value, dict):
        small = {str(k): v for k, v in value.items() if _scalar(v)}
        return {"type": "dict", "keys": sorted(str(k) for k in value)[:20], "values": small}
    if isinstance(value, (list, tuple)):
        return {"type": type(value).__name__, "length": len(value)}
    kind = type(value)
    named: dict[str, Any] = {"type": f"{kind.__module__}.{kind.__qualname__}"}
    as_dict = getattr(value, "to_dict", None)
    if callable(as_dict):  # a typed step output says what it holds
        fields = as_dict()
        if isinstance(fields, dict):
            named["values"] = {str(k): v for k, v in fields.items() if _scalar(v)}
    return named


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None
