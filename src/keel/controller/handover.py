"""What the retraining pipeline's steps hand on, typed: the version ``registered`` made, the
``gate``'s verdict, and the ``Handover`` the autopilot deploys from (the ``refitted`` step's, or
one made of ``registered`` and ``gate`` for a pipeline without that step).

>>> outputs = {"registered": Registered(4, "risk-retrain-holdout/2"),
...            "gate": GateVerdict("blessed", ("accuracy 0.93 >= 0.92",))}
>>> handover = Handover.of(outputs)
>>> handover.version, handover.verdict.blessed
(4, True)
>>> handover.details()["gate"]
{'verdict': 'blessed', 'reasons': ['accuracy 0.93 >= 0.92']}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["GateVerdict", "Handover", "Registered"]


@dataclass(frozen=True)
class Registered:
    """The candidate version a retrain registered, and its holdout snapshot's reference."""

    version: int
    holdout: str

    @classmethod
    def of(cls, output: Registered | Mapping[str, Any]) -> Registered:
        """The step's output; a mapping is what runs started before these types left."""
        if isinstance(output, Registered):
            return output
        return cls(int(output["version"]), str(output["holdout"]))

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "holdout": self.holdout}


@dataclass(frozen=True)
class GateVerdict:
    """``blessed`` or ``rejected``, and why."""

    verdict: str
    reasons: tuple[str, ...] = ()

    @property
    def blessed(self) -> bool:
        return self.verdict == "blessed"

    @classmethod
    def of(cls, output: GateVerdict | Mapping[str, Any]) -> GateVerdict:
        if isinstance(output, GateVerdict):
            return output
        return cls(str(output["verdict"]), tuple(output.get("reasons") or ()))

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Handover:
    """The version a finished pipeline hands over to deploy, with its verdict; with
    ``training.refit`` it is the refit of ``gated_version``, blessed by proxy."""

    version: int
    holdout: str
    verdict: GateVerdict
    gated_version: int

    @classmethod
    def of(cls, outputs: Mapping[str, Any]) -> Handover:
        """From a run's outputs: its ``refitted`` step's, else its ``registered`` and
        ``gate`` steps'."""
        refit = outputs.get("refitted")
        if isinstance(refit, Handover):
            return refit
        if refit is not None:  # a mapping: a run started before these types
            return cls(
                int(refit["version"]),
                str(refit["holdout"]),
                GateVerdict(str(refit["verdict"]), tuple(refit.get("reasons") or ())),
                int(refit.get("gated_version", refit["version"])),
            )
        registered = Registered.of(outputs["registered"])
        verdict = GateVerdict.of(outputs["gate"])
        return cls(registered.version, registered.holdout, verdict, registered.version)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "holdout": self.holdout,
            **self.verdict.to_dict(),
            "gated_version": self.gated_version,
        }

    def details(self) -> dict[str, Any]:
        """What the retrain's record keeps: the verdict, the holdout, and the gated version
        when the deployed one is its refit."""
        kept: dict[str, Any] = {"gate": self.verdict.to_dict(), "holdout": self.holdout}
        if self.gated_version != self.version:
            kept["gated_version"] = self.gated_version
        return kept
