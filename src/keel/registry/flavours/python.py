"""Custom Python models: any object with ``predict``, kept with cloudpickle.

Unpickling runs code, so such a version loads only when its code was trusted (``trust="code"``),
a decision recorded with the version and in the audit trail. What the pickle would import is read
from its opcodes without unpickling, so a refusal can name it.
"""

from __future__ import annotations

import pickle
import pickletools
from typing import Any

from keel.registry.flavours.base import Flavour


def pickle_globals(data: bytes) -> list[str]:
    """The module attributes a pickle would import and may call, read without unpickling."""
    found: set[str] = set()
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name in {"GLOBAL", "INST"} and isinstance(arg, str):
                found.add(arg.replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.add(f"{strings[-2]}.{strings[-1]}")
            if isinstance(arg, str):
                strings.append(arg)
    except Exception:  # a truncated or foreign stream: what was read so far is still true
        found.add("<unreadable pickle>")
    return sorted(found)


class PythonFlavour(Flavour):
    name = "python"
    format = "cloudpickle"
    package = "cloudpickle"
    extra = "python"
    runs_code = True
    suffixes = (".pkl", ".pickle", ".cloudpickle")

    def detects(self, model: Any) -> bool:
        return callable(getattr(model, "predict", None))

    def save(self, model: Any) -> bytes:
        import cloudpickle

        return bytes(cloudpickle.dumps(model))

    def needs_trust(self, data: bytes) -> list[str]:
        return pickle_globals(data)

    def load(self, data: bytes) -> Any:
        return pickle.loads(data)  # only ever reached with a recorded trust in code
