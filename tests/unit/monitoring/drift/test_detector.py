"""detect_drift and column_drift as callers use them: the report's shape, prediction and label
drift, options, determinism, and the package's public surface."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import keel.monitoring.drift as drift
from keel.monitoring.drift import (
    DriftConfig,
    DriftReport,
    FeatureDrift,
    ReferenceProfile,
    column_drift,
    detect_drift,
)

from ._data import LABELS, mixed


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return mixed(30_000, seed=1)


@pytest.fixture(scope="module")
def profile(reference: pd.DataFrame) -> ReferenceProfile:
    return ReferenceProfile.build(reference)


@pytest.fixture(scope="module")
def current() -> pd.DataFrame:
    frame = mixed(20_000, seed=2)
    frame["x01"] += 0.5
    frame["x03"] *= 2.0
    rng = np.random.default_rng(3)
    frame["c1"] = LABELS[rng.choice(5, len(frame), p=[0.1, 0.1, 0.2, 0.3, 0.3])]
    return frame


def test_public_names() -> None:
    assert drift.__all__ == sorted(drift.__all__)
    assert set(drift.__all__) == {
        "CategoricalSummary",
        "DriftConfig",
        "DriftReport",
        "FeatureDrift",
        "NumericSummary",
        "ReferenceProfile",
        "column_drift",
        "detect_drift",
    }


def test_importing_monitoring_stays_light() -> None:
    code = (
        "import sys, keel, keel.monitoring, keel.monitoring.drift; "
        "print(sorted(m for m in ('pandas', 'scipy', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_report_of_a_drifted_window(profile: ReferenceProfile, current: pd.DataFrame) -> None:
    report = detect_drift(profile, current, DriftConfig(seed=1))
    assert set(report.drifted) == {"x01", "x03", "c1"}
    effects = [f.effect for f in report.features]
    assert effects == sorted(effects, reverse=True)
    assert report.drifted == [f.feature for f in report.features if f.drifted]
    assert len(report.features) == 8 and report.issues == []
    assert report.rows == 20_000 and report.reference_rows == 30_000
    assert report.multivariate is not None and report.multivariate["drifted"]
    assert report.multivariate["rows"] == {"reference": 5000, "current": 5000}
    for feature in report.features:
        assert 0 <= feature.p_value <= feature.p_adjusted <= 1
        assert feature.drifted == (
            feature.p_adjusted < report.config.alpha and feature.effect > feature.threshold
        )
        shares = feature.histogram
        assert sum(shares["reference"]) == pytest.approx(1) == sum(shares["current"])
        if feature.kind == "numeric":
            assert (feature.test, feature.effect_name) == ("ks", "wasserstein_std")
            assert {"ks", "wasserstein", "wasserstein_std", "psi"} <= feature.stats.keys()
            assert len(shares["edges"]) == 21 and len(shares["reference"]) == 20
            assert feature.stats["wasserstein_std"] == feature.effect
        else:
            assert (feature.test, feature.effect_name) == ("chi2", "jensen_shannon")
            assert {"chi2", "cramers_v", "jensen_shannon", "psi"} <= feature.stats.keys()
            assert set(shares["categories"]) == set(LABELS)
        assert feature.psi == feature.stats["psi"] >= 0
    assert report.feature("x03").stats["current_std"] == pytest.approx(2.0, rel=0.05)


def test_the_report_round_trips_through_json(
    profile: ReferenceProfile, current: pd.DataFrame
) -> None:
    report = detect_drift(profile, current)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    again = DriftReport.from_dict(data)
    assert again.to_dict() == report.to_dict()
    assert again.drifted == report.drifted and isinstance(again.features[0], FeatureDrift)
    assert again.config == report.config


def test_the_same_seed_gives_the_same_report(
    profile: ReferenceProfile, current: pd.DataFrame
) -> None:
    threaded = detect_drift(profile, current, DriftConfig(seed=7))
    serial = detect_drift(profile, current, DriftConfig(seed=7, workers=1))
    assert threaded.to_dict()["features"] == serial.to_dict()["features"]
    assert threaded.multivariate == serial.multivariate
    other = detect_drift(profile, current, DriftConfig(seed=8))
    assert other.multivariate is not None and threaded.multivariate is not None
    assert other.multivariate["auc"] != threaded.multivariate["auc"]


def test_features_and_multivariate_options(
    profile: ReferenceProfile, current: pd.DataFrame
) -> None:
    report = detect_drift(profile, current, DriftConfig(features=["x01", "c0"], multivariate=False))
    assert sorted(f.feature for f in report.features) == ["c0", "x01"]
    assert report.multivariate is None and report.drifted == ["x01"]
    few = detect_drift(profile, current.iloc[:10], DriftConfig(features=("x01",)))
    assert few.multivariate is None
    assert [i["code"] for i in few.issues] == ["multivariate_skipped"]


def test_prediction_drift_from_a_profile_of_scores() -> None:
    rng = np.random.default_rng(4)
    outputs = pd.DataFrame(
        {"score": rng.beta(2, 5, 50_000), "prediction": rng.choice(["0", "1"], 50_000)}
    )
    profile = ReferenceProfile.build(outputs)
    later = pd.DataFrame(
        {
            "score": rng.beta(2.6, 5, 20_000),
            "prediction": rng.choice(["0", "1"], 20_000, p=[0.3, 0.7]),
        }
    )
    report = detect_drift(profile, later, DriftConfig(multivariate=False))
    assert set(report.drifted) == {"score", "prediction"}
    score = column_drift(profile.columns["score"], later["score"], name="score")
    assert score.drifted and score.p_adjusted == score.p_value
    assert score.effect == pytest.approx(report.feature("score").effect)
    steady = column_drift(profile.columns["score"], rng.beta(2, 5, 20_000), name="score")
    assert not steady.drifted and steady.feature == "score"


def test_label_drift_from_raw_labels() -> None:
    rng = np.random.default_rng(5)
    labels = rng.choice([0, 1], 10_000, p=[0.8, 0.2])
    shifted = rng.choice([0, 1], 5_000, p=[0.6, 0.4])
    result = column_drift(labels, shifted, name="label", kind="categorical")
    assert (result.kind, result.test, result.drifted) == ("categorical", "chi2", True)
    same = column_drift(
        labels, rng.choice([0, 1], 5_000, p=[0.8, 0.2]), name="label", kind="categorical"
    )
    assert not same.drifted
    as_numbers = column_drift(labels, shifted, name="label")
    assert as_numbers.kind == "numeric" and as_numbers.drifted
