"""Request bodies: parsed from JSON into rows, checked against the serving version's signature.

Three forms are accepted, each with an optional entity ``"key"`` (the ``X-Entity-Key`` header
wins over it) that sticky deployments hash:

- one record: ``{"age": 41, "plan": "pro"}``;
- records: ``{"records": [{"age": 41, "plan": "pro"}, ...]}``;
- columns (pandas' ``split`` orientation): ``{"columns": ["age", "plan"], "data": [[41, "pro"]]}``.

The checks are the ones ``keel.registry.signatures.check_frame`` applies to DataFrames (missing
field, missing value, wrong type, not an integer, unseen category, outside the training range),
but on plain Python values: building a DataFrame per request would cost more than the model.
Every problem is collected, one entry per field and row, so a client fixes them all at once::

    {"field": "age", "row": 0, "value": "41", "expected": "number", "problem": "wrong type str"}

Decisions: range checks are on by default (``check_ranges=False`` turns them off; a value the
model never saw in training is reported rather than silently extrapolated). Fields the signature
does not name are ignored, so clients may send ids and extra context; they are not logged. A
``"key"`` is always read as the entity key, and is also a feature if the signature names one.
JSON numbers are strict: ``"41"`` (a string) is a wrong type for a number, ``true`` is not a
number, ``3.0`` is an integer and ``3.5`` is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from keel.domain.signature import FeatureSpec, Signature
from keel.errors import InvalidInput, SignatureMismatch

#: a request may hold at most this many rows (larger jobs belong in batch scoring)
MAX_ROWS = 10_000
#: at most this many problems are listed in a 422 answer; ``problem_count`` has the total
MAX_PROBLEMS = 100
#: categories quoted in an "unseen category" problem
_SHOWN_CATEGORIES = 20

NUMERIC_KINDS = ("number", "integer", "boolean")


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


class _Problems:
    """Collects problems, keeping the first ``MAX_PROBLEMS`` and counting the rest."""

    def __init__(self) -> None:
        self.listed: list[dict[str, Any]] = []
        self.count = 0

    def add(self, field: str, row: int | None, value: Any, expected: Any, problem: str) -> None:
        self.count += 1
        if len(self.listed) < MAX_PROBLEMS:
            entry = {"field": field, "row": row, "value": value, "expected": expected}
            entry["problem"] = problem
            self.listed.append(entry)


_MISSING = object()


class InputSchema:
    """One signature compiled for fast checks: ``rows`` turns a parsed request into value rows
    in training column order, or raises SignatureMismatch listing every problem."""

    def __init__(self, signature: Signature, *, check_ranges: bool = True) -> None:
        self.signature = signature
        self.specs = signature.inputs
        self.names = [s.name for s in self.specs]
        self.check_ranges = check_ranges
        self.numeric = all(s.kind in NUMERIC_KINDS for s in self.specs)
        self._categories = [
            frozenset(s.categories) if s.categories is not None else None for s in self.specs
        ]
        self._ranges = [_bounds(s) if check_ranges else None for s in self.specs]

    def rows(self, parsed: ParsedRequest, *, model: str | None = None) -> list[list[Any]]:
        problems = _Problems()
        if parsed.records is not None:
            out = [self._row(r, index, problems) for index, r in enumerate(parsed.records)]
        else:
            out = self._columns(parsed, problems)
        if problems.count:
            error = SignatureMismatch(problems.listed, model=model)
            error.fields["problem_count"] = problems.count
            raise error
        return out

    def _row(self, record: dict[str, Any], row: int, problems: _Problems) -> list[Any]:
        values: list[Any] = []
        for position, spec in enumerate(self.specs):
            value = record.get(spec.name, _MISSING)
            if value is _MISSING:
                problems.add(spec.name, row, None, spec.kind, "missing field")
                values.append(None)
                continue
            values.append(self._value(position, spec, value, row, problems))
        return values

    def _columns(self, parsed: ParsedRequest, problems: _Problems) -> list[list[Any]]:
        assert parsed.columns is not None and parsed.data is not None
        where = {name: index for index, name in enumerate(parsed.columns)}
        positions = []
        for spec in self.specs:
            index = where.get(spec.name)
            if index is None:
                problems.add(spec.name, None, None, spec.kind, "missing field")
            positions.append(index)
        if problems.count:
            return []
        pairs = list(enumerate(zip(self.specs, positions, strict=True)))
        value = self._value
        return [
            [value(p, spec, data[i], row, problems) for p, (spec, i) in pairs]  # type: ignore[index]
            for row, data in enumerate(parsed.data)
        ]

    def _value(
        self, position: int, spec: FeatureSpec, value: Any, row: int, problems: _Problems
    ) -> Any:
        """The value as the model takes it, or None after recording a problem."""
        if value is None:
            if not spec.nullable:
                problems.add(spec.name, row, None, spec.kind, "missing value")
            return None
        kind = spec.kind
        kind_of_value = type(value)
        if kind == "number" or kind == "integer":
            if kind_of_value is not int and kind_of_value is not float:
                problems.add(spec.name, row, value, kind, f"wrong type {_json_type(value)}")
                return None
            if kind == "integer" and kind_of_value is float and not value.is_integer():
                problems.add(spec.name, row, value, "integer", "not an integer")
                return None
            bounds = self._ranges[position]
            if bounds is not None and not bounds[0] <= value <= bounds[1]:
                problems.add(spec.name, row, value, list(bounds), "outside the training range")
                return None
            return value
        if kind == "category":
            if kind_of_value is str:
                text = value
            elif kind_of_value is int or kind_of_value is float:
                text = str(value)
            else:
                problems.add(spec.name, row, value, "category", f"wrong type {_json_type(value)}")
                return None
            allowed = self._categories[position]
            if allowed is not None and text not in allowed:
                shown = sorted(allowed)[:_SHOWN_CATEGORIES]
                problems.add(spec.name, row, value, shown, "unseen category")
                return None
            return text
        if kind == "boolean":
            if kind_of_value is bool:
                return value
            if kind_of_value is int and value in (0, 1):
                return bool(value)
            problems.add(spec.name, row, value, "boolean", f"wrong type {_json_type(value)}")
            return None
        if kind == "datetime" and kind_of_value is not str:
            problems.add(spec.name, row, value, "datetime text", f"wrong type {_json_type(value)}")
            return None
        if kind_of_value is dict or kind_of_value is list:
            problems.add(spec.name, row, value, kind, f"wrong type {_json_type(value)}")
            return None
        return value


def _bounds(spec: FeatureSpec) -> tuple[float, float] | None:
    if spec.kind not in ("number", "integer") or spec.minimum is None or spec.maximum is None:
        return None
    return (spec.minimum, spec.maximum)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def records_of(parsed: ParsedRequest) -> list[dict[str, Any]]:
    """The rows as mappings (for a version without a signature, served from a DataFrame)."""
    if parsed.records is not None:
        return parsed.records
    assert parsed.columns is not None and parsed.data is not None
    return [dict(zip(parsed.columns, row, strict=True)) for row in parsed.data]
