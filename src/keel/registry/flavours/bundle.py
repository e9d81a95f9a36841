"""The artifact of a native flavour: the framework's own file beside a small JSON description.

A LightGBM model text or an XGBoost UBJSON file holds the trees but not the scikit-learn wrapper
around them (its class labels, its constructor arguments), which a faithful ``predict`` and a
refit need. So the artifact is a zip of two members: the framework's file, unchanged (unzip it
and LightGBM, XGBoost, CatBoost or onnxruntime read it directly), and ``keel-flavour.json``.
Reading checks the members by name and size before anything is decompressed, so a crafted zip
cannot name other files or expand without bound; the zip is written with a fixed timestamp, so
the same model gives the same bytes (and one content-addressed artifact).
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from typing import Any

from keel.errors import InvalidInput
from keel.registry.flavours.base import dumps_json, loads_json

log = logging.getLogger("keel.registry")

META = "keel-flavour.json"
#: a member larger than this (uncompressed) is refused before it is read
MAX_MEMBER_BYTES = 4 * 1024**3
#: the description is small; anything larger is not ours
MAX_META_BYTES = 16 * 1024 * 1024
_EPOCH = (1980, 1, 1, 0, 0, 0)


def write(flavour: str, member: str, payload: bytes, meta: dict[str, Any]) -> bytes:
    """The artifact: ``payload`` stored as ``member`` and the description ``meta``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in ((META, dumps_json({**meta, "flavour": flavour})), (member, payload)):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


def read(data: bytes, flavour: str, member: str) -> tuple[dict[str, Any], bytes]:
    """The description and the framework's file; InvalidInput for anything else."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InvalidInput("model", f"not a {flavour} artifact (not a zip): {exc}") from exc
    with archive:
        infos = {info.filename: info for info in archive.infolist()}
        if set(infos) != {META, member}:
            raise InvalidInput(
                "model",
                f"a {flavour} artifact holds exactly {META} and {member}, not {sorted(infos)}",
            )
        if infos[META].file_size > MAX_META_BYTES or infos[member].file_size > MAX_MEMBER_BYTES:
            raise InvalidInput("model", f"a member of the {flavour} artifact is too large")
        try:
            meta = loads_json(archive.read(META), META)
            payload = archive.read(member)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
            # a corrupt or truncated member, an encrypted one, an unknown compression
            raise InvalidInput("model", f"the {flavour} artifact cannot be read: {exc}") from exc
    if meta.get("flavour") != flavour:
        raise InvalidInput(
            "model", f"the artifact says it is {meta.get('flavour')!r}, not {flavour}"
        )
    return meta, payload


def wrapper_of(meta: dict[str, Any], allowed: frozenset[str], flavour: str) -> str:
    """The wrapper class the description names, only if it is one of ``allowed`` (a class is
    never imported by a name read from a file)."""
    wrapper = meta.get("wrapper")
    if wrapper not in allowed:
        raise InvalidInput(
            "model", f"the {flavour} artifact names wrapper {wrapper!r}; known: {sorted(allowed)}"
        )
    return str(wrapper)


#: parameters that name files, folders or other machines: an artifact's parameters reach the
#: estimator a retrain fits, which must not read or write the server's files or talk to hosts a
#: file chose (LightGBM's ``machines`` and ``forcedsplits_filename``, CatBoost's ``train_dir``)
_OUTSIDE_WORLD = re.compile(
    r"_file$|filename|_dir$|_borders$|^machines$|machine_list|num_machines|listen_port"
    r"|^output_|^input_model$|snapshot|socket|host|url|tracker|^data$|^valid$|callback",
    re.IGNORECASE,
)


def params_of(meta: dict[str, Any], flavour: str) -> dict[str, Any]:
    """The constructor arguments the description gives, without any that reach outside the
    process (see ``_OUTSIDE_WORLD``)."""
    params = meta.get("params", {})
    if not isinstance(params, dict):
        raise InvalidInput("model", f"the {flavour} artifact's params are not a mapping")
    dropped = sorted(k for k in params if _OUTSIDE_WORLD.search(str(k)))
    if dropped:
        log.warning("%s artifact: parameters left out (files, hosts): %s", flavour, dropped)
    return {k: v for k, v in params.items() if k not in dropped}
