"""The drift page's data: one monitoring window's per-feature tests sorted by effect size (the
largest change first; a feature without an effect last), with the histograms stored with the
window for the overlays."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.services import Services


def window_page(services: Services, name: str, window_id: int) -> dict[str, Any]:
    detail = services.monitoring.window_detail(name, window_id)
    window = detail.window
    drift = window.drift or {}
    features = sorted(
        (_feature(f) for f in drift.get("features", [])),
        key=lambda f: -(f["effect"] if f["effect"] is not None else -1.0),
    )
    return {
        "name": name,
        "id": window.id,
        "version": window.version,
        "start_at": window.start_at,
        "end_at": window.end_at,
        "rows": window.rows,
        "labelled_rows": window.labelled_rows,
        "reference": window.reference,
        "drifted": drift.get("drifted", []),
        "alarm": bool(drift.get("alarm")),
        "multivariate": drift.get("multivariate"),
        "prediction_drift": drift.get("prediction_drift"),
        "outputs": drift.get("outputs"),
        "features": features,
        "estimate": window.estimate,
        "performance": {k: v for k, v in (window.performance or {}).items() if k != "label_drift"},
        "operations": window.operations,
        "quality": window.quality,
        "previous": detail.previous,
        "next": detail.next,
    }


def _feature(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "feature": entry.get("feature"),
        "kind": entry.get("kind"),
        "test": entry.get("test"),
        "statistic": entry.get("statistic"),
        "p_value": entry.get("p_value"),
        "p_adjusted": entry.get("p_adjusted"),
        "effect": entry.get("effect"),
        "effect_name": entry.get("effect_name"),
        "threshold": entry.get("threshold"),
        "drifted": bool(entry.get("drifted")),
        "psi": entry.get("psi"),
        "missing_share": entry.get("missing_share"),
        "reference_missing_share": entry.get("reference_missing_share"),
        "histogram": entry.get("histogram"),
    }
