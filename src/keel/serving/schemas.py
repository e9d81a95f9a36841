"""The predict endpoint's shapes for OpenAPI (``/docs``); the server parses bodies with orjson.

They document, they do not validate: checking each row against the serving version's signature
is what ``inputs`` does, with answers far more useful than a generic schema error.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class InputWarning(BaseModel):
    """A value the model never saw in training, found under the model's input policy."""

    field: str
    row: int = Field(description="Row number in the request.")
    value: Any = Field(None, description="The value as sent.")
    expected: Any = Field(None, description="The training range [min, max], or categories.")
    problem: str = Field(description="outside the training range, or unseen category.")
    code: str = Field(description="out_of_range or unseen_category (the policy's names).")


class Prediction(BaseModel):
    """The answer to one record (a record the input policy rejects is a 422, and logged)."""

    request_id: str = Field(description="The request's id (the X-Request-Id sent, or a new one).")
    model: str
    version: int = Field(description="The version that answered.")
    variant: str = Field(description="stable or candidate (from the deployment's split).")
    prediction: Any = Field(description="The model's predict() for the record.")
    score: float | None = Field(
        None,
        description="Binary classifiers: probability of classes_[1]; several classes: the top "
        "class's probability; regressors: null.",
    )
    warnings: list[InputWarning] | None = Field(
        None, description="The record's flagged values (inputs: flag), or null."
    )


class Predictions(BaseModel):
    """The answer to ``records`` or ``columns``: one prediction and score per row. A row the
    input policy rejects has a null prediction and score and its reasons in ``rejected``; the
    other rows are answered."""

    request_id: str
    model: str
    version: int
    variant: str
    predictions: list[Any]
    scores: list[float] | None = None
    row_ids: list[str] = Field(
        description="Each row's id in the prediction log (<request_id>-<row>), for labels."
    )
    warnings: list[list[InputWarning] | None] | None = Field(
        None,
        description="Null when no row has a flagged value; else one entry per row: null or the "
        "row's flagged values (the row is answered).",
    )
    rejected: list[list[InputWarning] | None] | None = Field(
        None,
        description="Null when no row was rejected; else one entry per row: null or the values "
        "that rejected it (inputs: reject; the row is logged with status rejected).",
    )


class Problem(BaseModel):
    field: str
    row: int | None = Field(None, description="Row number in the request (null: every row).")
    value: Any = None
    expected: Any = None
    problem: str
    code: str | None = Field(
        None, description="For a rejected record: out_of_range or unseen_category."
    )


class ErrorBody(BaseModel):
    """Every error answer: a code, a sentence, and for 422 one entry per problem (other fields
    of the error, such as ``field`` or ``role``, may follow)."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="Machine-readable code, e.g. signature_mismatch.")
    message: str
    problems: list[Problem] | None = Field(None, description="422: one entry per problem.")


_RECORD = {
    "type": "object",
    "description": "One record: feature name to value (plus an optional entity `key`).",
    "additionalProperties": True,
}
_RECORDS = {
    "type": "object",
    "required": ["records"],
    "properties": {
        "records": {"type": "array", "items": {"type": "object"}},
        "key": {"type": "string", "description": "Entity key for sticky deployments."},
    },
}
_COLUMNS = {
    "type": "object",
    "required": ["columns", "data"],
    "properties": {
        "columns": {"type": "array", "items": {"type": "string"}},
        "data": {"type": "array", "items": {"type": "array"}},
        "key": {"type": "string"},
    },
}

PREDICT_REQUEST: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"oneOf": [_RECORDS, _COLUMNS, _RECORD]},
                "examples": {
                    "record": {"value": {"age": 41, "plan": "pro"}},
                    "records": {"value": {"records": [{"age": 41, "plan": "pro"}]}},
                    "columns": {"value": {"columns": ["age", "plan"], "data": [[41, "pro"]]}},
                },
            }
        },
    },
    "parameters": [
        {
            "name": "X-Entity-Key",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "Entity key hashed by sticky deployments (wins over the body's key).",
        },
        {
            "name": "X-Request-Id",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "maxLength": 128},
            "description": "Your id for the request; logged as the request id.",
        },
    ],
}

#: what each error status means on any route; ``error_responses`` picks a route's own
ERRORS: dict[int, str] = {
    400: "The body could not be parsed at all (e.g. nested too deeply).",
    401: "Tokens are configured and none, or an unknown or revoked one, was sent.",
    403: "The token's role is too low for this route.",
    404: "No such model, version, alias or deployment.",
    409: "The request clashes with the current state (a running deployment, a gate, ...).",
    413: "The body is larger than the server accepts.",
    422: "The request or its body is invalid; `problems` names each field.",
    500: "The model raised on valid input (only the requests it raised on fail).",
    503: "Not loaded yet, the store cannot be reached or the log cannot be written.",
}


def error_responses(
    *statuses: int, described: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route can answer, each with the JSON error
    body; ``described`` replaces the general wording of a status for this route."""
    own = described or {}
    return {
        status: {"model": ErrorBody, "description": own.get(status, ERRORS[status])}
        for status in statuses
    }


def _inlined(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema with its ``$defs`` written in place: the OpenAPI document has no
    ``$defs`` at its root for the references to point at."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref", "")
            if reference.startswith("#/$defs/"):
                return resolve(definitions[reference.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return dict(resolve(schema))


PREDICT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prediction(s) from the serving version, logged before this answer.",
        "content": {
            "application/json": {"schema": {"oneOf": [_inlined(Prediction), _inlined(Predictions)]}}
        },
    },
    **error_responses(
        401,
        403,
        404,
        413,
        422,
        500,
        503,
        described={
            404: "No such model is served.",
            422: "The body is not JSON, or the input does not match the signature.",
        },
    ),
}
