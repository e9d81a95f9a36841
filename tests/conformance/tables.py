"""The real tables every flavour is run on: bank marketing and SBA loans (``../shared/data``).

Each table is cut by time, as production cuts it: a model is trained on an early period and then
serves the rows of a later one, which drift (the subscription rate of the bank climbs from ~10 %
to ~50 % after mid-2009 and the Euribor falls below anything seen in training; SBA defaults climb
from < 30 % to ~55 % in FY2006-2008). The categorical columns are pandas ``category`` columns
whose categories are the *training* rows' values, as a user's ``astype("category")`` on the
training frame makes them; later rows arrive as plain values (text, or ints for an int category)
and may hold values training never saw.

- ``train``: a sample of the early period, typed (categories, ints, floats), with the target;
- ``holdout``: other rows of the early period, typed like ``train`` (the evaluation snapshot);
- ``production``: the later period in time order, untyped (what clients send).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: the bank file's first row of 2009-06 (its ``row_id``): training ends, production begins
BANK_PRODUCTION_START = 36_224
BANK_CATEGORIES = (
    "job",
    "marital",
    "education",
    "default",
    "housing",
    "loan",
    "contact",
    "month",
    "day_of_week",
    "poutcome",
)
#: known only after the call (``duration``), the raw label (``y``) and derived bookkeeping
BANK_DROPPED = ("duration", "y", "row_id", "year_derived", "year_month_derived")

#: SBA approvals up to this fiscal year train; later ones are production
SBA_LAST_TRAINING_FY = 2005
SBA_CATEGORIES = ("NewExist", "UrbanRural", "RevLineCr", "LowDoc", "BankState")
SBA_NUMBERS = (
    "Term",
    "NoEmp",
    "CreateJob",
    "RetainedJob",
    "DisbursementGross",
    "GrAppv",
    "SBA_Appv",
    "RealEstate",
    "Portion",
    "Recession",
)
#: ``NewExist`` is a code: 1 an existing business, 2 a new one, 0 (and blank) undetermined
NEW_EXIST = {1.0: "existing", 2.0: "new", 0.0: "undetermined"}
#: what a missing categorical value is called (CatBoost takes no missing category, so the table
#: names them, as a CatBoost user has to)
MISSING = "missing"


@dataclass(frozen=True)
class Table:
    name: str
    target: str
    categorical: tuple[str, ...]
    train: pd.DataFrame = field(repr=False)
    holdout: pd.DataFrame = field(repr=False)
    production: pd.DataFrame = field(repr=False)
    #: features whose shift from training to production a drift test must find
    shifted: tuple[str, ...] = ()

    @property
    def features(self) -> list[str]:
        return [c for c in self.train.columns if c != self.target]

    @property
    def numeric(self) -> list[str]:
        return [c for c in self.features if c not in self.categorical]

    def categories(self, column: str) -> list[Any]:
        return list(self.train[column].cat.categories)

    def typed(self, rows: pd.DataFrame) -> pd.DataFrame:
        """``rows``' features with the training dtypes: each category column with the training
        categories in order (values matched by their label; one never seen in training is
        missing), numbers as trained.
        This is the frame the native objects are given."""
        out: dict[str, Any] = {}
        for column in self.features:
            values, dtype = rows[column], self.train[column].dtype
            if isinstance(dtype, pd.CategoricalDtype):
                out[column] = as_category(values, dtype)
            else:
                out[column] = values.astype(dtype).to_numpy()
        return pd.DataFrame(out, index=rows.index, columns=self.features)

    def ranges(self) -> dict[str, tuple[float, float]]:
        return {c: (self.train[c].min(), self.train[c].max()) for c in self.numeric}

    def expected_warnings(self, rows: pd.DataFrame) -> set[tuple[int, str, str]]:
        """(row position, field, code) for every value of ``rows`` outside the training range or
        never seen in training: what the input policy must flag."""
        found: set[tuple[int, str, str]] = set()
        for column, (low, high) in self.ranges().items():
            values = rows[column].to_numpy(dtype="float64")
            for position in np.flatnonzero((values < low) | (values > high)):
                found.add((int(position), column, "out_of_range"))
        for column in self.categorical:
            known = {str(c) for c in self.categories(column)}
            for index, value in enumerate(rows[column].astype(str)):
                if value not in known:
                    found.add((index, column, "unseen_category"))
        return found


def as_category(values: pd.Series, dtype: pd.CategoricalDtype) -> pd.Categorical:
    """``values`` as a categorical of ``dtype``, each matched by its label (``"1"`` is the int
    category 1, as clients send it); a value not among the categories is missing."""
    labels = {str(category): position for position, category in enumerate(dtype.categories)}
    codes = [-1 if pd.isna(v) else labels.get(str(v), -1) for v in values.astype(object)]
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _typed_split(
    name: str,
    target: str,
    categorical: tuple[str, ...],
    early: pd.DataFrame,
    production: pd.DataFrame,
    train_rows: int,
    seed: int,
    shifted: tuple[str, ...],
) -> Table:
    shuffled = early.sample(frac=1.0, random_state=seed)
    train = shuffled.iloc[:train_rows].sort_index()
    holdout = shuffled.iloc[train_rows:].sort_index()
    train = train.astype({c: "category" for c in categorical})
    dtypes = {c: pd.CategoricalDtype(train[c].cat.categories) for c in categorical}
    holdout = holdout.assign(**{c: as_category(holdout[c], dtypes[c]) for c in categorical})
    # a holdout row with a category training never saw would be a missing value to the models;
    # the evaluation snapshot keeps to rows the model could have seen
    seen = holdout[list(categorical)].notna().all(axis=1)
    return Table(
        name=name,
        target=target,
        categorical=categorical,
        train=train.reset_index(drop=True),
        holdout=holdout[seen].reset_index(drop=True),
        production=production.reset_index(drop=True),
        shifted=shifted,
    )


@cache
def bank(folder: Path, train_rows: int = 3000, holdout_rows: int = 1000) -> Table:
    """Bank marketing: May 2008 - May 2009 trains (a sample), June 2009 - Nov 2010 serves."""
    frame = pd.read_csv(folder / "bank_marketing" / "bank_additional_full.csv")
    frame = frame.sort_values("row_id", kind="stable").drop(columns=list(BANK_DROPPED))
    frame = frame.reset_index(drop=True)
    early = frame.iloc[:BANK_PRODUCTION_START].sample(train_rows + holdout_rows, random_state=0)
    production = frame.iloc[BANK_PRODUCTION_START:]
    return _typed_split(
        "bank",
        "target",
        BANK_CATEGORIES,
        early,
        production,
        train_rows,
        seed=1,
        shifted=("euribor3m", "nr.employed", "emp.var.rate"),
    )


@cache
def sba(folder: Path, holdout_share: float = 0.25) -> Table:
    """SBA 7(a) loans, all of them: approvals up to FY2005 train, later ones serve.

    Dropped: the outcome's own columns (``MIS_Status``, ``ChgOffDate``, ``ChgOffPrinGr``,
    ``BalanceGross``), ids and names (``LoanNr_ChkDgt``, ``Name``, ``Zip``, ``Bank``, ``City``,
    ``State`` (always CA), ``Selected``, ``NAICS``), dates (``ApprovalDate``, ``ApprovalFY``,
    ``DisbursementDate``, ``xx`` and their ISO twins: a date is always out of range later),
    ``daysterm`` (``Term`` in days), ``New`` (``NewExist`` again) and ``FranchiseCode``."""
    raw = pd.read_csv(folder / "sba_loans_case" / "sba_loans_case.csv")
    raw = raw.sort_values("ApprovalDate_iso", kind="stable").reset_index(drop=True)
    frame = raw[[*SBA_NUMBERS, *SBA_CATEGORIES, "Default"]].copy()
    frame["NewExist"] = raw["NewExist"].map(NEW_EXIST).fillna("undetermined")
    for column in ("RevLineCr", "LowDoc", "BankState"):
        frame[column] = raw[column].fillna(MISSING).astype(str)
    frame["Portion"] = frame["Portion"].astype("float64")
    early_mask = raw["ApprovalFY"] <= SBA_LAST_TRAINING_FY
    early = frame[early_mask]
    train_rows = len(early) - round(len(early) * holdout_share)
    return _typed_split(
        "sba",
        "Default",
        SBA_CATEGORIES,
        early,
        frame[~early_mask],
        train_rows,
        seed=2,
        shifted=("Term", "Portion", "BankState"),
    )


TABLES = {"bank": bank, "sba": sba}
