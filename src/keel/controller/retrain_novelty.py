"""Whether a retrain would learn anything its champion has not: the labelled production rows its
candidate would train on, against the rows its champion's own window took.

A candidate fit on exactly the rows the champion was fit (or gated) on is the champion again plus
noise: gating it judges that noise, and a rejection or a blessing of it says nothing. So before
a retrain trains, the autopilot asks this module which of the rows the training window would
train on are new to the champion:

- the window's rows: the newest ``training.recent_rows`` predictions served without error whose
  label had arrived by the retrain's time, oldest to newest, less the newest ``training.holdout``
  share that is kept back for the gates (when that share is at least 50 rows; below that the
  whole of them is trained on), as ``keel.controller.retrain_window`` picks them; with
  ``training.refit`` on, the holdout too, since the model that ships is refit on it;
- the rows the champion saw: none of the production log for a version registered by hand (its
  training snapshot is all it saw, and the window's snapshot rows are that snapshot); for a
  version a retrain made (tagged ``retrain``, a refit too), every labelled production row of
  that retrain's window, trained on or held out, picked the same way at that retrain's time
  under the policy it ran with (its pipeline run's parameters).

The log and the labels are append-only, so the champion's window read again is the window it
had. A window whose rows the champion saw, every one, has nothing to teach: the retrain is held.

>>> found = Novelty(rows=420, unseen=0, champion=2, retrain=1)
>>> found.held, found.reason().split("; ")[0]  # doctest: +NORMALIZE_WHITESPACE
(True, 'held: no labelled row the champion has not seen (the 420 labelled rows the candidate
would train on were all in the window of retrain #1, which made v2)')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from keel.domain.names import ModelRef
from keel.domain.policy import Policy
from keel.domain.retraining import RETRAIN_TAG
from keel.errors import NotFound

if TYPE_CHECKING:
    import pandas as pd

    from keel.services import Services

__all__ = ["Novelty", "novelty"]

#: the smallest held-out share of production rows the window judges on (else it holds out
#: part of the original snapshot and trains on every production row)
MIN_HOLDOUT_ROWS = 50


@dataclass(frozen=True)
class Novelty:
    """How many labelled production rows the candidate would train on, and how many of them
    the champion (``v<champion>``, made by retrain ``retrain`` or registered by hand) did not
    see."""

    rows: int
    unseen: int
    champion: int
    retrain: int | None = None

    @property
    def held(self) -> bool:
        """Whether the retrain has nothing to learn that its champion has not."""
        return self.unseen == 0

    def reason(self) -> str:
        """The held retrain's outcome, saying which rows and whose window."""
        head = "held: no labelled row the champion has not seen"
        wait = "a retrain learns something once labels arrive for newer predictions"
        if self.rows == 0:
            why = (
                f"no labelled production row to train on, only what v{self.champion} was trained on"
            )
        elif self.retrain is None:  # cannot happen: a hand-registered champion saw no log row
            why = f"the {self.rows} labelled rows were all seen by v{self.champion}"
        else:
            why = (
                f"the {self.rows} labelled rows the candidate would train on were all in the "
                f"window of retrain #{self.retrain}, which made v{self.champion}"
            )
        return f"{head} ({why}); {wait}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "unseen": self.unseen,
            "champion": self.champion,
            "retrain": self.retrain,
        }


def novelty(
    services: Services, model: str, champion: int, policy: Policy, now: datetime
) -> Novelty:
    """Which of the labelled rows a retrain of ``model`` at ``now`` under ``policy`` would train
    on are new to version ``champion``."""
    from keel.monitoring.labelling import read_labels
    from keel.registry.predictions import read_log

    stores = services.stores
    log = read_log(stores.logs, "predictions", model).to_pandas()
    labels = read_labels(stores.logs, model, arrival=True)
    spec = policy.retraining.training
    window = _labelled(log, labels, now, spec.recent_rows)
    cut = round(len(window) * spec.holdout)
    # with ``refit`` the shipped model trains on the holdout too: its new rows count
    held_out = cut >= MIN_HOLDOUT_ROWS and not spec.refit
    train = window[: len(window) - cut] if held_out else window
    version = services.registry.get_version(ModelRef(model, version=champion))
    made_by = str(version.tags.get(RETRAIN_TAG, ""))
    seen: set[str] = set()
    retrain = int(made_by) if made_by.isdigit() else None
    if retrain is not None:
        moment, rows = _window_of(services, retrain, policy)
        if moment is None:  # its run is gone: nobody can say what it saw, so nothing is held
            return Novelty(len(train), len(train), champion, retrain)
        seen = set(_labelled(log, labels, moment, rows))
    unseen = sum(1 for request in train if request not in seen)
    return Novelty(len(train), unseen, champion, retrain)


def _labelled(log: pd.DataFrame, labels: pd.DataFrame, now: datetime, rows: int) -> list[str]:
    """The request ids of the newest ``rows`` predictions served without error whose label had
    arrived by ``now``, oldest first: the production rows of a window made at ``now``."""
    import pandas as pd

    from keel.controller.retrain_window import newest_labelled

    if log.empty or labels.empty:
        return []
    joined = newest_labelled(log, labels, pd.Timestamp(now), rows)
    return [str(r) for r in joined["request_id"]]


def _window_of(services: Services, retrain: int, policy: Policy) -> tuple[datetime | None, int]:
    """When retrain ``retrain`` made its window and how many production rows it took (under the
    policy its run recorded; ``policy`` for a run that recorded none)."""
    from keel.controller import retrains
    from keel.pipelines import records

    try:
        made = retrains.get(services.stores.db, retrain)
        run = records.get_run(services.stores.db, str(made.pipeline_run_id))
    except NotFound:
        return None, 0
    when = run.params.get("now")
    if not isinstance(when, str):
        return None, 0
    ran = run.params.get("policy")
    rules = Policy.parse(ran, "params.policy") if isinstance(ran, dict) else policy
    return datetime.fromisoformat(when), rules.retraining.training.recent_rows
