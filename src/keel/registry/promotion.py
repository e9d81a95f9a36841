"""The rule a version must meet before ``champion`` may point at it, under the model's policy.

One definition, read by every door that moves the champion: the alias itself
(``keel.registry.aliases``, in the transaction that moves it) and the rollout's up-front check
(``keel.rollout.actions``), whether the move comes from the SDK, the CLI, the HTTP management
API, the dashboard or the controller.

A blessing names the champion it beat. When the policy has gates that compare with the
champion, a blessing earned against another champion (or against none, because none existed
then) says nothing about the current one: the check reports it as ``stale``, so the rollout can
run the gates again before it promotes, and the alias refuses with the ``keel gate`` command.

Example (a ``high`` policy; ``fraud/4`` was blessed when ``fraud/1`` was champion, and
``fraud/3`` is champion now)::

    check = promotion_check_in(conn, "fraud", 4)
    check.stale, check.compared_with, check.champion   # (True, 1, 3)
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection

from keel.domain.policy import Policy
from keel.registry import governance
from keel.registry.deployments import champion_in
from keel.registry.models import model_id_of, version_id_of

__all__ = ["PromotionCheck", "promotion_check_in"]


@dataclass(frozen=True)
class PromotionCheck:
    """What the model's policy says about ``version`` becoming champion now.

    ``problems`` is empty when it may; ``stale`` is true when one of them is a blessing that
    compared the version with another champion than the current one (``compared_with``, a
    version number or None for "no champion") and the policy's gates compare with the champion.
    """

    model: str
    version: int
    risk_profile: str | None  # None: the model has no policy
    problems: tuple[str, ...] = ()
    stale: bool = False
    compared_with: int | None = None
    champion: int | None = None

    @property
    def allowed(self) -> bool:
        return not self.problems

    @property
    def gate_command(self) -> str:
        return f"keel gate {self.model}/{self.version}"


def promotion_check_in(
    conn: Connection, model: str, version: int, policy: Policy | None = None
) -> PromotionCheck:
    """Check ``model/version`` against the stored policy (or ``policy``, the one the caller
    already read for this decision) and the current champion."""
    if policy is None:
        policy = governance.policy_in(conn, model)
    if policy is None:
        return PromotionCheck(model, version, None)
    version_id = version_id_of(conn, model_id_of(conn, model), model, version)
    champion = champion_in(conn, model)
    rule = policy.promotion
    problems: list[str] = []
    stale, compared_with = False, None
    if rule.require_blessing or rule.require_comparative:
        gate = governance.latest_gate_in(conn, version_id)
        if gate is None:
            problems.append("it has not passed the gates (none were run)")
        elif not gate.blessed:
            verdict, reasons = gate.verdict, "; ".join(gate.reasons)
            problems.append(f"its latest gate verdict is {verdict}: {reasons}")
        else:
            compared_with = gate.champion_version
            if (
                policy.gates.compares_with_champion
                and champion != version
                and compared_with != champion
            ):
                stale = True
                problems.append(_stale_problem(model, compared_with, champion))
    if rule.require_approval and not governance.approvals_in(conn, version_id):
        problems.append("it has no recorded approval")
    return PromotionCheck(
        model, version, policy.risk_profile, tuple(problems), stale, compared_with, champion
    )


def _stale_problem(model: str, compared_with: int | None, champion: int | None) -> str:
    before = f"champion {model}/{compared_with}" if compared_with else "no champion"
    now = f"the champion is now {model}/{champion}" if champion else "there is no champion now"
    return f"its blessing compared it with {before}, but {now}"
