"""The standard retraining pipeline: training window -> setup -> candidate -> registered ->
gate -> refitted.

- ``training_window``: the newest labelled production rows (labels that had arrived by the
  retrain's time), topped up from the original training snapshot as the policy says; the newest
  ``holdout`` share is kept back, so the gates judge the candidate (and the champion, for the
  comparative gates) on the most recent data; both parts carry the champion's training types
  (the log keeps categories as text), a category it never saw appended as a new one;
- ``setup``: which training setup the retrain uses (``training.selection``, on by default):
  each candidate setup (by default all rows, the newest 40%, the newest 15%) is
  fit on the training rows less their newest ``validation`` share and scored on that share;
  the best one's setup is the retrain's, recorded with every candidate's score in the retrain's
  details and on the version (tag ``training_setup``);
- ``candidate``: the chosen setup of the policy's trainer (``module:function`` taking the
  training frame and the target), or else of the champion's own estimator cloned and refit
  (any scikit-learn model); with ``training.refit`` on, the winner the choice already fit;
- ``registered``: a new version with its training and holdout snapshots as lineage, carrying
  the retrain's id, which the store keeps unique: a resumed run, or one that was paused past its
  lease while another controller took the retrain over and registered, uses the version already
  registered for the retrain, never a second;
- ``gate``: the policy's gates on the holdout; a rejection is an outcome, not a failure;
- ``refitted`` (``standard_pipeline(refit=True)``, which the autopilot runs when the policy's
  ``training.refit`` is on): the version to deploy. With ``training.refit`` false it hands the
  gated version on unchanged. With it true and the candidate blessed, the same trainer is fit
  again on the training rows and the holdout together and registered as a version of its own
  (tagged ``refit_of`` the gated one, which stays registered, archived); it carries the gated
  twin's verdict, checks and evaluation as its gate result, with a reason saying so. The
  trade-off: the shipped model learns from the newest rows, the ones most like what it will
  serve, but its blessing is by proxy (no gate saw it on data it had not trained on); the
  rollout's own analysis is then the first judge of the shipped model itself.

Every step follows the policy the autopilot's pass read, handed to the run as its ``policy``
parameter (the policy's dict, recorded with the run's parameters, so lineage shows which policy
trained the model), not the stored one: a step may run on another worker, and one pass reads the
stored policy once. A run started without it (before runs carried their policy) reads the
stored policy, as it did then.

Deploying is the controller's job, so the pipeline stays free of rollout concerns.

The steps live in modules of their own and are re-exported here, under the dotted paths they
have always had (``keel.controller.retraining.<step>``), so whatever names them there (a stored
run's code, a user's custom pipeline) keeps finding the same functions.
"""

from __future__ import annotations

from keel.controller.retrain_context import opened, run_policy, target_of
from keel.controller.retrain_fitting import candidate, recency_weights
from keel.controller.retrain_gate import gate
from keel.controller.retrain_refit import refitted
from keel.controller.retrain_registration import registered
from keel.controller.retrain_setup import setup
from keel.controller.retrain_window import training_window
from keel.pipelines.pipeline import Pipeline

__all__ = [
    "candidate",
    "gate",
    "opened",
    "recency_weights",
    "refitted",
    "registered",
    "run_policy",
    "setup",
    "standard_pipeline",
    "target_of",
    "training_window",
]


def standard_pipeline(*, refit: bool = False, choose: bool = True) -> Pipeline:
    """The retraining pipeline; with ``refit`` it ends with the ``refitted`` step (which passes
    the gated version through unchanged when the policy's ``training.refit`` is false). Without
    ``choose`` it has no ``setup`` step: the steps of a run stored before the step existed, which
    resumes with the steps it started with."""
    steps = [training_window, *([setup] if choose else []), candidate, registered, gate]
    return Pipeline("retrain", [*steps, refitted] if refit else steps)
