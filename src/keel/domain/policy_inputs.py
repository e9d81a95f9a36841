"""The inputs section of a policy: what serving does with a value the model never saw.

Serving (``keel.serving.inputs``) applies it and monitoring counts what it found, under the same
check names (``INPUT_CHECKS``); kept apart from the policy's other sections so each stays small.

>>> Inputs(out_of_range="reject").rejects("out_of_range")
True
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["INPUT_CHECKS", "Inputs"]

#: the input checks a policy can flag or reject, named as the log and monitoring name them
INPUT_CHECKS = ("out_of_range", "unseen_category")


class Inputs(BaseModel):
    """What serving does with a row whose value the model never saw in training: ``flag``
    answers it and marks it (in the answer, the prediction log and monitoring's data quality),
    ``reject`` answers no prediction for that row (it is still logged, with status
    ``rejected``). Production data drifts; by default it is served and measured, not refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    out_of_range: Literal["flag", "reject"] = "flag"
    unseen_category: Literal["flag", "reject"] = "flag"

    def rejects(self, check: str) -> bool:
        """Whether a row failing ``check`` (one of ``INPUT_CHECKS``) is rejected."""
        return bool(getattr(self, check) == "reject")
