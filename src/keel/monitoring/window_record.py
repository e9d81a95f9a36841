"""Measuring one closed window: drift of inputs and outputs, the label-free estimate, operations,
data quality, and the index of its predictions that labels are joined to later.

Rows the input policy rejected (status ``rejected``) were never scored: they count for the
inputs' drift and for data quality (they are often the very shift to see), not for the outputs,
the estimate or the index. Rows the model failed on (``error``) count for operations only.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from keel.domain.policy import INPUT_CHECKS, DriftRules, Policy
from keel.monitoring.input_quality import input_quality
from keel.monitoring.operations import operations
from keel.monitoring.references import Reference
from keel.monitoring.window_estimate import estimate_window
from keel.monitoring.window_summary import WindowSummary
from keel.store.artifacts import ArtifactStore

if TYPE_CHECKING:
    from keel.monitoring.drift.results import DriftConfig, DriftReport

INDEX_COLUMNS = ["request_id", "timestamp", "prediction", "score"]


@dataclass
class WindowRecord:
    version: int
    kind: str
    start_at: datetime
    end_at: datetime
    rows: int
    index_sha256: str
    reference: dict[str, Any]
    drift: dict[str, Any]
    estimate: dict[str, Any]
    operations: dict[str, Any]
    quality: dict[str, Any]

    def columns(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "kind": self.kind,
            "start_at": self.start_at,
            "end_at": self.end_at,
            "rows": self.rows,
            "index_sha256": self.index_sha256,
            "reference": self.reference,
            "drift": self.drift,
            "estimate": self.estimate,
            "operations": self.operations,
            "performance": {},
            "labelled_rows": 0,
            "quality": self.quality,
        }

    def summary(self, window_id: int) -> WindowSummary:
        """What a run reports of this window once it is stored as ``window_id``."""
        return WindowSummary(
            id=window_id,
            version=self.version,
            start_at=self.start_at,
            end_at=self.end_at,
            rows=self.rows,
            drifted_features=self.drift.get("drifted", []),
            estimated_accuracy=self.estimate.get("metrics", {}).get("accuracy"),
            latency_p99_ms=self.operations.get("latency_p99_ms"),
            issues=len(self.quality.get("issues", [])),
            flagged_rows=self.quality.get("flagged_rows", 0),
            rejected_rows=self.quality.get("rejected_rows", 0),
            input_issues=[
                {k: i.get(k) for k in ("column", "code", "rows", "rejected")}
                for i in self.quality.get("issues", [])
                if i.get("code") in INPUT_CHECKS
            ],
        )


def drift_config(rules: DriftRules, *, seed: int, multivariate: bool | None = None) -> DriftConfig:
    from keel.monitoring.drift import DriftConfig

    return DriftConfig(
        alpha=rules.alpha,
        numeric_effect=rules.numeric_effect,
        categorical_effect=rules.categorical_effect,
        multivariate=rules.multivariate if multivariate is None else multivariate,
        domain_auc=rules.domain_auc,
        features=rules.features,
        seed=seed,
    )


def _inputs_drift(
    window: pd.DataFrame, reference: Reference, rules: DriftRules, seed: int
) -> DriftReport:
    from keel.monitoring.drift import detect_drift

    present = [c for c in reference.features if c in window.columns]
    return detect_drift(reference.inputs, window[present], drift_config(rules, seed=seed))


def _outputs_drift(
    window: pd.DataFrame, reference: Reference, rules: DriftRules, seed: int
) -> dict[str, Any] | None:
    from keel.monitoring.drift import detect_drift

    if reference.outputs is None:
        return None
    columns = ["prediction"]
    if "score" in window and window["score"].notna().any() and reference.task != "regression":
        columns.append("score")
    outputs = window[columns]
    if reference.task == "classification":
        outputs = outputs.astype({"prediction": str})
    report = detect_drift(
        reference.outputs, outputs, drift_config(rules, seed=seed, multivariate=False)
    )
    return dict(report.to_dict())


def measure_window(
    artifacts: ArtifactStore,
    window: pd.DataFrame,
    reference: Reference,
    policy: Policy,
    *,
    kind: str,
    seed: int,
) -> WindowRecord:
    """Every per-window measurement; nothing here needs labels."""
    rules = policy.monitoring.drift
    cost = policy.monitoring.cost
    status = window.get("status")
    ok = window[status == "ok"] if status is not None else window
    seen = window[status.isin(["ok", "rejected"])] if status is not None else window
    inputs = _inputs_drift(seen, reference, rules, seed) if len(seen) else None
    drift = dict(inputs.to_dict()) if inputs is not None else {"drifted": [], "features": []}
    outputs = _outputs_drift(ok, reference, rules, seed) if len(ok) else None
    drift["outputs"] = outputs
    drift["prediction_drift"] = bool(outputs and outputs.get("drifted"))
    issues = list(drift.get("issues", []))
    if outputs:
        issues += [{**i, "scope": "outputs"} for i in outputs.get("issues", [])]
    missing = [c for c in reference.features if c not in window.columns]
    if missing:
        issues.append({"column": ",".join(missing), "problem": "not logged with predictions"})
    answered = window[status != "rejected"] if status is not None else window
    index = answered[[c for c in INDEX_COLUMNS if c in window.columns]]
    buffer = io.BytesIO()
    index.to_parquet(buffer, index=False, compression="zstd")
    found = input_quality(window)
    stamps = window["timestamp"]
    return WindowRecord(
        version=int(window["version"].iloc[0]),
        kind=kind,
        start_at=stamps.min().to_pydatetime(),
        end_at=stamps.max().to_pydatetime(),
        rows=len(window),
        index_sha256=artifacts.put(buffer.getvalue()),
        reference=reference.summary(),
        drift=drift,
        estimate=estimate_window(
            ok, reference, rules, shifted=bool(inputs and inputs.alarm), seed=seed
        )
        if len(ok)
        else {},
        operations=operations(
            window, cpu_hour_price=cost.cpu_hour_price, request_price=cost.request_price
        ),
        quality={
            "issues": issues + found.issues,
            "error_rows": len(window) - len(seen),
            "rejected_rows": found.rejected_rows,
            "flagged_rows": found.flagged_rows,
        },
    )
