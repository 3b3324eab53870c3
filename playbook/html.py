"""One small, escaping HTML table for every ``_repr_html_`` in the playbook.

Why: notebooks render results as tables; values can hold user input (prompts, names, error text), so
every cell is escaped here, once, rather than in each class.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def cell(value: Any) -> str:
    """A value as escaped text: floats with at most 4 significant decimals, None as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, float):
        return html.escape(f"{value:.4g}")
    return html.escape(str(value))


def table(rows: Iterable[Sequence[Any]], header: Sequence[str] | None = None, caption: str | None = None) -> str:
    """An HTML table of ``rows`` (each a sequence of values), with an optional header row and caption."""
    parts = ["<table>"]
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    if header:
        parts.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        parts.append("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>")
    parts.append("</table>")
    return "".join(parts)


def fields_table(values: Mapping[str, Any], caption: str | None = None) -> str:
    """A two-column table (name, value) of a mapping, e.g. a dataclass's ``__dict__``."""
    parts = ["<table>"]
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    for name, value in values.items():
        parts.append(f"<tr><th>{html.escape(str(name))}</th><td>{cell(value)}</td></tr>")
    parts.append("</table>")
    return "".join(parts)
