"""Converting a registered version to ONNX, kept only when it answers like the original.

``convert`` loads the version through the one loading path (hash verified, its recorded trust
honoured), converts it (``keel.registry.to_onnx``), and predicts with both models on the
version's training snapshot (every row, or a fixed sample of ``max_rows``):

- a classifier with probabilities: the largest absolute difference of any probability, and the
  share of rows whose labels agree;
- a regressor: the largest absolute difference of the predictions;
- a classifier without probabilities: the share of rows whose labels agree, which must be 1.

When the difference exceeds ``tolerance`` (or a label-only classifier disagrees on a row),
``ConversionMismatch`` names the figure and nothing is registered. Otherwise the ONNX model is
registered as the next version of the same model: its parent is the original version, it has
the same training snapshot and signature, ``tags.converted_from`` names the original, and the
measured figures are its ``conversion_*`` metrics. The time each model took to predict those
rows is measured once and reported (``speedup``), never relied on.

    conversion = convert(db, artifacts, "ana", ModelRef("churn", version=3), tolerance=1e-4)
    conversion.version.ref, conversion.max_abs_diff    # ("churn/4", 1.2e-07)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from keel.domain.entities import ModelVersion
from keel.domain.names import ModelRef
from keel.errors import GateFailed, InvalidInput
from keel.registry import models
from keel.registry import snapshots as snapshot_store
from keel.registry.agreement import Agreement, compare
from keel.registry.loading import load
from keel.registry.to_onnx import refuse_unsupported, to_onnx
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database

__all__ = [
    "DEFAULT_ROWS",
    "DEFAULT_TOLERANCE",
    "TARGETS",
    "Agreement",
    "Conversion",
    "ConversionMismatch",
    "compare",
    "convert",
]

#: formats a version can be converted to
TARGETS = ("onnx",)
DEFAULT_TOLERANCE = 1e-4
#: the tag naming the version a converted one was made from (a retrain refits that source)
CONVERTED_FROM = "converted_from"
#: rows of the training snapshot compared at most (a fixed sample beyond)
DEFAULT_ROWS = 10_000


class ConversionMismatch(GateFailed):
    """The converted model's predictions differ from the original's by more than the
    tolerance on the training snapshot, so it was not registered."""

    code = "conversion_mismatch"

    def __init__(
        self,
        model: str,
        *,
        compared: str,
        max_abs_diff: float | None,
        label_agreement: float | None,
        rows: int,
        tolerance: float,
        data: str,
    ) -> None:
        if max_abs_diff is None:
            figure = f"labels agree on {_share(label_agreement)} of the rows, not all"
        else:
            figure = (
                f"the largest absolute difference of the {compared} is {max_abs_diff:.3g}, "
                f"above the tolerance {tolerance:g}"
            )
            if label_agreement is not None:
                figure += f" (labels agree on {_share(label_agreement)})"
        super().__init__(
            f"the ONNX conversion of {model} does not answer like it on {rows} rows of {data}: "
            f"{figure}; nothing was registered",
            model=model,
            compared=compared,
            max_abs_diff=max_abs_diff,
            label_agreement=label_agreement,
            rows=rows,
            tolerance=tolerance,
            data=data,
        )
        self.max_abs_diff = max_abs_diff
        self.label_agreement = label_agreement


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


@dataclass(frozen=True)
class Conversion:
    """A conversion that passed its check: ``version`` is the new version, ``source`` the
    original's reference, ``data`` the snapshot it was checked on."""

    source: str
    version: ModelVersion
    target: str
    converter: str
    inputs: str
    data: str
    tolerance: float
    agreement: Agreement

    @property
    def rows(self) -> int:
        return self.agreement.rows

    @property
    def max_abs_diff(self) -> float | None:
        return self.agreement.max_abs_diff

    @property
    def label_agreement(self) -> float | None:
        return self.agreement.label_agreement

    @property
    def speedup(self) -> float | None:
        return self.agreement.speedup

    def to_dict(self) -> dict[str, Any]:
        a = self.agreement
        return {
            "source": self.source,
            "version": self.version.to_dict(),
            "target": self.target,
            "converter": self.converter,
            "inputs": self.inputs,
            "data": self.data,
            "tolerance": self.tolerance,
            "compared": a.compared,
            "rows": a.rows,
            "max_abs_diff": a.max_abs_diff,
            "label_agreement": a.label_agreement,
            "original_seconds": a.original_seconds,
            "onnx_seconds": a.onnx_seconds,
            "speedup": a.speedup,
        }


