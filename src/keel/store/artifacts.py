"""Content-addressed artifact storage on any fsspec file system.

An artifact is stored once under its SHA-256 (``<root>/sha256/ab/abcdef...``), never modified, and
verified against that hash whenever it is read, so ``file://``, ``memory://`` and ``s3://`` behave
the same and a corrupted or swapped file is caught before it is loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from keel.errors import (
    ArtifactCorrupted,
    InvalidInput,
    NotFound,
    StoreNotFound,
    StoreUnavailable,
)

_CHUNK = 1 << 20  # hashing a large artifact reads a megabyte at a time


class ArtifactStore(Protocol):
    """What the registry needs from an artifact back end."""

    url: str

    def put(self, data: bytes) -> str:
        """Store ``data`` (once) and return its SHA-256."""
        ...

    def get(self, sha256: str) -> bytes:
        """Return the bytes stored under ``sha256``, verified."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def digest(self, sha256: str, on_read: Callable[[int], None] | None = None) -> str:
        """The SHA-256 of the bytes stored under ``sha256``, read in chunks (``on_read`` gets
        each chunk's size); NotFound when there are none."""
        ...

    def location(self, sha256: str) -> str: ...

    def close(self) -> None: ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FsspecArtifactStore:
    """The artifact store on an fsspec URL: a local folder, ``memory://`` or ``s3://bucket/prefix``.

    ``storage_options`` go to fsspec unchanged (for example ``endpoint_url`` for S3-compatible
    servers).
    """

    def __init__(self, url: str, *, create: bool = True, **storage_options: Any) -> None:
        """``create=False`` refuses a local folder that does not exist (StoreNotFound) instead
        of making it; ``created`` says whether this call made it."""
        import fsspec

        if not isinstance(url, str) or not url.strip():
            raise InvalidInput("artifacts", "the artifact root must be a path or fsspec URL")
        try:
            self.fs, root = fsspec.core.url_to_fs(url, **storage_options)
        except (ImportError, ValueError) as exc:
            raise InvalidInput("artifacts", f"{url!r} cannot be opened: {exc}") from exc
        self.url = url
        self.root = root.rstrip("/")
        self._local = "file" in _protocols(self.fs)
        self.created = False
        if self._local and not self.fs.isdir(self.root):
            if not create:
                from keel.store.database import NO_STORE_HINT

                raise StoreNotFound(self.root, what="artifact store", hint=NO_STORE_HINT)
            self.fs.makedirs(self.root, exist_ok=True)
            self.created = True

    def _path(self, sha256: str) -> str:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise InvalidInput("sha256", f"{sha256!r} is not a SHA-256 hex digest")
        return f"{self.root}/sha256/{sha256[:2]}/{sha256}"

    def location(self, sha256: str) -> str:
        path = self._path(sha256)
        return path if self._local else self.fs.unstrip_protocol(path)

    def put(self, data: bytes) -> str:
        digest = sha256_hex(data)
        path = self._path(digest)
        try:
            if self.fs.exists(path):
                return digest
            if self._local:
                # write beside the target, then rename: a crash never leaves a partial artifact
                self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
                temporary = f"{path}.{uuid.uuid4().hex}.partial"
                with open(temporary, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    _fsync(handle)
                self.fs.mv(temporary, path)
            else:
                self.fs.pipe_file(path, data)  # object stores publish a whole object or nothing
        except OSError as exc:
            raise StoreUnavailable(
                f"could not write artifact {digest[:12]} to {self.url}: {exc}", url=self.url
            ) from exc
        return digest

    def get(self, sha256: str) -> bytes:
        with self._reading(sha256):
            data: bytes = self.fs.cat_file(self._path(sha256))
        actual = sha256_hex(data)
        if actual != sha256:
            raise ArtifactCorrupted(sha256, actual, self.location(sha256))
        return data

    def exists(self, sha256: str) -> bool:
        return bool(self.fs.exists(self._path(sha256)))

    def digest(self, sha256: str, on_read: Callable[[int], None] | None = None) -> str:
        hasher = hashlib.sha256()
        with self._reading(sha256), self.fs.open(self._path(sha256), "rb") as handle:
            while chunk := handle.read(_CHUNK):
                hasher.update(chunk)
                if on_read is not None:
                    on_read(len(chunk))
        return hasher.hexdigest()

    @contextlib.contextmanager
    def _reading(self, sha256: str) -> Iterator[None]:
        """fsspec's errors while reading an artifact, as Keel's: missing or unreachable."""
        try:
            yield
        except FileNotFoundError as exc:
            raise NotFound("artifact", sha256, hint=f"expected at {self.location(sha256)}") from exc
        except OSError as exc:
            raise StoreUnavailable(
                f"could not read artifact {sha256[:12]} from {self.url}: {exc}", url=self.url
            ) from exc

    def close(self) -> None:
        """fsspec file systems hold no resources that need closing here."""


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _fsync(handle: Any) -> None:
    import os

    os.fsync(handle.fileno())
