"""A seeded consumer-lending portfolio whose world changes under a credit-risk model.

The closed-loop demo needs data that a credit-risk engineer recognises and that drifts the way
real portfolios drift, so that a model trained once decays and a retrained one recovers.

A row is one funded unsecured personal loan: what the lender knew at decision time and, as the
target, whether the loan later defaulted (``default`` = 1). Real defaults surface 6-12 months
after booking; the demo compresses that into ``label_delay_days`` (``labelled_at``).

An applicant before the story starts (figures are 5th / 50th / 95th percentiles):

- ``employment_type`` salaried (78%) or self-employed; ``region`` one of five, the capital
  richer and safer; ``purpose`` debt consolidation, car, home improvement, medical, education
  or other, each with its own typical size and risk.
- ``age`` 26 / 38 / 61; ``months_employed`` grows with age, never beyond a working life;
  ``annual_income`` log-normal, 31k / 58k / 110k, rising to the late forties;
  ``income_volatility``, the coefficient of variation of monthly deposits, median 0.05
  salaried and 0.24 self-employed.
- ``credit_score`` 576 / 679 / 780 (300-850), better with age, worse per ``existing_loans``.
- ``loan_amount`` a purpose-dependent share of income (5k / 16k / 48k); ``loan_term_months``
  12-60, longer for loans that are large against income.
- ``interest_rate`` set by the lender: base rate + a risk spread that widens as the credit
  score falls + a term premium: 6.8% / 11.3% / 16.5%.
- ``debt_to_income`` (excluding housing): existing repayments (about 7% of income per loan)
  plus the new loan's amortised payment, over income: 0.07 / 0.17 / 0.38.
- ``default`` is drawn from a logistic model of DTI, credit score, rate, tenure, existing loans,
  income volatility, purpose, youth and region: 6% of loans, and predictable (the true
  probabilities allow about 0.96 accuracy, so a good model is judged on the minority class).

The story of the default ``Scenario``, one drift of each kind:

1. Macro shock (covariate drift) from ``shock_month``, front-loaded over two months: the base
   rate goes from 4.0% to 6.5%, incomes fall 8% while existing debts and loan needs do not,
   and variable-rate repayments rise 15%. Rates go to 9.3% / 13.8% / 19.0%, DTI to 0.07 /
   0.20 / 0.46, and the default rate to about 11%.
2. Concept drift with the shock: stretched borrowers default on affordability. DTI weighs four
   times as much, the rate three times, the credit score and tenure far less, so a model trained
   before misses the new defaulters and flags low-score borrowers who now repay.
3. A new segment from ``segment_month``: gig workers, young (median 27), thin-file (scores ~45
   points lower), low and volatile incomes (volatility median 0.39), arriving through a partner
   app and growing from 0% to about 30% of loans, with a default rate near 16%. For them months
   employed says nothing and income volatility a lot; a pre-launch model has never seen the
   category.

Month ``m`` is drawn from ``SeedSequence((seed, 1, m))`` and the history from ``(seed, 0)``,
so months can be drawn in any order and a ``Scenario`` always gives identical frames.
``make_model`` is the reference model; with it (``tests/unit/demo/test_lending.py``) a model
trained on ``history()`` scores >= 0.94 before the shock, falls below 0.92 in the month after it
and to about 0.85 once the segment has grown, while a model retrained on the two latest months
scores >= 0.925 on the next month, every month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

REGIONS = ("capital", "north", "south", "east", "west")
REGION_P = (0.25, 0.2, 0.2, 0.15, 0.2)
REGION_INCOME = (1.25, 0.9, 0.95, 0.92, 1.0)
REGION_RISK = (-0.1, 0.15, 0.0, 0.1, -0.05)
PURPOSES = ("debt_consolidation", "car", "home_improvement", "medical", "education", "other")
PURPOSE_P = (0.35, 0.2, 0.15, 0.08, 0.07, 0.15)
PURPOSE_SIZE = (0.3, 0.35, 0.4, 0.15, 0.25, 0.15)  # loan amount as a fraction of income
PURPOSE_RISK = (0.3, -0.3, -0.2, 0.4, 0.2, 0.0)
TERMS = np.array([12, 24, 36, 48, 60])

BASE_RATE = (4.0, 6.5)  # percent, before and after the shock
INCOME_HIT = 0.08
REPAYMENT_RISE = 0.15
SHOCK_RAMP_MONTHS = 2.0
SEGMENT_SHARE = 0.30
SEGMENT_RAMP_MONTHS = 2.5  # e-folding time of the segment's growth

# Logistic weights on standardised terms: before the shock, after it, and for gig workers
# (who only exist after it). Keys: intercept, dti, score, rate, tenure, loans, volatility.
WEIGHTS = {
    "before": (-6.45, 0.8, 2.6, 0.3, 1.0, 0.3, 0.6),
    "after": (-8.89, 3.5, 0.6, 1.0, 0.4, 0.5, 0.9),
    "gig": (-11.62, 3.2, 0.4, 1.0, 0.0, 0.5, 1.8),
}


@dataclass(frozen=True)
class Scenario:
    """The knobs of the story; the defaults are the demo's scenario."""

    seed: int = 7
    months: int = 14
    applications_per_month: int = 3000
    shock_month: int = 4  # macro shock: rates up, incomes down (gradual over ~2 months)
    segment_month: int = 7  # gig workers via a partner app appear, then grow to ~30%
    label_delay_days: int = 30  # the default label is known this long after the decision
    start: datetime = datetime(2025, 1, 1, tzinfo=UTC)


