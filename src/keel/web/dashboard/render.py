"""Jinja templates (autoescaped) and the filters the pages share: numbers, times, shares."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from keel.domain.metric_specs import metric_spec

#: what a page shows for a missing value
MISSING = "\u2013"


def number(value: Any, digits: int = 3) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return MISSING
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


def when(value: Any) -> str:
    if value is None or value == "":
        return MISSING
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def percent(value: Any) -> str:
    return MISSING if value is None else f"{100.0 * float(value):.0f}%"


def as_json(value: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` block (``</`` cannot end it early)."""
    text = json.dumps(value, default=_default, separators=(",", ":"))
    return Markup(text.replace("</", "<\\/"))


def readable(value: Any, indent: int | None = None) -> str:
    """JSON for people, as page text: characters as they are (Jinja's ``tojson`` writes ``<`` as
    ``\\u003c``, which is right in a script and unreadable in a table; autoescaping keeps the
    text safe here)."""
    separators = (",", ": ") if indent else (", ", ": ")
    return json.dumps(
        value, default=_default, ensure_ascii=False, indent=indent, separators=separators
    )


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


class Renderer:
    def __init__(self) -> None:
        self.env = Environment(
            loader=PackageLoader("keel.web.dashboard", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            number=number, when=when, percent=percent, as_json=as_json, readable=readable
        )
        # a page reads a metric's label and direction from its declaration: metric("accuracy")
        self.env.globals["metric"] = metric_spec
        for name in self.env.list_templates(extensions=["html"]):
            self.env.get_template(name)  # compiled now, so no visitor waits for it

    def page(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**context)
