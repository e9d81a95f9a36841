"""Reading a model from a file a person hands over (``keel models register NAME PATH``).

The file's flavour comes from its ending (``.skops``, ``.txt`` LightGBM model text, ``.ubj``
XGBoost, ``.cbm`` CatBoost, ``.onnx``, ``.pkl`` pickles). A skops file is checked against the
trust before anything is built from it; a native file is read by its framework; a pickle runs code
while loading, so it is opened only when the caller trusts its code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keel.domain.trust import TrustRequest
from keel.errors import InvalidInput, UntrustedArtifact
from keel.registry import flavours, serialization
from keel.store.artifacts import sha256_hex


def read_model_file(path: str | Path, trust: TrustRequest) -> tuple[Any, str]:
    """The model in ``path`` and its format, loaded only as far as ``trust`` allows."""
    file = Path(path)
    flavour = flavours.by_suffix(str(file))
    if not file.is_file():
        raise InvalidInput("path", f"{file} is not a file")
    data = file.read_bytes()
    if flavour.format in (serialization.SKOPS, serialization.CLOUDPICKLE):
        model = serialization.load(
            data, flavour.format, sha256=sha256_hex(data), trust=trust, ref=None
        )
    else:
        try:
            model = flavour.read_file(data)
        except UntrustedArtifact as refused:
            raise serialization.with_hash(refused, sha256_hex(data)) from None
    return model, flavour.format
