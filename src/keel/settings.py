"""Keel's one settings object, read at the edge (CLI, server start-up, the default client).

Precedence: explicit arguments, then ``KEEL_*`` environment variables, then ``keel.yaml`` in the
working folder, then the defaults, which need nothing: ``sqlite:///.keel/keel.db`` and
``.keel/artifacts``.

The audit checkpoint key (``KEEL_AUDIT_KEY``) is read here and only here; it is never taken
from ``keel.yaml``, which usually sits beside the store it is meant to protect.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from keel.errors import InvalidInput

DEFAULT_STORE = "sqlite:///.keel/keel.db"
DEFAULT_ARTIFACTS = ".keel/artifacts"
_ENV = {
    "store_url": "KEEL_STORE_URL",
    "artifacts": "KEEL_ARTIFACTS",
    "actor": "KEEL_USER",
    "audit_key": "KEEL_AUDIT_KEY",
    "audit_dir": "KEEL_AUDIT_DIR",
    "retrain_heartbeat_s": "KEEL_RETRAIN_HEARTBEAT_S",
    "retrain_heartbeat_misses": "KEEL_RETRAIN_HEARTBEAT_MISSES",
}


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def default_audit_dir() -> str:
    """Where the audit key and checkpoints live unless told otherwise: the user's configuration
    folder (``$XDG_CONFIG_HOME/keel``, else ``~/.config/keel``), outside any store."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return str(Path(base) / "keel")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: a process driving a retrain renews its lease this often; the lease lapses after
    #: ``retrain_heartbeat_misses`` beats without one, and another process may take it over
    retrain_heartbeat_s: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    retrain_heartbeat_misses: int = Field(default=3, ge=2)
    store_url: str = Field(DEFAULT_STORE, min_length=1)
    artifacts: str = Field(DEFAULT_ARTIFACTS, min_length=1)
    actor: str = Field(default_factory=_default_actor, min_length=1, max_length=256)
    artifact_options: dict[str, Any] = Field(default_factory=dict)
    #: the key of the audit checkpoints (HMAC-SHA256); without it a key file in ``audit_dir``
    #: is used, created on first use
    audit_key: SecretStr | None = None
    #: the folder of the key file and the checkpoints: outside the store, so that whoever can
    #: only write the database cannot roll a checkpoint back
    audit_dir: str = Field(default_factory=default_audit_dir, min_length=1)

    @field_validator("audit_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @classmethod
    def load(
        cls,
        *,
        environ: Mapping[str, str] | None = None,
        config_file: str | Path | None = "keel.yaml",
        **overrides: Any,
    ) -> Settings:
        """Merge the sources in precedence order; ``None`` overrides are ignored."""
        values: dict[str, Any] = {}
        if config_file is not None and Path(config_file).is_file():
            values.update(_read_yaml(Path(config_file)))
        env = os.environ if environ is None else environ
        for field, variable in _ENV.items():
            if env.get(variable):
                values[field] = env[variable]
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "settings"
            raise InvalidInput(where, first["msg"]) from exc


def load_yaml(path: Path) -> Any:
    """Parse a YAML file; a syntax error becomes one InvalidInput line naming where it is, and
    so does a file that is not UTF-8 text or cannot be read (a folder, a name too long)."""
    import yaml

    from keel.errors import NotFound

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise NotFound("file", str(path)) from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            str(path), f"is not a UTF-8 text file (byte {exc.start} cannot be read)"
        ) from exc
    except OSError as exc:
        raise InvalidInput(str(path), f"cannot be read: {exc.strerror or exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidInput(str(path), f"is not valid YAML{where}: {problem}") from exc


#: what keel.yaml may hold: each section and the keys it takes (None: any, such as the models'
#: policies under ``models``, which ``keel.policy_files`` checks)
_YAML_KEYS: dict[str, frozenset[str] | None] = {
    "store": frozenset({"url", "artifacts", "artifact_options"}),
    "user": None,
    "audit": frozenset({"dir", "key"}),
    "models": None,
}


def _refuse_unknown_keys(path: Path, data: dict[str, Any]) -> None:
    """A misspelt key must not silently leave a setting at its default (``stroe:`` would use
    ./.keel): each unknown key is refused, naming the closest known one."""
    from keel.domain.policy import unknown_key

    for key, value in data.items():
        if key not in _YAML_KEYS:
            raise InvalidInput(f"{path}: {key}", unknown_key(str(key), sorted(_YAML_KEYS)))
        known = _YAML_KEYS[key]
        if known is not None and isinstance(value, dict):
            for inner in value:
                if inner not in known:
                    raise InvalidInput(
                        f"{path}: {key}.{inner}", unknown_key(str(inner), sorted(known))
                    )


def _read_yaml(path: Path) -> dict[str, Any]:
    data = load_yaml(path) or {}
    if not isinstance(data, dict):
        raise InvalidInput(str(path), "must hold a mapping of settings")
    _refuse_unknown_keys(path, data)
    section = data.get("store", {})
    if not isinstance(section, dict):
        raise InvalidInput(f"{path}: store", "must be a mapping (url, artifacts)")
    out: dict[str, Any] = {}
    if "url" in section:
        out["store_url"] = section["url"]
    if "artifacts" in section:
        out["artifacts"] = section["artifacts"]
    if "artifact_options" in section:
        out["artifact_options"] = section["artifact_options"]
    if "user" in data:
        out["actor"] = data["user"]
    audit = data.get("audit", {})
    if not isinstance(audit, dict):
        raise InvalidInput(f"{path}: audit", "must be a mapping (dir)")
    if "key" in audit:
        raise InvalidInput(
            f"{path}: audit.key", "the audit key is read from KEEL_AUDIT_KEY, never from a file"
        )
    if "dir" in audit:
        out["audit_dir"] = audit["dir"]
    return out