class LendingPortfolio:
    """Monthly funded loans of the ``Scenario``, with default labels."""

    NUMERIC: ClassVar[list[str]] = [
        "age",
        "annual_income",
        "loan_amount",
        "loan_term_months",
        "interest_rate",
        "debt_to_income",
        "credit_score",
        "months_employed",
        "existing_loans",
        "income_volatility",
    ]
    CATEGORICAL: ClassVar[list[str]] = ["employment_type", "purpose", "region"]
    FEATURES: ClassVar[list[str]] = NUMERIC + CATEGORICAL
    TARGET: ClassVar[str] = "default"

    def __init__(self, scenario: Scenario = Scenario()) -> None:
        self.scenario = scenario

    def history(self, rows: int = 8000) -> pd.DataFrame:
        """Pre-launch training data: the year before ``start``, all in the month-0 regime."""
        rng = np.random.default_rng(np.random.SeedSequence((self.scenario.seed, 0)))
        frame, _ = self._draw(rng, np.zeros(rows))
        first = pd.Timestamp(self.scenario.start) - pd.DateOffset(years=1)
        span = pd.Timestamp(self.scenario.start) - first
        frame["decided_at"] = first + span * np.sort(rng.random(rows))
        return frame

    def month(self, m: int) -> pd.DataFrame:
        """Applications decided in month ``m`` (0-based), sorted by decision time."""
        if not 0 <= m < self.scenario.months:
            raise ValueError(f"month must be in [0, {self.scenario.months}), got {m}")
        n = self.scenario.applications_per_month
        rng = np.random.default_rng(np.random.SeedSequence((self.scenario.seed, 1, m)))
        fraction = np.sort(rng.random(n))  # how far through the month each decision falls
        frame, _ = self._draw(rng, m + fraction)
        begin = pd.Timestamp(self.scenario.start) + pd.DateOffset(months=m)
        end = pd.Timestamp(self.scenario.start) + pd.DateOffset(months=m + 1)
        frame["decided_at"] = begin + (end - begin) * fraction
        frame["labelled_at"] = frame["decided_at"] + pd.Timedelta(
            days=self.scenario.label_delay_days
        )
        frame["application_id"] = [f"A{m:03d}-{i:05d}" for i in range(n)]
        return frame

    def describe(self) -> list[str]:
        """One line per drift event, for the demo's narration, with figures from the months."""
        s = self.scenario
        frames = [self.month(m) for m in range(s.months)]
        lines = []
        if s.shock_month < s.months:
            before = frames[s.shock_month - 1] if s.shock_month else self.history(len(frames[0]))
            old, new = (
                frame[frame["employment_type"] != "gig"]
                for frame in (before, frames[min(s.shock_month + 2, s.months - 1)])
            )
            b, a = WEIGHTS["before"], WEIGHTS["after"]
            lines += [
                f"month {s.shock_month}: macro shock over {SHOCK_RAMP_MONTHS:.0f} months, base rate"
                f" {BASE_RATE[0]:.1f}% -> {BASE_RATE[1]:.1f}%, median income"
                f" {new['annual_income'].median() / old['annual_income'].median() - 1:+.0%},"
                f" median debt-to-income {old['debt_to_income'].median():.2f} ->"
                f" {new['debt_to_income'].median():.2f}, default rate {old[self.TARGET].mean():.1%}"
                f" -> {new[self.TARGET].mean():.1%}",
                f"month {s.shock_month}: concept drift, defaults follow affordability:"
                f" debt-to-income weighs x{a[1] / b[1]:.1f}, interest rate x{a[3] / b[3]:.1f},"
                f" credit score x{a[2] / b[2]:.2f} of before",
            ]
        if s.segment_month < s.months:
            gig = [frame["employment_type"] == "gig" for frame in frames]
            late = pd.concat(frames[s.segment_month :])[pd.concat(gig[s.segment_month :])]
            lines.append(
                f"month {s.segment_month}: new segment, gig workers via a partner app,"
                f" {gig[s.segment_month].mean():.0%} of loans -> {gig[-1].mean():.0%} by month"
                f" {s.months - 1}, default rate {late[self.TARGET].mean():.1%}; income volatility"
                " matters for them, months employed does not"
            )
        return lines

    # -- the generative model -------------------------------------------------------------

    def _shock(self, t: np.ndarray) -> np.ndarray:
        """Intensity 0..1 of the macro shock at fractional month ``t``."""
        elapsed = np.clip((t - self.scenario.shock_month) / SHOCK_RAMP_MONTHS, 0.0, 1.0)
        return 1.0 - (1.0 - elapsed) ** 2  # front-loaded: hits fast, then settles

    def _gig_share(self, t: np.ndarray) -> np.ndarray:
        elapsed = np.clip(t - self.scenario.segment_month, 0.0, None)
        return SEGMENT_SHARE * (1.0 - np.exp(-elapsed / SEGMENT_RAMP_MONTHS))

    def _draw(self, rng: np.random.Generator, t: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        """Loans decided at fractional months ``t``, and their true default probabilities.

        The probabilities are returned so that the best achievable accuracy can be measured.
        """
        n = len(t)
        shock = self._shock(t)
        gig = rng.random(n) < self._gig_share(t)
        self_employed = ~gig & (rng.random(n) < 0.22)
        employment = np.where(gig, "gig", np.where(self_employed, "self_employed", "salaried"))
        region = rng.choice(len(REGIONS), n, p=REGION_P)
        purpose = rng.choice(len(PURPOSES), n, p=PURPOSE_P)

        age = np.where(gig, 21 + rng.gamma(2.0, 4.0, n), 21 + rng.gamma(3.0, 6.5, n))
        age = np.clip(age, 21, 75).astype(int)
        tenure_mean = np.where(gig, 10.0, np.minimum((age - 20) * 12 * 0.35, 180))
        months_employed = np.minimum(rng.gamma(1.5, tenure_mean / 1.5), (age - 18) * 12).astype(int)
        volatility = np.where(
            gig,
            rng.beta(4, 6, n),
            np.where(self_employed, rng.beta(3, 9, n), rng.beta(2, 30, n)),
        )
        life = 1.0 + 0.012 * np.minimum(age - 21, 27) - 0.006 * np.clip(age - 55, 0, None)
        median = np.where(gig, 32_000, np.where(self_employed, 55_000, 46_000))
        usual = median * life * np.asarray(REGION_INCOME)[region] * rng.lognormal(0, 0.35, n)
        income = np.round(usual * (1 - INCOME_HIT * shock), -1)  # debts and needs stay as they were

        loans = rng.poisson(np.where(gig, 0.6, 1.1), n)
        thin = np.where(gig, -35.0, 0.0)
        score = 690 + thin + 1.2 * (np.minimum(age, 60) - 38) - 12 * loans + rng.normal(0, 60, n)
        score = np.clip(np.round(score), 300, 850).astype(int)

        size = np.asarray(PURPOSE_SIZE)[purpose] * rng.lognormal(0, 0.45, n)
        amount = np.clip(np.round(usual * size, -2), 1_000, 60_000)
        steps = np.digitize(amount / usual, [0.08, 0.15, 0.25, 0.35]) + rng.integers(-1, 2, n)
        term = TERMS[np.clip(steps, 0, 4)]
        base = BASE_RATE[0] + (BASE_RATE[1] - BASE_RATE[0]) * shock
        spread = np.clip(3.0 + 0.05 * (760 - score), 2.5, 20.0) + 0.03 * (term - 36)
        rate = np.round(base + spread + rng.normal(0, 0.4, n), 2)
        monthly = rate / 1200
        payment = amount * monthly / (1 - (1 + monthly) ** -term)
        existing = (
            loans * usual / 12 * rng.lognormal(np.log(0.07), 0.4, n) * (1 + REPAYMENT_RISE * shock)
        )
        dti = np.round(12 * (payment + existing) / income, 3)

        terms = np.stack(
            [
                np.ones(n),
                (dti - 0.2) / 0.1,
                (680 - score) / 60,
                (rate - 11.3) / 3,
                (np.exp(-months_employed / 24) - 0.25) / 0.25,
                loans - 1,
                (volatility - 0.1) / 0.1,
            ]
        )
        common = np.asarray(PURPOSE_RISK)[purpose] + np.asarray(REGION_RISK)[region]
        common += 0.4 * (age < 25)
        # The weights move with the shock (gig workers only exist after it).
        before, after, gig_w = (np.asarray(WEIGHTS[k])[:, None] for k in ("before", "after", "gig"))
        w = np.where(gig, gig_w, (1 - shock) * before + shock * after)
        z = (w * terms).sum(axis=0) + common
        p = 1 / (1 + np.exp(-z))
        default = (rng.random(n) < p).astype(int)

        return pd.DataFrame(
            {
                "age": age,
                "annual_income": income,
                "loan_amount": amount,
                "loan_term_months": term,
                "interest_rate": rate,
                "debt_to_income": dti,
                "credit_score": score,
                "months_employed": months_employed,
                "existing_loans": loans,
                "income_volatility": np.round(volatility, 3),
                "employment_type": employment,
                "purpose": np.asarray(PURPOSES)[purpose],
                "region": np.asarray(REGIONS)[region],
                self.TARGET: default,
            }
        ), p


def make_model() -> Pipeline:
    """The demo's reference model, to be fitted on a raw frame of ``FEATURES``.

    Categoricals are ordinal-encoded and split on natively by the booster; a category unseen in
    training (the gig segment, for a pre-launch model) becomes -1, which the booster treats as
    missing, so an old model keeps answering, just badly.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    categorical = LendingPortfolio.CATEGORICAL
    encode = ColumnTransformer(
        [
            (
                "categories",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                categorical,
            ),
            ("numbers", "passthrough", LendingPortfolio.NUMERIC),
        ],
        verbose_feature_names_out=False,
    )
    boost = HistGradientBoostingClassifier(
        max_iter=200, random_state=0, categorical_features=list(range(len(categorical)))
    )
    return Pipeline([("encode", encode), ("boost", boost)])
