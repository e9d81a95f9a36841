"""What the retraining pipeline's ``training_window`` step hands the steps after it: a plain
dict (so runs stored before this type read back the same), typed so each part has its type."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ChosenSetup", "TrainingWindow"]


class TrainingWindow(TypedDict):
    """The rows a retrain trains on and the newest ones it keeps back for the gates."""

    #: the rows the candidate is fit on, with the champion's training types
    train: pd.DataFrame
    #: the newest share of the labelled production rows, kept back for the gates
    holdout: pd.DataFrame
    #: the label column
    target: str
    #: the champion's input features, in its signature's order
    features: list[str]
    #: how many of ``train`` are labelled production rows, and how many the snapshot added
    recent_rows: int
    snapshot_rows: int
    holdout_rows: int


class ChosenSetup(TypedDict):
    """What the ``setup`` step hands on: the choice as JSON (None when the retrain did not
    choose) and the winner fit on the rows before the validation share (None likewise)."""

    selection: dict[str, Any] | None
    model: Any
