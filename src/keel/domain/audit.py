"""The rule that chains audit entries: each entry's hash covers its content and the previous hash.

Changing, removing or reordering any entry breaks every hash after it, so ``verify_chain`` finds
the first entry that was tampered with.

>>> h1 = entry_hash(GENESIS, 1, "2026-01-01T00:00:00+00:00", "ann", "register", "m/1", {})
>>> h2 = entry_hash(h1, 2, "2026-01-01T00:00:01+00:00", "ann", "alias.set", "m", {"alias": "c"})
>>> rows = [(1, "2026-01-01T00:00:00+00:00", "ann", "register", "m/1", {}, GENESIS, h1),
...         (2, "2026-01-01T00:00:01+00:00", "ann", "alias.set", "m", {"alias": "c"}, h1, h2)]
>>> verify_chain(rows)
ChainVerification(intact=True, checked=2, first_bad_seq=None, reason=None)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(
    prev_hash: str,
    seq: int,
    at: str,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any],
) -> str:
    body = canonical_json(
        {"seq": seq, "at": at, "actor": actor, "action": action, "subject": subject, "d": details}
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class ChainVerification:
    intact: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None


AuditRow = tuple[int, str, str, str, str, dict[str, Any], str, str]


@dataclass(frozen=True)
class AuditFinding:
    """One place where the store disagrees with its audit trail.

    ``table`` and ``row`` say where (``aliases``, ``fraud@champion``), ``found`` what the store
    holds there and ``expected`` what replaying the trail says it should hold.

    >>> str(AuditFinding("aliases", "fraud@champion", "version 3", "version 2"))
    'aliases fraud@champion: the store holds version 3; the trail says version 2'
    """

    table: str
    row: str
    found: str
    expected: str

    def __str__(self) -> str:
        return (
            f"{self.table} {self.row}: the store holds {self.found}; the trail says {self.expected}"
        )

    def to_dict(self) -> dict[str, str]:
        return {
            "table": self.table,
            "row": self.row,
            "found": self.found,
            "expected": self.expected,
        }


@dataclass(frozen=True)
class AuditVerification:
    """What ``keel audit verify`` proved: the chain, the head against the newest keyed
    checkpoint, the state tables against the replayed trail and (optionally) the artifacts.

    ``intact`` only when all of them hold; ``checked``, ``first_bad_seq`` and ``reason`` describe
    the hash chain as before. ``checkpoint_seq`` is the checkpoint the head was held against
    (None when there was none), ``artifacts_checked`` how many artifact files were hashed (None
    when that check was skipped), and ``notes`` say what was not checked and why.
    """

    chain: ChainVerification
    findings: tuple[AuditFinding, ...] = ()
    checkpoint_seq: int | None = None
    artifacts_checked: int | None = None
    notes: tuple[str, ...] = ()

    @property
    def intact(self) -> bool:
        return self.chain.intact and not self.findings

    @property
    def checked(self) -> int:
        return self.chain.checked

    @property
    def first_bad_seq(self) -> int | None:
        return self.chain.first_bad_seq

    @property
    def reason(self) -> str | None:
        return self.chain.reason

    def to_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "chain_intact": self.chain.intact,
            "checked": self.checked,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
            "checkpoint_seq": self.checkpoint_seq,
            "artifacts_checked": self.artifacts_checked,
            "findings": [f.to_dict() for f in self.findings],
            "notes": list(self.notes),
        }


def verify_chain(rows: Iterable[AuditRow]) -> ChainVerification:
    """Check rows ``(seq, at, actor, action, subject, details, prev_hash, hash)`` in seq order."""
    expected_prev = GENESIS
    expected_seq = 1
    checked = 0
    for seq, at, actor, action, subject, details, prev_hash, stored in rows:
        if seq != expected_seq:
            return ChainVerification(
                False, checked, expected_seq, f"entry {expected_seq} is missing (next is {seq})"
            )
        if prev_hash != expected_prev:
            return ChainVerification(
                False, checked, seq, "its link to the previous entry does not match"
            )
        if entry_hash(prev_hash, seq, at, actor, action, subject, details) != stored:
            return ChainVerification(False, checked, seq, "its content does not match its hash")
        expected_prev = stored
        expected_seq += 1
        checked += 1
    return ChainVerification(True, checked)
