"""scikit-learn: a Pipeline of a ColumnTransformer (one-hot categories) and histogram gradient
boosting, kept with skops (its TreePredictor is a reviewed type)."""

from __future__ import annotations

from tests.conformance.flavour_case import FlavourCase, Trained, fit_frame
from tests.conformance.flavours.prepare import columns
from tests.conformance.tables import Table


def train(table: Table) -> Trained:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    model = Pipeline(
        [
            ("prepare", columns(list(table.categorical), table.numeric, scale=False)),
            ("classify", HistGradientBoostingClassifier(max_iter=20, random_state=0)),
        ]
    )
    return Trained(model.fit(*fit_frame(table)))


CASE = FlavourCase("sklearn", flavour="sklearn", native_class="Pipeline", train=train)
