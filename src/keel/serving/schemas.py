"""The predict endpoint's shapes for OpenAPI (``/docs``); the server parses bodies with orjson.

They document, they do not validate: checking each row against the serving version's signature
is what ``inputs`` does, with answers far more useful than a generic schema error.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Prediction(BaseModel):
    """The answer to one record."""

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


class Predictions(BaseModel):
    """The answer to ``records`` or ``columns``: one prediction and score per row."""

    request_id: str
    model: str
    version: int
    variant: str
    predictions: list[Any]
    scores: list[float] | None = None
    row_ids: list[str] = Field(
        description="Each row's id in the prediction log (<request_id>-<row>), for labels."
    )


class Problem(BaseModel):
    field: str
    row: int | None = Field(None, description="Row number in the request (null: every row).")
    value: Any = None
    expected: Any = None
    problem: str


class ErrorBody(BaseModel):
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

PREDICT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prediction(s) from the serving version, logged before this answer.",
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [Prediction.model_json_schema(), Predictions.model_json_schema()]
                }
            }
        },
    },
    401: {"model": ErrorBody, "description": "Tokens are configured; none or a bad one sent."},
    403: {"model": ErrorBody, "description": "The token's role is too low."},
    404: {"model": ErrorBody, "description": "No such model is served."},
    422: {"model": ErrorBody, "description": "The input does not match the signature."},
    500: {"model": ErrorBody, "description": "The model raised on valid input."},
    503: {"model": ErrorBody, "description": "Not loaded yet, or the log cannot be written."},
}
