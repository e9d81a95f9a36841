"""Where a model came from: the git commit of the code and the packages it ran with.

Package versions are read from modules already imported (never by resolving requirements), which
is what makes registering a version take milliseconds rather than seconds.
"""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any


@functools.lru_cache(maxsize=1)
def _module_to_distributions() -> dict[str, list[str]]:
    return dict(metadata.packages_distributions())


@functools.lru_cache(maxsize=4096)
def _distribution_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    """Python version, platform, and the versions of every imported third-party distribution."""
    mapping = _module_to_distributions()
    tops = {name.partition(".")[0] for name in list(sys.modules)}
    packages: dict[str, str] = {}
    for top in tops:
        for dist in mapping.get(top, ()):
            version = _distribution_version(dist)
            if version is not None:
                packages[dist] = version
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": sys.platform,
        "packages": dict(sorted(packages.items())),
    }


@functools.lru_cache(maxsize=16)
def _git_toplevel(start: str) -> str | None:
    for folder in (Path(start), *Path(start).parents):
        if (folder / ".git").exists():
            return str(folder)
    return None


def _git(top: str, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", top, *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.lru_cache(maxsize=16)
def _code_version_cached(top: str) -> dict[str, Any]:
    commit = _git(top, "rev-parse", "HEAD")
    if commit is None:
        return {"repository": top}
    status = _git(top, "status", "--porcelain", "--untracked-files=no")
    branch = _git(top, "rev-parse", "--abbrev-ref", "HEAD")
    return {
        "commit": commit,
        "dirty": bool(status) if status is not None else None,
        "branch": branch,
        "repository": top,
    }


def code_version(start: str | None = None) -> dict[str, Any]:
    """The git commit and dirty flag of the work tree holding ``start`` (the current folder).

    Read once per process and folder: a training process records the code it started with.
    """
    top = _git_toplevel(str(Path(start or Path.cwd()).resolve()))
    if top is None:
        return {}
    return dict(_code_version_cached(top))
