"""What every command needs: the settings from the global options, and a client built once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer

from keel.domain.numbers import MAX_STORED_INT

if TYPE_CHECKING:
    from keel.client import Client
    from keel.settings import Settings
    from keel.stores import Stores

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
ReasonOption = Annotated[str, typer.Option("--reason", "-r", help="Why; goes to the audit trail.")]


def stored_int(value: int | None) -> int | None:
    """A click callback: a whole number from 1 up to what the store can hold (None passes)."""
    if value is not None and not 1 <= value <= MAX_STORED_INT:
        raise typer.BadParameter("must be a whole number of at least 1 (at most 2**63 - 1)")
    return value


def limit_option(*names: str, help: str = "At most this many, newest first.") -> Any:
    """A listing's ``--limit``: a whole number from 1 up to what the store can count."""
    return typer.Option(*names, help=help, callback=stored_int)


def id_argument(help: str) -> Any:
    """A stored row's id (an alert, an evaluation): a whole number the store can hold."""
    return typer.Argument(help=help, callback=stored_int)


#: a TCP port: anything outside 1-65535 is a usage error (exit 2), not a server on another port
PortOption = Annotated[
    int, typer.Option("--port", "-p", help="Port to listen on.", min=1, max=65535)
]


@dataclass
class Faces:
    store_url: str | None = None
    artifacts: str | None = None
    actor: str | None = None
    _client: Client | None = field(default=None, repr=False)

    def client(self, *, create: bool = False) -> Client:
        """The command's client. Only commands that make something new (registering a model or
        a dataset, the dashboard) pass ``create``: any other command on a store that is not
        there fails with "no store at PATH" (exit 3) instead of reading a new, empty one."""
        if self._client is None:
            from keel.client import Client

            self._client = Client(self.store_url, self.artifacts, actor=self.actor, create=create)
            announce_creation(self._client.stores)
        return self._client


def client_of(ctx: typer.Context, *, create: bool = False) -> Client:
    faces = ctx.find_root().obj
    if not isinstance(faces, Faces):
        faces = Faces()
        ctx.find_root().obj = faces
    return faces.client(create=create)


def announce_creation(stores: Stores) -> None:
    """Say on stderr (stdout may be JSON for a script) what this command created."""
    from keel.cli.output import errors

    made = [f"a new store at {stores.db.safe_url}"] if stores.db.created else []
    if stores.artifacts.created:
        made.append(f"the artifact folder {stores.artifacts.url}")
    if made:
        errors.print(f"created {' and '.join(made)}", markup=False)


def open_store(settings: Settings, *, create: bool) -> None:
    """Check (or, with ``create``, make and announce) the store in ``settings`` before a server
    starts on it; StoreNotFound when it is not there and may not be created."""
    from keel.stores import Stores

    stores = Stores.open(settings, create=create)
    try:
        announce_creation(stores)
    finally:
        stores.close()
