"""Request rows checked against the serving version's signature (``bodies`` splits the JSON).

Three forms are accepted, each with an optional entity ``"key"`` (the ``X-Entity-Key`` header
wins over it) that sticky deployments hash:

- one record: ``{"age": 41, "plan": "pro"}``;
- records: ``{"records": [{"age": 41, "plan": "pro"}, ...]}``;
- columns (pandas' ``split`` orientation): ``{"columns": ["age", "plan"], "data": [[41, "pro"]]}``.

The checks are the ones ``keel.registry.signatures.check_frame`` applies to DataFrames, but on
plain Python values: building a DataFrame per request would cost more than the model. They come
in two sorts:

- *malformed* values (a missing field, a missing value where the signature has none, a wrong
  type, ``3.5`` for an integer) make the whole request a 422. Every problem is collected, one
  entry per field and row, so a client fixes them all at once::

    {"field": "age", "row": 0, "value": "x", "expected": "integer", "problem": "wrong type string"}

- values the model never saw in training (``out_of_range``: a number outside the training range;
  ``unseen_category``) are data, not errors: production drifts, and monitoring must see it. The
  model's input policy (``keel.domain.policy.Inputs``) says per check whether such a row is
  *flagged* (answered, with a warning entry of the same shape plus ``"code"``) or *rejected*
  (not scored, but still logged). ``InputSchema.check`` sorts them out; ``InputSchema.rows``
  keeps the strict reading (every problem refuses the request) for callers that want it.

Coercion at this door, for clients whose JSON is less exact than the signature:

- numbers: JSON numbers; ``true`` is not a number. A string holding a decimal number (``"3"``,
  ``"-2.5e3"``; no spaces, no ``nan``/``inf``) is taken as that number. An integer column takes
  ``3``, ``3.0`` and ``"3"``; ``3.5`` and ``"3.5"`` are "not an integer", and an integer beyond
  64 bits is refused (the log stores int64);
- booleans: ``true``/``false``, ``1``/``0`` (or ``1.0``/``0.0``), and the strings ``"true"``,
  ``"false"``, ``"1"``, ``"0"`` in any case;
- categories: a string, or a number sent as its label; matched against the signature's
  categories by their text (``3``, ``3.0`` and ``"3"`` all match a category ``3`` or ``"3"``),
  and the signature's own value is what the model gets;
- datetimes: ISO 8601 text (a wall-clock time is in the training zone, text with an offset is
  that instant), else "not a datetime"; other columns: anything but an object or an array.

Decisions: fields the signature does not name are ignored, so clients may send ids and extra
context; they are not logged. A ``"key"`` is always read as the entity key, and is also a
feature if the signature names one. ``check_ranges=False`` skips the training-range check
altogether (nothing is flagged or rejected for it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from keel.domain.policy import INPUT_CHECKS, Inputs
from keel.domain.signature import FeatureSpec, Signature
from keel.errors import SignatureMismatch
from keel.serving.bodies import MAX_ROWS, ParsedRequest, parse_body, records_of

__all__ = [
    "MAX_PROBLEMS",
    "MAX_ROWS",
    "Checked",
    "InputSchema",
    "ParsedRequest",
    "parse_body",
    "records_of",
    "rejection_text",
]

#: at most this many problems are listed in a 422 answer; ``problem_count`` has the total
MAX_PROBLEMS = 100
#: categories quoted in an "unseen category" problem
_SHOWN_CATEGORIES = 20

NUMERIC_KINDS = ("number", "integer", "boolean")
#: an integer column's values must fit the log's int64
INT64_RANGE = (-(2**63), 2**63 - 1)
#: a number sent as text: decimal digits, an optional fraction and exponent, at most this long
_NUMBER_TEXT = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?", re.ASCII)
_NUMBER_CHARS = 100
_BOOLEAN_TEXT = {"true": True, "false": False, "1": True, "0": False}
OUT_OF_RANGE, UNSEEN_CATEGORY = INPUT_CHECKS


@dataclass(slots=True)
class Checked:
    """A request's rows in training column order, with what the input policy found in them.

    ``warnings`` maps a row to its flagged values (the row is answered); ``rejected`` maps a row
    to the values that rejected it (the row is logged, not scored). Each entry is
    ``{"field", "row", "value", "expected", "problem", "code"}``, ``code`` one of
    ``INPUT_CHECKS``. Both are empty for a clean request, so the common case allocates nothing.
    """

    rows: list[list[Any]]
    warnings: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    rejected: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def log_warnings(self) -> list[str | None] | None:
        """The prediction log's ``warnings`` column: per row a JSON list of ``{field, code}``
        (flagged and rejecting values alike), or None for a request with nothing to say."""
        if not self.warnings and not self.rejected:
            return None
        out: list[str | None] = [None] * len(self.rows)
        for row in {*self.warnings, *self.rejected}:
            entries = [*self.warnings.get(row, ()), *self.rejected.get(row, ())]
            notes = [{"field": e["field"], "code": e["code"]} for e in entries]
            out[row] = orjson.dumps(notes).decode()
        return out

    def log_rejections(self) -> dict[int, str]:
        """Per rejected row, the reasons as the log's ``error`` column holds them."""
        return {row: rejection_text(entries) for row, entries in self.rejected.items()}


