"""What a flavour case is: how to train the native object on a table, and what Keel should make
of it (the flavour it detects, the class it loads, how close its predictions must be).

A case module builds one ``FlavourCase``; ``tests.conformance.cases.FLAVOURS`` lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.conformance.tables import Table


@dataclass(frozen=True)
class Trained:
    """The native object to register and, for a model converted here, the object it came from
    (its predictions are compared with the converted one's within the case's tolerance)."""

    model: Any
    source: Any = None


@dataclass(frozen=True)
class FlavourCase:
    #: the case's id in test names
    name: str
    #: what ``version.flavour`` must say
    flavour: str
    #: the class name of ``load_model(...).model``
    native_class: str
    #: trains the native object on ``table.train`` (typed frame, target column)
    train: Callable[[Table], Trained]
    #: ``register_model(trust=...)``: "code" for pickled custom classes
    trust: str | None = None
    #: ``retraining.trainer`` for a flavour the default pipeline cannot refit by itself
    trainer: str | None = None
    #: registered as trained, then converted by ``keel models convert --to CONVERT``; the
    #: converted version goes round the loop and ``train``'s object is its source
    convert: str | None = None
    #: how far a converted model's probabilities may be from its source's (max abs difference)
    source_tolerance: float | None = None
    #: the framework's users give it category features as their labels (CatBoost: a pandas
    #: categorical cannot hold a value never seen in training, a label can)
    categories_as_labels: bool = False

    def __str__(self) -> str:
        return self.name


def fit_frame(table: Table) -> tuple[Any, Any]:
    """The training features (typed) and target of ``table``."""
    return table.train[table.features], table.train[table.target].to_numpy()