def convert(
    db: Database,
    artifacts: ArtifactStore,
    actor: str,
    ref: ModelRef,
    *,
    to: str = "onnx",
    tolerance: float = DEFAULT_TOLERANCE,
    max_rows: int | None = DEFAULT_ROWS,
) -> Conversion:
    """Convert the version ``ref`` names, check it on its training snapshot, and register it as
    the next version of the same model (see the module). InvalidInput when it cannot be
    converted, ConversionMismatch when it does not answer like the original."""
    if to not in TARGETS:
        raise InvalidInput("to", f"cannot convert to {to!r}; targets: {', '.join(TARGETS)}")
    limit = _tolerance(tolerance)
    rows = _max_rows(max_rows)
    loaded = load(db, artifacts, ref)
    source = loaded.version
    refuse_unsupported(loaded.model)
    if not source.training_snapshot:
        raise InvalidInput(
            "training_snapshot",
            f"{source.ref} has no training snapshot to check a conversion against; register "
            "it with training_data=... to convert it",
        )
    snapshot = snapshot_store.get(db, source.training_snapshot)
    frame = _sample(loaded.typed(snapshot_store.load_frame(artifacts, snapshot)), rows)
    if frame.empty:
        raise InvalidInput("training_snapshot", f"{snapshot.ref} has no rows to compare on")
    converted = to_onnx(loaded.model, loaded.signature)
    agreement = compare(loaded.model, converted.model, frame, source=source)
    if not agreement.within(limit):
        raise ConversionMismatch(
            source.ref,
            compared=agreement.compared,
            max_abs_diff=agreement.max_abs_diff,
            label_agreement=agreement.label_agreement,
            rows=agreement.rows,
            tolerance=limit,
            data=snapshot.ref,
        )
    version = models.register(
        db,
        artifacts,
        actor,
        source.name,
        converted.model,
        training_snapshot=snapshot,
        signature=loaded.signature,
        metrics=_metrics(agreement, limit),
        tags={
            CONVERTED_FROM: source.ref,
            "converter": converted.converter,
            "conversion_compared": agreement.compared,
            "conversion_data": snapshot.ref,
        },
        description=(
            f"{source.ref} converted to ONNX with {converted.converter}; checked on "
            f"{agreement.rows} rows of {snapshot.ref}"
        ),
        parent=source.version,
        format="onnx",
    )
    return Conversion(
        source=source.ref,
        version=version,
        target=to,
        converter=converted.converter,
        inputs=converted.inputs,
        data=snapshot.ref,
        tolerance=limit,
        agreement=agreement,
    )


def _tolerance(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput("tolerance", f"a number of at least 0, not {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise InvalidInput("tolerance", f"a finite number of at least 0, not {value!r}")
    return number


def _max_rows(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput("max_rows", f"a whole number of at least 1, not {value!r}")
    return value


def _sample(frame: pd.DataFrame, rows: int | None) -> pd.DataFrame:
    """Every row, or ``rows`` of them drawn with a fixed seed (so a check can be repeated)."""
    if rows is None or len(frame) <= rows:
        return frame
    return frame.sample(n=rows, random_state=0).sort_index()


def _metrics(agreement: Agreement, tolerance: float) -> dict[str, float]:
    metrics = {"conversion_rows": float(agreement.rows), "conversion_tolerance": tolerance}
    if agreement.max_abs_diff is not None:
        metrics["conversion_max_abs_diff"] = agreement.max_abs_diff
    if agreement.label_agreement is not None:
        metrics["conversion_label_agreement"] = agreement.label_agreement
    speedup = agreement.speedup
    if speedup is not None and math.isfinite(speedup):
        metrics["conversion_speedup"] = speedup
    return metrics
