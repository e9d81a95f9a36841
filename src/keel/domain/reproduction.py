"""What recreating a model version found: the recreated model's answers beside the stored one's.

A version is reproduced when a model fit again, by the recorded code on the recorded data with
the recorded parameters, answers like it on the recorded holdout: the same labels on every row
and probabilities (or a regressor's predictions) within a tolerance, ``1e-9`` by default, which
the deterministic learners of the conformance suite meet exactly. A learner that is not
deterministic (threads racing in a sum, a seed left unset) is judged against the tolerance the
caller gives, and the result says which tolerance that was.

>>> verdict_of(max_abs_diff=0.0, label_agreement=1.0, tolerance=DEFAULT_TOLERANCE)
'reproduced'
>>> verdict_of(max_abs_diff=1e-12, label_agreement=0.99, tolerance=DEFAULT_TOLERANCE)
'differs'
>>> verdict_of(max_abs_diff=None, label_agreement=1.0, tolerance=DEFAULT_TOLERANCE)  # labels only
'reproduced'
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from keel.errors import InvalidInput

__all__ = [
    "DEFAULT_TOLERANCE",
    "FAILED",
    "REPRODUCED",
    "REPRODUCE_ACTION",
    "Reproduction",
    "check_tolerance",
    "verdict_of",
]

#: the largest difference of any probability that still counts as the same model
DEFAULT_TOLERANCE = 1e-9

#: the audit action a reproduction is recorded under (subject ``model:NAME/VERSION``): a finished
#: comparison, or an attempt whose recreation ran and failed (verdict ``failed``)
REPRODUCE_ACTION = "version.reproduce"

REPRODUCED, DIFFERS, FAILED = "reproduced", "differs", "failed"


def verdict_of(
    *, max_abs_diff: float | None, label_agreement: float | None, tolerance: float
) -> str:
    """``reproduced`` when every label agrees and no value is further apart than ``tolerance``."""
    labels_agree = label_agreement is None or label_agreement == 1.0
    close = max_abs_diff is None or max_abs_diff <= tolerance
    return REPRODUCED if labels_agree and close else DIFFERS


def check_tolerance(tolerance: Any) -> float:
    """A tolerance given by a caller: a finite number of at least 0."""
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float):
        raise InvalidInput("tolerance", f"a number of at least 0, not {tolerance!r}")
    if not math.isfinite(tolerance) or tolerance < 0:
        raise InvalidInput("tolerance", f"a finite number of at least 0, not {tolerance!r}")
    return float(tolerance)


@dataclass(frozen=True)
class Reproduction:
    """One recreation of ``version`` and how its answers compare with the stored model's.

    ``method`` says what was re-run: ``pipeline`` (the retraining pipeline's fitting step with
    the pipeline run's parameters), ``trainer`` (the run's recorded trainer function) or
    ``estimator`` (the stored model's own estimator, unfitted and fit again: a hand-written
    training script is not recorded, so this is what can honestly be re-run for it).
    ``compared`` is ``probabilities``, ``predictions`` (a regressor) or ``labels``.
    """

    version: str
    verdict: str
    method: str
    commit: str
    repository: str
    training_snapshot: str
    holdout: str
    compared: str
    rows: int
    max_abs_diff: float | None
    label_agreement: float | None
    tolerance: float
    model_class: str
    pipeline_run: str | None = None
    run_id: str | None = None
    audit_seq: int | None = None

    @property
    def reproduced(self) -> bool:
        return self.verdict == REPRODUCED

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def details(self) -> dict[str, Any]:
        """What the audit entry keeps (the subject names the version; the entry has its seq)."""
        out = self.to_dict()
        out.pop("version")
        out.pop("audit_seq")
        # JSON has no infinity: a value missing on one side only is recorded as a string
        if out["max_abs_diff"] is not None and not math.isfinite(out["max_abs_diff"]):
            out["max_abs_diff"] = str(out["max_abs_diff"])
        return out
