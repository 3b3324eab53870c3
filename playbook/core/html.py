"""One small, escaping HTML table for every ``_repr_html_`` in the playbook.

Why: notebooks render results as tables; values can hold user input (prompts, names, error text), so
every cell is escaped here, once, rather than in each class.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


class Html(str):
    """Text that is already safe HTML (another object's ``_repr_html_``, a tag we write ourselves):
    ``cell`` keeps it as it is. Never wrap user input in it."""


def cell(value: Any) -> str:
    """A value as escaped text: floats with at most 4 significant decimals, None as an empty cell,
    ``Html`` as is."""
    if isinstance(value, Html):
        return str(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return html.escape(f"{value:.4g}")
    return html.escape(str(value))


def code(value: Any) -> Html:
    """``value`` escaped inside ``<code>``."""
    return Html(f"<code>{cell(value)}</code>")


def paragraph(*parts: Any) -> str:
    """A ``<p>`` of the parts, each escaped (``Html`` parts as they are), joined without spaces."""
    return "<p>" + "".join(cell(p) for p in parts) + "</p>"


def table(rows: Iterable[Sequence[Any]], header: Sequence[str] | None = None, caption: str | None = None,
          row_styles: Sequence[str] | None = None) -> str:
    """An HTML table of ``rows`` (each a sequence of values), with an optional header row, caption and a
    CSS style per row (ours, never user input)."""
    parts = ["<table>"]
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    if header:
        parts.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
    for i, row in enumerate(rows):
        style = f" style='{html.escape(row_styles[i])}'" if row_styles and row_styles[i] else ""
        parts.append(f"<tr{style}>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>")
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
