"""Request bodies split into rows: one record, ``records`` or ``columns``, before any signature.

``parse_body`` refuses (InvalidInput, a 422) what is none of the three forms, and requests with
no rows or more than ``MAX_ROWS``; checking values against a signature is ``inputs``' job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from keel.errors import InvalidInput

#: a request may hold at most this many rows (larger jobs belong in batch scoring)
MAX_ROWS = 10_000


@dataclass(frozen=True)
class ParsedRequest:
    """A request body split into rows, before any signature is applied.

    ``records`` holds one mapping per row (record and records forms); the columns form keeps its
    ``columns`` names and ``data`` rows as sent, mapped to the signature when validated.
    """

    form: str
    rows: int
    records: list[dict[str, Any]] | None = None
    columns: list[str] | None = None
    data: list[list[Any]] | None = None
    key: str | None = None


def _invalid(field: str, problem: str) -> InvalidInput:
    return InvalidInput(field, problem, problems=[{"field": field, "problem": problem}])


def _entity_key(body: dict[str, Any]) -> str | None:
    value = body.get("key")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _invalid("key", "the entity key must be a string or an integer")
    return str(value)


def parse_body(body: bytes) -> ParsedRequest:
    """Split a JSON body into rows; InvalidInput (a 422) when it is none of the three forms."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _invalid("body", f"not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise _invalid("body", "must be a JSON object: a record, {records: [...]} or columns")
    key = _entity_key(document)
    if "records" in document and isinstance(document["records"], list):
        records = document["records"]
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise _invalid(f"records[{index}]", "each record must be a JSON object")
        return _sized(ParsedRequest("records", len(records), records=records, key=key))
    if "columns" in document and "data" in document:
        return _sized(_columns_form(document, key))
    return ParsedRequest("record", 1, records=[document], key=key)


def _columns_form(document: dict[str, Any], key: str | None) -> ParsedRequest:
    columns, data = document["columns"], document["data"]
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise _invalid("columns", "must be a list of field names")
    if len(set(columns)) != len(columns):
        raise _invalid("columns", "names a field more than once")
    if not isinstance(data, list):
        raise _invalid("data", "must be a list of rows, each a list of values")
    width = len(columns)
    for index, row in enumerate(data):
        if not isinstance(row, list) or len(row) != width:
            raise _invalid(f"data[{index}]", f"must be a list of {width} values, one per column")
    return ParsedRequest("columns", len(data), columns=columns, data=data, key=key)


def _sized(parsed: ParsedRequest) -> ParsedRequest:
    if parsed.rows == 0:
        raise _invalid("body", "no rows to score")
    if parsed.rows > MAX_ROWS:
        raise _invalid("body", f"{parsed.rows} rows; at most {MAX_ROWS} per request")
    return parsed


def records_of(parsed: ParsedRequest) -> list[dict[str, Any]]:
    """The rows as mappings (for a version without a signature, served from a DataFrame)."""
    if parsed.records is not None:
        return parsed.records
    assert parsed.columns is not None and parsed.data is not None
    return [dict(zip(parsed.columns, row, strict=True)) for row in parsed.data]
