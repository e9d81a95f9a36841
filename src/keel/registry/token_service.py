"""``Tokens``: the service that owns the API tokens the HTTP doors check, over one ``Stores``.

A token is shown once, when it is created; the store keeps only its hash. Creating and revoking
are audited with ``stores.actor``, so `keel audit verify` can replay who may do what.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel.registry.tokens import TokenRecord

if TYPE_CHECKING:
    from keel.stores import Stores

__all__ = ["Tokens"]


class Tokens:
    """API tokens of the roles ``predict`` < ``deploy`` < ``admin``."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    def create_token(self, role: str, name: str = "") -> tuple[str, TokenRecord]:
        """A new token of ``role``: the token itself (shown this once) and its record."""
        from keel.registry import tokens

        return tokens.create(self.stores.db, self.stores.actor, role, name)

    def list_tokens(self) -> list[TokenRecord]:
        """Every token's record, revoked ones included (never the token itself)."""
        from keel.registry import tokens

        return tokens.list_all(self.stores.db)

    def revoke_token(self, prefix: str) -> TokenRecord:
        """Revoke the token with ``prefix``; servers refuse it once their cache expires."""
        from keel.registry import tokens

        return tokens.revoke(self.stores.db, self.stores.actor, prefix)
