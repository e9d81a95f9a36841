"""What every step of the retraining pipeline opens first: the services over the run's stores,
and the policy the run follows (with the label column it names)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from keel.domain.policy import Policy
from keel.errors import InvalidInput
from keel.pipelines.step import StepContext
from keel.services import Services
from keel.stores import Stores

__all__ = ["opened", "run_policy", "target_of"]


@contextlib.contextmanager
def opened(context: StepContext) -> Iterator[Services]:
    """The services over the run's stores, opened where the step runs (a thread, a process
    or a Ray worker) and closed when it is done: a step receives settings, never objects."""
    stores = Stores.open(context.settings())
    try:
        yield Services.over(stores)
    finally:
        stores.close()


def target_of(policy: Policy) -> str:
    suite = policy.gate_suite()
    target = policy.monitoring.target or (suite.target if suite is not None else None)
    if target is None:
        raise InvalidInput(
            "monitoring.target", "a retrain needs the label column: set monitoring.target"
        )
    return target


def run_policy(services: Services, model: str, policy: dict[str, Any] | None) -> Policy:
    """The policy a step follows: the one the run was started with (``policy``, its dict, a run
    parameter, so every step of a pass follows the policy the pass read, wherever it runs, and
    the run's record says which policy trained the model); the stored one only for a run
    started without it, before runs carried their policy."""
    if policy is not None:
        return Policy.parse(policy, "params.policy")
    return services.governance.get_policy(model) or Policy()
