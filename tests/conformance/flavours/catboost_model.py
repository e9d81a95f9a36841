"""CatBoost: a CatBoostClassifier with ``cat_features`` (CatBoost's own category statistics),
kept in CatBoost's ``.cbm``."""

from __future__ import annotations

from tests.conformance.flavour_case import FlavourCase, Trained, fit_frame
from tests.conformance.tables import Table


def train(table: Table) -> Trained:
    from catboost import CatBoostClassifier

    model = CatBoostClassifier(
        iterations=20,
        depth=4,
        cat_features=list(table.categorical),
        allow_writing_files=False,
        random_seed=0,
        thread_count=2,
        verbose=False,
    )
    return Trained(model.fit(*fit_frame(table)))


CASE = FlavourCase(
    "catboost",
    flavour="catboost",
    native_class="CatBoostClassifier",
    train=train,
    categories_as_labels=True,
)
