"""Names of models, aliases and snapshots, and the ``models:/`` URIs that point at versions.

Names are restricted so they are safe in URLs, file paths and shell commands alike:

>>> parse_model_ref("models:/fraud@champion")
ModelRef(name='fraud', version=None, alias='champion', latest=False)
>>> parse_model_ref("fraud/3")
ModelRef(name='fraud', version=3, alias=None, latest=False)

A bare name (``models:/fraud``) means the champion, never "whatever was registered last": a
version registered a minute ago must not be loaded or served by accident. The newest ready
version is asked for by name, ``models:/fraud@latest``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from keel.errors import InvalidInput

#: the name and alias rules as JSON Schema patterns (OpenAPI, pydantic), where "$" ends the text
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
ALIAS_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"
# \Z, not $: Python's "$" also matches before a trailing newline, letting "name\n" through
_NAME = re.compile(NAME_PATTERN.removesuffix("$") + r"\Z")
_ALIAS = re.compile(ALIAS_PATTERN.removesuffix("$") + r"\Z")
#: the alias a bare ``models:/NAME`` resolves to
CHAMPION = "champion"
_REF = re.compile(r"^(?:models:/)?(?P<name>[^/@]+)(?:/(?P<version>[^/@]+)|@(?P<alias>[^/@]+))?$")


def validate_name(value: str, field: str = "name") -> str:
    """Return ``value`` if it is a valid model or snapshot name, else raise InvalidInput."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidInput(
            field,
            f"{value!r} is not a valid name: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
        )
    return value


def validate_alias(value: str, field: str = "alias") -> str:
    """Return ``value`` if it is a valid alias; aliases may not look like version numbers."""
    if not isinstance(value, str) or not _ALIAS.match(value):
        raise InvalidInput(
            field,
            f"{value!r} is not a valid alias: use 1-64 letters, digits, '_' or '-', "
            "starting with a letter",
        )
    if value.lower() == "latest":
        raise InvalidInput(field, "'latest' is reserved: it always means the newest version")
    return value


#: the largest version number the store's INTEGER columns hold
MAX_VERSION = 2**31 - 1


def validate_version(value: object, field: str = "version") -> int:
    """Versions are positive integers; accept ints and their decimal strings."""
    if isinstance(value, bool):
        raise InvalidInput(field, f"{value!r} is not a version number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        number = int(value)
    else:
        raise InvalidInput(field, f"{value!r} is not a version number (1, 2, 3, ...)")
    if number < 1:
        raise InvalidInput(field, f"version numbers start at 1, got {number}")
    if number > MAX_VERSION:
        raise InvalidInput(field, f"{number} is larger than any version number ({MAX_VERSION})")
    return number


@dataclass(frozen=True)
class ModelRef:
    """A pointer to one model version: by number, by alias, the newest ready one (``latest``),
    or (none of these) the champion."""

    name: str
    version: int | None = None
    alias: str | None = None
    latest: bool = False

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}/{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        if self.latest:
            return f"{self.name}@latest"
        return self.name


def parse_model_ref(text: str, field: str = "model") -> ModelRef:
    """Parse ``models:/NAME/VERSION``, ``models:/NAME@ALIAS``, ``NAME/VERSION``, ``NAME@ALIAS``,
    ``NAME@latest`` (the newest ready version) or ``NAME`` (the champion)."""
    if not isinstance(text, str):
        raise InvalidInput(field, f"{text!r} is not a model reference")
    match = _REF.match(text.strip())
    if not match:
        raise InvalidInput(
            field,
            f"{text!r} is not a model reference: use NAME (its champion), NAME/VERSION, "
            "NAME@ALIAS or models:/NAME/VERSION",
        )
    name = validate_name(match["name"], field)
    if match["version"] is not None:
        if match["version"] == "latest":
            return ModelRef(name, latest=True)
        return ModelRef(name, version=validate_version(match["version"], field))
    if match["alias"] is not None:
        alias = match["alias"]
        if alias == "latest":
            return ModelRef(name, latest=True)
        return ModelRef(name, alias=validate_alias(alias, field))
    return ModelRef(name)


@dataclass(frozen=True)
class SnapshotRef:
    """A pointer to a data snapshot: ``NAME`` (newest), ``NAME/VERSION`` or a content hash."""

    name: str | None = None
    version: int | None = None
    sha256_prefix: str | None = None


_HEX = re.compile(r"^(?:sha256:)?([0-9a-f]{8,64})\Z")


def parse_snapshot_ref(text: str, field: str = "snapshot") -> SnapshotRef:
    """Parse ``NAME``, ``NAME/VERSION``, ``datasets:/NAME/VERSION`` or ``sha256:HEX``."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(field, f"{text!r} is not a snapshot reference")
    text = text.strip()
    if text.startswith("datasets:/"):
        text = text[len("datasets:/") :]
    if text.startswith("sha256:"):
        hexed = _HEX.match(text)
        if not hexed:
            raise InvalidInput(field, f"{text!r} is not a SHA-256 prefix (8-64 hex digits)")
        return SnapshotRef(sha256_prefix=hexed[1])
    name, _, version = text.partition("/")
    validate_name(name, field)
    if version:
        return SnapshotRef(name=name, version=validate_version(version, field))
    return SnapshotRef(name=name)
