"""The lending simulator: deterministic, well-formed, and drifting the way the demo's story needs.

The calibration tests train the reference model and are the contract with the closed-loop demo:
a model trained once decays after the shock, a model retrained on two months recovers.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from keel.demo.lending import LendingPortfolio, Scenario, make_model

SCENARIO = Scenario()
F, T = LendingPortfolio.FEATURES, LendingPortfolio.TARGET


@pytest.fixture(scope="module")
def portfolio() -> LendingPortfolio:
    return LendingPortfolio(SCENARIO)


@pytest.fixture(scope="module")
def months(portfolio: LendingPortfolio) -> list[pd.DataFrame]:
    return [portfolio.month(m) for m in range(SCENARIO.months)]


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    # Gradient boosting on a few thousand rows is faster on one thread than fighting for cores.
    with threadpool_limits(limits=1):
        yield


def accuracy(model: Pipeline, frame: pd.DataFrame) -> float:
    return float((model.predict(frame[F]) == frame[T]).mean())


def test_same_scenario_gives_identical_frames() -> None:
    a, b = LendingPortfolio(Scenario()), LendingPortfolio(Scenario())
    pd.testing.assert_frame_equal(a.month(6), b.month(6))
    pd.testing.assert_frame_equal(a.history(500), b.history(500))
    assert a.describe() == b.describe()


def test_another_seed_gives_other_data() -> None:
    a, b = LendingPortfolio(Scenario(seed=7)), LendingPortfolio(Scenario(seed=8))
    assert not a.month(2)[F].equals(b.month(2)[F])


def test_months_do_not_depend_on_the_order_they_are_drawn_in() -> None:
    forwards, backwards = LendingPortfolio(), LendingPortfolio()
    first = [forwards.month(m) for m in (2, 9)]
    backwards.history(100)
    second = [backwards.month(m) for m in (9, 2)][::-1]
    for x, y in zip(first, second, strict=True):
        pd.testing.assert_frame_equal(x, y)


def test_month_schema_and_types(months: list[pd.DataFrame]) -> None:
    frame = months[3]
    assert list(frame.columns) == [*F, T, "decided_at", "labelled_at", "application_id"]
    assert len(frame) == SCENARIO.applications_per_month
    assert not frame.isna().any().any()
    for column in LendingPortfolio.NUMERIC:
        assert pd.api.types.is_numeric_dtype(frame[column]), column
    for column in LendingPortfolio.CATEGORICAL:
        assert pd.api.types.is_string_dtype(frame[column]), column
    assert set(frame[T].unique()) == {0, 1}
    assert pd.api.types.is_integer_dtype(frame[T])
    assert str(frame["decided_at"].dt.tz) == "UTC"


def test_values_are_plausible(months: list[pd.DataFrame]) -> None:
    frame = pd.concat(months)
    assert frame["age"].between(21, 75).all()
    assert frame["credit_score"].between(300, 850).all()
    assert frame["interest_rate"].between(4, 40).all()
    assert frame["debt_to_income"].between(0, 2).all()
    assert frame["debt_to_income"].quantile(0.99) < 0.7
    assert (frame["months_employed"] <= (frame["age"] - 18) * 12).all()
    assert set(frame["loan_term_months"]) <= {12, 24, 36, 48, 60}
    assert 40_000 < frame["annual_income"].median() < 60_000
    assert set(frame["employment_type"]) == {"salaried", "self_employed", "gig"}


def test_decisions_fall_in_their_month_sorted(months: list[pd.DataFrame]) -> None:
    start = pd.Timestamp(SCENARIO.start)
    for m in (0, 1, 13):
        decided = months[m]["decided_at"]
        assert decided.is_monotonic_increasing
        assert decided.min() >= start + pd.DateOffset(months=m)
        assert decided.max() < start + pd.DateOffset(months=m + 1)
        assert decided.dt.day.nunique() >= 28  # spread over the month, not bunched


def test_labels_arrive_after_the_delay(months: list[pd.DataFrame]) -> None:
    delay = pd.Timedelta(days=SCENARIO.label_delay_days)
    for frame in months:
        assert (frame["labelled_at"] - frame["decided_at"] == delay).all()
    custom = LendingPortfolio(Scenario(label_delay_days=45)).month(0)
    assert (custom["labelled_at"] - custom["decided_at"] == pd.Timedelta(days=45)).all()


def test_application_ids_are_unique_across_months(months: list[pd.DataFrame]) -> None:
    ids = pd.concat(months)["application_id"]
    assert ids.is_unique
    assert pd.api.types.is_string_dtype(ids)


def test_history_is_the_month_zero_regime_before_the_start(portfolio: LendingPortfolio) -> None:
    history = portfolio.history(4000)
    assert list(history.columns) == [*F, T, "decided_at"]
    assert len(history) == 4000
    assert history["decided_at"].max() < pd.Timestamp(SCENARIO.start)
    assert "gig" not in set(history["employment_type"])
    assert abs(history[T].mean() - portfolio.month(0)[T].mean()) < 0.02


def test_month_out_of_range_is_refused(portfolio: LendingPortfolio) -> None:
    with pytest.raises(ValueError, match="month"):
        portfolio.month(SCENARIO.months)
    with pytest.raises(ValueError, match="month"):
        portfolio.month(-1)


def test_the_new_segment_appears_and_grows_to_about_a_third(months: list[pd.DataFrame]) -> None:
    share = [float((f["employment_type"] == "gig").mean()) for f in months]
    assert all(s == 0 for s in share[: SCENARIO.segment_month])
    assert 0 < share[SCENARIO.segment_month] < 0.1
    assert share[SCENARIO.segment_month] < share[SCENARIO.segment_month + 2] < share[-1]
    assert 0.24 < share[-1] < 0.36


def test_the_shock_raises_rates_debt_burden_and_defaults(months: list[pd.DataFrame]) -> None:
    before = pd.concat(months[: SCENARIO.shock_month])
    after = pd.concat(months[SCENARIO.shock_month + 2 : SCENARIO.segment_month])
    rise = after["interest_rate"].median() - before["interest_rate"].median()
    assert 2.0 < rise < 3.0
    assert after["annual_income"].median() < 0.95 * before["annual_income"].median()
    assert after["debt_to_income"].median() > before["debt_to_income"].median()
    assert 0.04 < before[T].mean() < 0.08
    assert after[T].mean() > 1.4 * before[T].mean()
    assert all(0.04 < f[T].mean() < 0.15 for f in months)


def test_describe_narrates_each_drift_event(portfolio: LendingPortfolio) -> None:
    lines = portfolio.describe()
    assert len(lines) == 3
    assert lines[0].startswith(f"month {SCENARIO.shock_month}:")
    assert "4.0% -> 6.5%" in lines[0]
    assert lines[2].startswith(f"month {SCENARIO.segment_month}:")
    assert LendingPortfolio(Scenario(shock_month=20, segment_month=20)).describe() == []


def test_make_model_is_a_clonable_pipeline_on_raw_frames(months: list[pd.DataFrame]) -> None:
    model = clone(make_model())
    assert isinstance(model, Pipeline)
    with threadpool_limits(limits=1):
        model.fit(months[0][F].head(1000), months[0][T].head(1000))
    assert list(model.feature_names_in_) == F
    unseen = months[-1][F].head(200)  # contains the category "gig", never seen in training
    assert model.predict_proba(unseen).shape == (200, 2)


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_a_model_trained_once_decays_after_the_shock(
    portfolio: LendingPortfolio, months: list[pd.DataFrame]
) -> None:
    history = portfolio.history()
    model = clone(make_model()).fit(history[F], history[T])
    acc = [accuracy(model, f) for f in months]
    shock, segment = SCENARIO.shock_month, SCENARIO.segment_month
    assert min(acc[:shock]) >= 0.94
    assert min(acc[shock + 1 : shock + 4]) < 0.92  # falls within 1-3 months of the shock
    assert max(acc[shock + 2 :]) < 0.915  # and stays below
    assert np.mean(acc[segment + 2 :]) < np.mean(acc[shock + 2 : segment]) - 0.02
    assert 0.80 < min(acc) < 0.88


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_a_model_retrained_on_the_last_two_months_recovers(months: list[pd.DataFrame]) -> None:
    for m in range(2, SCENARIO.months):
        recent = pd.concat(months[m - 2 : m])
        model = clone(make_model()).fit(recent[F], recent[T])
        assert accuracy(model, months[m]) >= 0.925, m


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_few_labels_right_after_the_shock_make_a_weaker_model(
    months: list[pd.DataFrame],
) -> None:
    shock = SCENARIO.shock_month
    scarce = months[shock].head(300)
    plenty = pd.concat(months[shock - 1 : shock + 1])
    target = months[shock + 1]
    weak = accuracy(clone(make_model()).fit(scarce[F], scarce[T]), target)
    strong = accuracy(clone(make_model()).fit(plenty[F], plenty[T]), target)
    assert weak < strong - 0.01