def rejection_text(entries: list[dict[str, Any]]) -> str:
    """``rejected: AGEP: outside the training range (95; expected [17.0, 94.0])``."""
    reasons = "; ".join(
        f"{e['field']}: {e['problem']} ({_short(e['value'])}; expected {_short(e['expected'])})"
        for e in entries
    )
    return f"rejected: {reasons}"


def _short(value: Any) -> str:
    try:
        text = orjson.dumps(value, default=str).decode()
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, say
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Problems:
    """Collects problems, keeping the first ``MAX_PROBLEMS`` and counting the rest.

    Values the model never saw go through ``flag``: with ``rules`` they are sorted into
    warnings and rejections by the input policy; without (the strict reading) they are problems.
    """

    __slots__ = ("count", "listed", "rejected", "rules", "warnings")

    def __init__(self, rules: Inputs | None = None) -> None:
        self.listed: list[dict[str, Any]] = []
        self.count = 0
        self.rules = rules
        self.warnings: dict[int, list[dict[str, Any]]] = {}
        self.rejected: dict[int, list[dict[str, Any]]] = {}

    def add(self, field: str, row: int | None, value: Any, expected: Any, problem: str) -> None:
        self.count += 1
        if len(self.listed) < MAX_PROBLEMS:
            entry = {"field": field, "row": row, "value": value, "expected": expected}
            entry["problem"] = problem
            self.listed.append(entry)

    def flag(
        self, code: str, field: str, row: int, value: Any, expected: Any, problem: str
    ) -> None:
        if self.rules is None:
            self.add(field, row, value, expected, problem)
            return
        entry = {"field": field, "row": row, "value": value, "expected": expected}
        entry["problem"] = problem
        entry["code"] = code
        chosen = self.rejected if self.rules.rejects(code) else self.warnings
        chosen.setdefault(row, []).append(entry)


_MISSING = object()


