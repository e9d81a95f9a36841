"""XGBoost: an XGBClassifier with ``enable_categorical`` on the pandas ``category`` columns,
kept in XGBoost's UBJSON."""

from __future__ import annotations

from tests.conformance.flavour_case import FlavourCase, Trained, fit_frame
from tests.conformance.tables import Table


def train(table: Table) -> Trained:
    from xgboost import XGBClassifier

    model = XGBClassifier(
        n_estimators=20,
        max_depth=4,
        tree_method="hist",
        enable_categorical=True,
        random_state=0,
        n_jobs=2,
    )
    return Trained(model.fit(*fit_frame(table)))


CASE = FlavourCase("xgboost", flavour="xgboost", native_class="XGBClassifier", train=train)
