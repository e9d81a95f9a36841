"""The small filter language for searching versions.

    metrics.accuracy >= 0.9 and tags.stage = 'prod' and version > 10

Clauses are joined by ``and``; each is ``FIELD OP VALUE`` where FIELD is ``version``, ``status``,
``author``, ``format``, ``model_class``, ``metrics.KEY``, ``params.KEY`` or ``tags.KEY``, OP is one
of ``= != < <= > >=`` and VALUE is a number or a quoted string.

>>> parse_filter("metrics.auc > 0.8 and tags.team = 'risk'")[1]
Clause(field='tags', key='team', op='=', value='risk')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from keel.errors import InvalidInput

PLAIN_FIELDS = ("version", "status", "author", "format", "model_class")
MAP_FIELDS = ("metrics", "params", "tags")
OPERATORS = ("=", "!=", "<", "<=", ">", ">=")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
      | (?P<op>!=|<=|>=|==|=|<|>)
      | (?P<word>[A-Za-z_][\w.\-]*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Clause:
    field: str
    key: str | None
    op: str
    value: float | str


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise InvalidInput("filter", f"cannot read {text[position:].strip()!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        position = match.end()
    return out


def _unquote(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def parse_filter(text: str) -> list[Clause]:
    """Parse a filter; an empty string means no filter."""
    if not isinstance(text, str):
        raise InvalidInput("filter", "the filter must be a string")
    tokens = _tokens(text)
    clauses: list[Clause] = []
    index = 0
    while index < len(tokens):
        if clauses:
            kind, word = tokens[index]
            if kind != "word" or word.lower() != "and":
                raise InvalidInput("filter", f"expected 'and' between clauses, found {word!r}")
            index += 1
        if index + 3 > len(tokens):
            raise InvalidInput("filter", "a clause needs FIELD OP VALUE")
        (k1, field), (k2, op), (k3, value) = tokens[index : index + 3]
        if k1 != "word":
            raise InvalidInput("filter", f"{field!r} is not a field name")
        if k2 != "op":
            raise InvalidInput("filter", f"expected one of {' '.join(OPERATORS)} after {field!r}")
        if k3 not in ("string", "number"):
            raise InvalidInput("filter", f"{value!r} is not a number or a quoted string")
        clauses.append(_clause(field, "=" if op == "==" else op, value, k3))
        index += 3
    return clauses


def _clause(field: str, op: str, raw: str, kind: str) -> Clause:
    value: float | str = float(raw) if kind == "number" else _unquote(raw)
    head, _, key = field.partition(".")
    if head in MAP_FIELDS:
        if not key:
            raise InvalidInput("filter", f"{field!r} needs a key, e.g. {head}.accuracy")
        if head == "metrics" and not isinstance(value, float):
            raise InvalidInput("filter", f"{field} compares with numbers, got {raw}")
        return Clause(head, key, op, value)
    if field in PLAIN_FIELDS and not key:
        if field == "version" and not isinstance(value, float):
            raise InvalidInput("filter", f"version compares with numbers, got {raw}")
        return Clause(field, None, op, value)
    allowed = ", ".join([*PLAIN_FIELDS, *(f"{m}.KEY" for m in MAP_FIELDS)])
    raise InvalidInput("filter", f"unknown field {field!r}; use one of {allowed}")