class InputSchema:
    """One signature compiled for fast checks: ``check`` turns a parsed request into value rows
    in training column order with the input policy's verdicts, ``rows`` the strict reading;
    both raise SignatureMismatch listing every malformed value."""

    def __init__(
        self, signature: Signature, *, check_ranges: bool = True, rules: Inputs | None = None
    ) -> None:
        self.signature = signature
        self.specs = signature.inputs
        self.names = [s.name for s in self.specs]
        self.check_ranges = check_ranges
        self.rules = rules or Inputs()
        self.numeric = all(s.kind in NUMERIC_KINDS for s in self.specs)
        # categories by their text, to the signature's own values (which may be numbers)
        self._categories = [
            {str(c): c for c in s.categories} if s.categories is not None else None
            for s in self.specs
        ]
        # number categories by their value, so 2, "2" and "2.0" all find a category 2.0
        self._numbers = [
            {
                float(c): c
                for c in s.categories
                if isinstance(c, int | float) and not isinstance(c, bool)
            }
            if s.categories is not None
            else None
            for s in self.specs
        ]
        self._shown = [
            list(s.categories)[:_SHOWN_CATEGORIES] if s.categories is not None else None
            for s in self.specs
        ]
        self._ranges = [_bounds(s) if check_ranges else None for s in self.specs]

    def with_rules(self, rules: Inputs) -> InputSchema:
        """The same signature under another input policy."""
        return InputSchema(self.signature, check_ranges=self.check_ranges, rules=rules)

    def check(self, parsed: ParsedRequest, *, model: str | None = None) -> Checked:
        """Rows, warnings and rejections under the input policy; SignatureMismatch when a value
        is malformed (nothing is scored or logged then)."""
        problems = _Problems(self.rules)
        out = self._collect(parsed, problems)
        if problems.count:
            raise _mismatch(problems, model)
        return Checked(out, problems.warnings, problems.rejected)

    def rows(self, parsed: ParsedRequest, *, model: str | None = None) -> list[list[Any]]:
        """Rows under the strict reading: any problem, values never seen included, refuses."""
        problems = _Problems()
        out = self._collect(parsed, problems)
        if problems.count:
            raise _mismatch(problems, model)
        return out

    def _collect(self, parsed: ParsedRequest, problems: _Problems) -> list[list[Any]]:
        if parsed.records is not None:
            return [self._row(r, index, problems) for index, r in enumerate(parsed.records)]
        return self._columns(parsed, problems)

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
        """The value as the model takes it, or None after recording a problem. The common
        case (a JSON value of the column's own type, seen in training) takes the first branch
        of its kind and returns; coercion and flags cost only the requests that need them."""
        if value is None:
            if not spec.nullable:
                problems.add(spec.name, row, None, spec.kind, "missing value")
            return None
        kind = spec.kind
        kind_of_value = type(value)
        if kind == "number" or kind == "integer":
            number = value
            if kind_of_value is not int and kind_of_value is not float:
                number = _text_number(value) if kind_of_value is str else None
                if number is None:
                    problems.add(spec.name, row, value, kind, f"wrong type {_json_type(value)}")
                    return None
            if kind == "integer" and type(number) is float and not number.is_integer():
                problems.add(spec.name, row, value, "integer", "not an integer")
                return None
            bounds = self._ranges[position]
            if bounds is not None and bounds[0] <= number <= bounds[1]:
                return number
            return self._unbounded(position, spec, value, number, row, problems)
        if kind == "category":
            if kind_of_value is str:
                text = value
            elif kind_of_value is int or kind_of_value is float:
                text = str(value)
            else:
                problems.add(spec.name, row, value, "category", f"wrong type {_json_type(value)}")
                return None
            allowed = self._categories[position]
            if allowed is None:
                return text
            found = allowed.get(text, _MISSING)
            if found is not _MISSING:
                return found
            return self._unseen(position, spec, value, text, row, problems)
        if kind == "boolean":
            if kind_of_value is bool:
                return value
            if (kind_of_value is int or kind_of_value is float) and (value == 0 or value == 1):
                return bool(value)
            if kind_of_value is str and value.lower() in _BOOLEAN_TEXT:
                return _BOOLEAN_TEXT[value.lower()]
            problems.add(spec.name, row, value, "boolean", f"wrong type {_json_type(value)}")
            return None
        if kind == "datetime":
            if kind_of_value is not str:
                problem = f"wrong type {_json_type(value)}"
                problems.add(spec.name, row, value, "datetime text", problem)
                return None
            if not _is_datetime_text(value):
                problems.add(spec.name, row, value, "datetime text", "not a datetime")
                return None
            return value
        if kind_of_value is dict or kind_of_value is list:
            problems.add(spec.name, row, value, kind, f"wrong type {_json_type(value)}")
            return None
        return value

    def _unbounded(
        self,
        position: int,
        spec: FeatureSpec,
        value: Any,
        number: Any,
        row: int,
        problems: _Problems,
    ) -> Any:
        """A number outside the training range (or with no range to check): flagged, unless an
        integer column cannot hold it at all."""
        if spec.kind == "integer" and not INT64_RANGE[0] <= number <= INT64_RANGE[1]:
            problems.add(spec.name, row, value, "a 64-bit integer", "too large for an integer")
            return None
        bounds = self._ranges[position]
        if bounds is not None:
            where = list(bounds)
            problems.flag(OUT_OF_RANGE, spec.name, row, value, where, "outside the training range")
        return number

    def _unseen(
        self, position: int, spec: FeatureSpec, value: Any, text: str, row: int, problems: _Problems
    ) -> Any:
        """A category label not in the signature by its text; a number category is still found
        by its value (``3.0`` and ``"3.0"`` find a category ``3``, ``2`` a category ``2.0``)."""
        numbers = self._numbers[position]
        if numbers:
            number = value if type(value) in (int, float) else _text_number(text)
            if number is not None:
                found = numbers.get(float(number), _MISSING)
                if found is not _MISSING:
                    return found
        problems.flag(
            UNSEEN_CATEGORY, spec.name, row, value, self._shown[position], "unseen category"
        )
        return text


def _mismatch(problems: _Problems, model: str | None) -> SignatureMismatch:
    error = SignatureMismatch(problems.listed, model=model)
    error.fields["problem_count"] = problems.count
    return error


def _text_number(text: str) -> int | float | None:
    """A number sent as text, or None when the text is not one (see the module's rules)."""
    if len(text) > _NUMBER_CHARS or not _NUMBER_TEXT.fullmatch(text):
        return None
    if "." not in text and "e" not in text and "E" not in text:
        return int(text)
    number = float(text)
    return number if math.isfinite(number) else None


def _is_datetime_text(text: str) -> bool:
    """ISO 8601 text, what ``keel.registry.frames`` rebuilds a datetime from (the standard
    library's reading first, as it is fast; then pandas' own ISO 8601 reading)."""
    try:
        datetime.fromisoformat(text)
        return True
    except ValueError:
        pass
    import pandas as pd

    try:
        return pd.to_datetime(text, format="ISO8601") is not pd.NaT
    except (ValueError, TypeError, OverflowError):
        return False


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
