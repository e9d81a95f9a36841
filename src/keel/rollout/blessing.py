"""Whether a candidate may become champion now, and a blessing earned again when the champion
it was compared with is no longer the champion.

The rule itself is ``keel.registry.promotion``'s; this module adds what a deployment needs on
top: a GateFailed up front (before a canary's first step rather than after its last) naming the
``keel gate`` command, and re-running the gates against the current champion when the model
can be loaded (``refresh_blessing``).
"""

from __future__ import annotations

from keel.domain.names import ModelRef
from keel.domain.policy import Policy
from keel.errors import GateFailed
from keel.registry import governance
from keel.registry.models import resolve_in
from keel.registry.promotion import PromotionCheck, promotion_check_in
from keel.store.artifacts import ArtifactStore
from keel.store.database import Database

__all__ = ["check_promotable", "promotion_check", "promotion_problems", "refresh_blessing"]


def promotion_check(
    db: Database, model: str, version: int, policy: Policy | None = None
) -> PromotionCheck:
    """What the model's policy (the stored one, or ``policy`` when the caller already read it)
    says about ``version`` becoming champion now."""
    with db.read() as conn:
        target = resolve_in(conn, ModelRef(model, version=version))
        return promotion_check_in(conn, model, target.version, policy)


def promotion_problems(db: Database, model: str, version: int) -> list[str]:
    """Why the model's policy would refuse ``version`` as champion (empty: it would not)."""
    return list(promotion_check(db, model, version).problems)


def check_promotable(db: Database, model: str, version: int, policy: Policy | None = None) -> None:
    """GateFailed now, rather than at the last step, when the candidate could not be promoted."""
    check = promotion_check(db, model, version, policy)
    if check.problems:
        raise GateFailed(
            f"{model}/{version} could not become champion under its policy: "
            f"{'; '.join(check.problems)}. Run `{check.gate_command}` before deploying it",
            model=model,
            version=version,
            problems=list(check.problems),
        )


def refresh_blessing(
    db: Database,
    artifacts: ArtifactStore | None,
    actor: str,
    model: str,
    version: int,
    policy: Policy | None = None,
) -> bool:
    """Run the gates of ``model/version`` again when its blessing compared it with another
    champion than the current one (and the policy's gates compare with the champion); returns
    whether it did. Without ``artifacts`` it does nothing, and the policy check that follows
    refuses with the ``keel gate`` command. ``policy``: the stored one, already read."""
    from keel.evaluation.gating import gate_version

    check = promotion_check(db, model, version, policy)
    if not check.stale or artifacts is None:
        return False
    if policy is None:
        policy = governance.get_policy(db, model)
    assert policy is not None  # a stale blessing needs a policy that compares
    before = f"{model}/{check.compared_with}" if check.compared_with else "no champion"
    now = f"{model}/{check.champion}" if check.champion else "no champion"
    cause = f"the champion changed since the blessing (compared with {before}, now {now})"
    gate_version(db, artifacts, actor, ModelRef(model, version=version), policy, cause=cause)
    return True
