"""The request bodies and path fields both HTTP doors take (the management API under
``/v1/manage`` and the dashboard's actions under ``/ui/api``): one definition, so a promotion or
an alias move is validated alike whichever door it comes through."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, Field

from keel.domain.names import ALIAS_PATTERN, MAX_VERSION

__all__ = ["AliasName", "AliasRequest", "PromoteRequest", "Reason", "ReasonRequest", "Version"]

Reason = Annotated[str, Field(min_length=1, max_length=2000, description="Why; audited.")]
AliasName = Annotated[
    str, Path(pattern=ALIAS_PATTERN, description="An alias ('latest' is reserved).")
]
Version = Annotated[int, Field(ge=1, le=MAX_VERSION)]


class PromoteRequest(BaseModel):
    version: Version
    reason: Reason
    force: bool = Field(False, description="Promote past the model's gates (role admin).")


class AliasRequest(BaseModel):
    version: Version
    reason: Reason
    force: bool = Field(False, description="Move the champion past the model's gates (admin).")


class ReasonRequest(BaseModel):
    reason: Reason
