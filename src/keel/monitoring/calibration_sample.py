"""The held-out rows a calibrator learnt from, kept so a shifted window can be estimated with a
calibrator refitted on the same rows weighted like the window (``keel.monitoring.shift_weights``).

A reference keeps at most ``ROWS`` of them (a seeded sample): their inputs coded like the
reference profile's own sample (bin codes of numbers, positions of categories, see
``ReferenceProfile.coded``), the model's score and the label and prediction as positions in the
classes. With 25 features that is about 1 MB before compression, stored packed in the
reference's JSON.

``refits`` is what a window uses: it codes the window's inputs the same way, asks the domain
classifier for weights, and refits the calibrator with them; with no shift found it returns no
calibrator, and the stored one stands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from keel.errors import InvalidInput
from keel.monitoring.drift._arrays import pack, unpack
from keel.monitoring.drift.reference import MISSING_CODE, ReferenceProfile

if TYPE_CHECKING:
    import pandas as pd

    from keel.monitoring.estimation import Calibrator

__all__ = ["ROWS", "CalibrationSample"]

#: held-out rows a reference keeps for reweighting, at most
ROWS = 20_000


@dataclass(frozen=True, eq=False)  # holds arrays
class CalibrationSample:
    """Held-out rows: ``codes`` per feature (uint16, ``MISSING_CODE`` where missing), ``score``
    (what the calibrator maps), ``truth`` and ``prediction`` as positions in the classes."""

    codes: dict[str, np.ndarray]
    score: np.ndarray
    truth: np.ndarray
    prediction: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.score)

    @classmethod
    def build(
        cls,
        profile: ReferenceProfile,
        inputs: pd.DataFrame,
        truth: np.ndarray,
        prediction: np.ndarray,
        score: np.ndarray,
        classes: Sequence[Any],
        *,
        rows: int = ROWS,
        seed: int = 0,
    ) -> CalibrationSample:
        """A seeded sample of at most ``rows`` of the held-out rows (``inputs`` holds their
        features, in the order of ``truth``, ``prediction`` and ``score``)."""
        count = len(score)
        if not len(inputs) == len(truth) == len(prediction) == count:
            raise InvalidInput("calibration sample", "inputs, labels and scores differ in length")
        picked = np.arange(count)
        if count > rows:
            picked = np.sort(np.random.default_rng(seed).choice(count, rows, replace=False))
        names = list(profile.columns)
        matrix = profile.coded(inputs, names, picked)
        position = {str(c): i for i, c in enumerate(classes)}
        return cls(
            codes={
                name: np.where(np.isnan(matrix[:, j]), MISSING_CODE, matrix[:, j]).astype(np.uint16)
                for j, name in enumerate(names)
            },
            score=np.asarray(score, dtype=np.float64)[picked],
            truth=np.array([position[str(t)] for t in np.asarray(truth)[picked]], np.int64),
            prediction=np.array(
                [position[str(p)] for p in np.asarray(prediction)[picked]], np.int64
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "codes": {name: pack(codes) for name, codes in self.codes.items()},
            "score": pack(self.score),
            "truth": pack(self.truth),
            "prediction": pack(self.prediction),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CalibrationSample:
        field = "calibration sample"
        try:
            sample = cls(
                codes={str(k): unpack(v, field) for k, v in data["codes"].items()},
                score=unpack(data["score"], field),
                truth=unpack(data["truth"], field).astype(np.int64),
                prediction=unpack(data["prediction"], field).astype(np.int64),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidInput(field, f"is malformed ({exc!r})") from exc
        sizes = {len(sample.truth), len(sample.prediction), *map(len, sample.codes.values())}
        if sizes != {sample.rows}:
            raise InvalidInput(field, "its columns differ in length")
        return sample

    def matrix(self, names: Sequence[str]) -> np.ndarray:
        """The codes of ``names`` as floats, NaN where missing (as ``ReferenceProfile.coded``)."""
        columns = [self.codes[name] for name in names]
        matrix = np.column_stack(columns).astype(np.float64)
        matrix[np.column_stack(columns) == MISSING_CODE] = np.nan
        return matrix

    def refits(
        self,
        window: pd.DataFrame,
        profile: ReferenceProfile,
        classes: Sequence[Any],
        *,
        seed: int = 0,
        domain_auc: float = 0.55,
        alpha: float = 0.05,
    ) -> tuple[tuple[Calibrator, ...], dict[str, Any]]:
        """Calibrators refitted on these rows weighted like ``window``'s inputs, and what the
        weighting found: the one under the chosen cap first, then, when the weights were
        capped tighter than the loosest cap, the one under the loosest (the cap's bias shows
        in their gap). None when the window's inputs look like these rows, or cannot be coded
        (the reason says which)."""
        from keel.monitoring.estimation import fit_calibration
        from keel.monitoring.shift_weights import shift_weights

        names = [name for name in self.codes if name in window.columns and name in profile.columns]
        if not names:
            return (), {"weighted": False, "reason": "the window holds none of the features"}
        try:
            current = profile.coded(window, names)
        except InvalidInput as exc:
            return (), {"weighted": False, "reason": str(exc)}
        found = shift_weights(
            self.matrix(names), current, seed=seed, domain_auc=domain_auc, alpha=alpha
        )
        if found.weights is None:
            return (), found.to_dict()
        plain = np.array(list(classes), dtype=object)
        truth, prediction = plain[self.truth], plain[self.prediction]
        weights = [found.weights] + ([] if found.loosest is None else [found.loosest])
        return tuple(
            fit_calibration(truth, prediction, self.score, classes, seed=seed, sample_weight=w)
            for w in weights
        ), found.to_dict()
