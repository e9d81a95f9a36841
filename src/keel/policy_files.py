"""Finding a model's policy on disk: ``policies/NAME.yaml``, else ``models: {NAME: ...}`` in
``keel.yaml``. Read at the edge (CLI, server start-up); library code receives a ``Policy``.
"""

from __future__ import annotations

from pathlib import Path

from keel.domain.policy import Policy
from keel.errors import InvalidInput
from keel.settings import load_yaml


def read_policy_file(path: Path, model: str | None = None) -> Policy:
    """Parse one policy file (a model's own file, or keel.yaml with ``model`` given)."""
    data = load_yaml(path)
    if model is not None and path.name == "keel.yaml":
        section = (data or {}).get("models", {}) if isinstance(data, dict) else {}
        if not isinstance(section, dict) or model not in section:
            raise InvalidInput(str(path), f"has no policy for model {model!r} under models:")
        return Policy.parse(section[model], f"{path}: models.{model}")
    if not isinstance(data, dict):
        raise InvalidInput(str(path), "must hold a mapping (risk_profile, suites, gates, ...)")
    return Policy.parse(data, str(path))


def find_policy(model: str, root: Path | None = None) -> tuple[Policy, str] | None:
    """The policy for ``model`` and the file it came from, or None when no file declares one."""
    base = root or Path.cwd()
    own = base / "policies" / f"{model}.yaml"
    if own.is_file():
        return read_policy_file(own), str(own)
    shared = base / "keel.yaml"
    if shared.is_file():
        data = load_yaml(shared)
        if (
            isinstance(data, dict)
            and isinstance(data.get("models"), dict)
            and model in data["models"]
        ):
            return read_policy_file(shared, model), f"{shared}: models.{model}"
    return None
