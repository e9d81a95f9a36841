"""A scikit-learn Pipeline that ends in an LGBMClassifier, kept with skops: the LightGBM wrapper
and its booster are reviewed types, so neither registration, gate nor server needs a trust."""

from __future__ import annotations

from tests.conformance.flavour_case import FlavourCase, Trained, fit_frame
from tests.conformance.flavours.prepare import columns
from tests.conformance.tables import Table


def train(table: Table) -> Trained:
    from lightgbm import LGBMClassifier
    from sklearn.pipeline import Pipeline

    model = Pipeline(
        [
            ("prepare", columns(list(table.categorical), table.numeric, scale=False)),
            (
                "classify",
                LGBMClassifier(n_estimators=20, num_leaves=15, random_state=0, verbose=-1),
            ),
        ]
    )
    return Trained(model.fit(*fit_frame(table)))


CASE = FlavourCase("sklearn-lightgbm", flavour="sklearn", native_class="Pipeline", train=train)
