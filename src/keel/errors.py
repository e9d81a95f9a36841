"""Every error Keel raises on purpose.

Each exception carries keyword fields so code can react to it without parsing the message; the
message names the thing that went wrong and, where there is one, the fix.

    KeelError
    ├── InvalidInput            a value given to Keel is malformed (field, problem)
    │   └── SignatureMismatch   a DataFrame does not match a model's input signature (problems)
    ├── NotFound                a model, version, alias, snapshot, run or artifact does not exist
    │   └── StoreNotFound       no store at a path, and the command may not create one
    ├── Conflict                the request clashes with the current state (e.g. archived version)
    │   └── StoreConflict       the store refused a duplicate record (a lost race; retried)
    ├── GateFailed              a promotion was refused because the version is not blessed
    ├── PipelineFailed          a pipeline step raised; the run can be resumed from that step
    ├── ModelFailed             a model's own code raised while Keel ran it (load, predict)
    ├── FrameworkMissing        a model's framework (its flavour's package) is not installed
    ├── IntegrityError          stored bytes or records are not what the registry says they are
    │   ├── ArtifactCorrupted   an artifact's SHA-256 differs from the registered one
    │   └── UntrustedArtifact   an artifact holds types that are not trusted for loading
    └── StoreError              the metadata store cannot be used
        ├── StoreUnavailable    the store cannot be reached or answered with an error
        └── SchemaTooNew        the store was created by a newer Keel
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArtifactCorrupted",
    "Conflict",
    "FrameworkMissing",
    "GateFailed",
    "IntegrityError",
    "InvalidInput",
    "KeelError",
    "ModelFailed",
    "NotFound",
    "PipelineFailed",
    "SchemaTooNew",
    "SignatureMismatch",
    "StoreConflict",
    "StoreError",
    "StoreNotFound",
    "StoreUnavailable",
    "UntrustedArtifact",
]


class KeelError(Exception):
    """Base of every error Keel raises on purpose; ``fields`` holds the structured details."""

    #: short machine-readable code used by the CLI and the HTTP layer
    code = "keel_error"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.fields}


class InvalidInput(KeelError):
    code = "invalid_input"

    def __init__(self, field: str, problem: str, **fields: Any) -> None:
        super().__init__(f"{field}: {problem}", field=field, problem=problem, **fields)
        self.field = field
        self.problem = problem


class SignatureMismatch(InvalidInput):
    """Raised with one entry per problem, so a caller can show them all at once."""

    code = "signature_mismatch"

    def __init__(self, problems: list[dict[str, Any]], *, model: str | None = None) -> None:
        shown = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        target = f" of {model}" if model else ""
        KeelError.__init__(
            self,
            f"input does not match the signature{target}: {shown}{more}",
            problems=problems,
            model=model,
        )
        self.field = problems[0]["field"] if problems else ""
        self.problem = problems[0]["problem"] if problems else ""
        self.problems = problems


class NotFound(KeelError):
    code = "not_found"

    def __init__(self, kind: str, name: str, hint: str | None = None) -> None:
        message = f"{kind} {name!r} not found"
        if hint:
            message += f"; {hint}"
        super().__init__(message, kind=kind, name=name)
        self.kind = kind
        self.name = name


class StoreNotFound(NotFound):
    """A SQLite file or artifact folder that is not there, opened by something that only reads
    or changes a store (a typo in ``--store`` must not quietly start an empty one)."""

    code = "store_not_found"

    def __init__(self, path: str, *, what: str = "store", hint: str | None = None) -> None:
        KeelError.__init__(
            self,
            f"no {what} at {path}" + (f"; {hint}" if hint else ""),
            kind=what,
            name=path,
        )
        self.kind = what
        self.name = path


class Conflict(KeelError):
    code = "conflict"


class StoreConflict(Conflict):
    """A unique constraint refused a write, usually because another process won a race."""

    code = "store_conflict"


class GateFailed(KeelError):
    code = "gate_failed"


class PipelineFailed(KeelError):
    code = "pipeline_failed"

    def __init__(self, run_id: str, step: str, error: str) -> None:
        super().__init__(
            f"pipeline run {run_id} failed in step {step!r}: {error}; the finished steps are "
            "kept: fix the cause and resume the run (Pipeline.run(client, resume=RUN_ID))",
            run_id=run_id,
            step=step,
            error=error,
        )
        self.run_id = run_id
        self.step = step
        self.error = error


class ModelFailed(KeelError):
    """A registered model's own code raised while Keel ran it (loading it, predicting with it).

    Whatever the model raised is caught at that boundary and carried here by name and message:
    ``model`` and ``version`` name the version, ``raised`` the exception's type, ``detail`` its
    message (cut to 500 characters), ``during`` what Keel was doing. A canary whose candidate
    fails like this is rolled back (``keel.rollout``)."""

    code = "model_failed"

    def __init__(self, model: str, version: int, exc: BaseException, *, during: str) -> None:
        raised = type(exc).__name__
        detail = str(exc)
        if len(detail) > 500:
            detail = detail[:497] + "..."
        super().__init__(
            f"{model}/{version} raised {raised}: {detail} ({during})",
            model=model,
            version=version,
            raised=raised,
            detail=detail,
            during=during,
        )
        self.model = model
        self.version = version
        self.raised = raised
        self.detail = detail
        self.during = during


class FrameworkMissing(KeelError):
    """The model is of a flavour whose framework is not installed here (``package``), so it can
    be neither saved nor loaded; ``install`` is the command that adds it."""

    code = "framework_missing"

    def __init__(self, flavour: str, package: str, extra: str) -> None:
        install = f"pip install 'mlkeel[{extra}]'"
        super().__init__(
            f"this is a {flavour} model and {package} is not installed; install it with {install}",
            flavour=flavour,
            package=package,
            install=install,
        )
        self.flavour = flavour
        self.package = package
        self.install = install


class IntegrityError(KeelError):
    code = "integrity_error"


class ArtifactCorrupted(IntegrityError):
    code = "artifact_corrupted"

    def __init__(self, sha256: str, actual: str, location: str) -> None:
        super().__init__(
            f"artifact {sha256[:12]} at {location} is corrupted: its content hashes to "
            f"{actual[:12]}; restore the file from a backup or register the model again",
            sha256=sha256,
            actual=actual,
            location=location,
        )


class UntrustedArtifact(IntegrityError):
    """Loading would rebuild types (or run code) that nobody trusted for this version.

    ``types`` names them exactly; ``runs_code`` is true for a format that runs code while loading
    (cloudpickle); ``hint`` says how to record the trust."""

    code = "untrusted_artifact"

    def __init__(
        self, sha256: str, types: list[str], *, hint: str = "", code: bool = False
    ) -> None:
        what = "runs code while loading" if code else "holds types that are not trusted"
        listed = f": {', '.join(types)}" if types else ""
        super().__init__(
            f"artifact {sha256[:12]} {what}{listed}"
            + (f"; {hint}" if hint else "; nothing was loaded"),
            sha256=sha256,
            types=types,
            runs_code=code,
            hint=hint,
        )


class StoreError(KeelError):
    code = "store_error"


class StoreUnavailable(StoreError):
    code = "store_unavailable"


class SchemaTooNew(StoreError):
    code = "schema_too_new"

    def __init__(self, url: str, found: str, supported: str) -> None:
        super().__init__(
            f"the store at {url} has schema revision {found!r}, newer than this Keel supports "
            f"({supported!r}); upgrade mlkeel to open it",
            url=url,
            found=found,
            supported=supported,
        )
