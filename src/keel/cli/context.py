"""What every command needs: the settings from the global options, and a client built once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from keel.client import Client

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
ReasonOption = Annotated[str, typer.Option("--reason", "-r", help="Why; goes to the audit trail.")]


@dataclass
class Faces:
    store_url: str | None = None
    artifacts: str | None = None
    actor: str | None = None
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        if self._client is None:
            from keel.client import Client

            self._client = Client(self.store_url, self.artifacts, actor=self.actor)
        return self._client


def client_of(ctx: typer.Context) -> Client:
    faces = ctx.find_root().obj
    if not isinstance(faces, Faces):
        faces = Faces()
        ctx.find_root().obj = faces
    return faces.client()
