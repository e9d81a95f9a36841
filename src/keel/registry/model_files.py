"""Reading a model from a file a person hands over (``keel models register NAME PATH``).

The file's kind comes from its name: ``.skops`` files are checked against the trust before
anything is built from them; pickles (``.pkl``, ``.pickle``, ``.cloudpickle``) run code while
loading, so they are opened only when the caller trusts their code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keel.domain.trust import TrustRequest
from keel.errors import InvalidInput
from keel.registry import serialization
from keel.store.artifacts import sha256_hex

#: file endings and the format each is read as
SUFFIXES = {
    ".skops": serialization.SKOPS,
    ".pkl": serialization.CLOUDPICKLE,
    ".pickle": serialization.CLOUDPICKLE,
    ".cloudpickle": serialization.CLOUDPICKLE,
}


def read_model_file(path: str | Path, trust: TrustRequest) -> tuple[Any, str]:
    """The model in ``path`` and its format, loaded only as far as ``trust`` allows."""
    file = Path(path)
    format = SUFFIXES.get(file.suffix.lower())
    if format is None:
        raise InvalidInput(
            "path", f"{file.name}: expected one of {', '.join(sorted(SUFFIXES))} as its ending"
        )
    if not file.is_file():
        raise InvalidInput("path", f"{file} is not a file")
    data = file.read_bytes()
    model = serialization.load(data, format, sha256=sha256_hex(data), trust=trust, ref=None)
    return model, format
