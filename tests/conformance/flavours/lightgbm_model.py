"""LightGBM: an LGBMClassifier trained on the pandas ``category`` columns themselves (LightGBM's
own categorical splits), kept in LightGBM's model text."""

from __future__ import annotations

from tests.conformance.flavour_case import FlavourCase, Trained, fit_frame
from tests.conformance.tables import Table


def train(table: Table) -> Trained:
    from lightgbm import LGBMClassifier

    model = LGBMClassifier(
        n_estimators=20, num_leaves=15, min_child_samples=10, random_state=0, verbose=-1
    )
    return Trained(model.fit(*fit_frame(table)))


CASE = FlavourCase("lightgbm", flavour="lightgbm", native_class="LGBMClassifier", train=train)
