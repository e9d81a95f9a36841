"""The demo's two injected incidents, so the story shows what the gates and the canary catch.

A bad trainer change joins outcomes to the wrong applications: the gates must reject what it
trains. A candidate's feature lookup times out in production once the chaos switch is on (it is
switched on when that candidate's canary starts): the canary must roll it back. Both are counted
by the candidate the trainer makes, so the replay is the same every time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console

__all__ = ["INJECT", "FlakyLookup", "switch_chaos", "train"]

#: The demo's two injected incidents, by the number of the candidate the trainer makes
#: (1-based): a bad code change that joins outcomes to the wrong applications (the gates must
#: reject what it trains), and a candidate
#: whose feature lookup fails in production once the chaos switch is on (the canary must roll it
#: back). ``chaos`` is switched on by the demo when that candidate's canary starts.
INJECT: dict[str, Any] = {"buggy": 1, "flaky": 2, "trained": 0, "chaos": False, "share": 0.5}


class FlakyLookup:
    """A model behind a feature lookup that times out on a share of production requests while
    the demo's chaos switch is on; offline (gates) it answers exactly like the model it wraps."""

    def __init__(self, model: Any, share: float, seed: int = 0) -> None:
        self.model = model
        self.share = share
        self.classes_ = model.classes_
        self.feature_names_in_ = getattr(model, "feature_names_in_", None)
        self._rng = np.random.default_rng(seed)

    def _lookup(self) -> None:
        if INJECT["chaos"] and self._rng.random() < self.share:
            raise TimeoutError("feature lookup timed out (injected)")

    def predict(self, frame: Any) -> Any:
        self._lookup()
        return self.model.predict(frame)

    def predict_proba(self, frame: Any) -> Any:
        self._lookup()
        return self.model.predict_proba(frame)


def train(frame: pd.DataFrame, target: str) -> Any:
    """The policy's trainer for the lending model (``keel.demo.incidents:train``)."""
    from keel.demo.lending import LendingPortfolio, make_model

    INJECT["trained"] += 1
    outcomes = frame[target].to_numpy()
    if INJECT["trained"] == INJECT["buggy"]:  # the bad change: outcomes on the wrong rows
        outcomes = np.random.default_rng(0).permutation(outcomes)
    fitted = make_model().fit(frame[LendingPortfolio.FEATURES], outcomes)
    if INJECT["trained"] == INJECT["flaky"]:
        return FlakyLookup(fitted, INJECT["share"])
    return fitted


def switch_chaos(
    client: Any, model: str, decisions: list[Any], console: Console, story: Any, tick: Any
) -> None:
    """Switch the injected fault on while the flaky candidate is in its canary, off after."""
    for decision in decisions:
        if decision.action == "deploy":
            retrain = client.retrains(model, limit=1)[0]
            version = client.get_version(f"{model}/{retrain.candidate_version}")
            if version.model_class.endswith("FlakyLookup") and not INJECT["chaos"]:
                INJECT["chaos"] = True
                text = (
                    f"injected: {version.ref}'s feature lookup now times out on "
                    f"{INJECT['share']:.0%} of its requests"
                )
                story.add(tick.end, "injected", text)
                console.print(f"  {tick.end:%Y-%m-%d}  [magenta]{text}[/magenta]")
        if decision.action in ("rolled_back", "promoted", "stopped"):
            INJECT["chaos"] = False
