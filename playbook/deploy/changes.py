"""What plan, apply and destroy report: value types shared by deploy's planning and the spec's ``[model]``
plan. Secrets stay ``Secret`` objects in bodies until they are sent (``reveal``), and show as stars."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from playbook.core.html import Html, cell, code, paragraph, table
from playbook.core.secrets import Secret


@dataclass
class FieldChange:
    field: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.field}: {show(self.old)} -> {show(self.new)}"


@dataclass
class Change:
    """One resource and what apply will do to it."""

    kind: str  # "network volume" | "endpoint"
    name: str
    action: str  # create | update | unchanged | delete | absent
    id: str | None = None
    fields: list[FieldChange] = field(default_factory=list)
    body: dict = field(default_factory=dict, repr=False)  # POST or PATCH body (secrets revealed only at send)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.action == "create":
            return ", ".join(f"{f.field}={show(f.new)}" for f in self.fields)
        return "; ".join(str(f) for f in self.fields)


@dataclass
class Plan:
    """What apply (or destroy) will do, resource by resource."""

    target: str
    changes: list[Change]
    notes: list[str] = field(default_factory=list)
    applied: bool = False  # True once apply/destroy has sent it: the summary then says what was done

    @property
    def changed(self) -> bool:
        return any(c.action in ("create", "update", "delete") for c in self.changes)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self.changes:
            counts[c.action] = counts.get(c.action, 0) + 1
        return counts

    def change(self, kind: str) -> Change | None:
        return next((c for c in self.changes if c.kind == kind), None)

    def table(self) -> str:
        rows = [("action", "resource", "name", "id", "changes")]
        rows += [(c.action, c.kind, c.name, c.id or "-", c.describe() or "-") for c in self.changes]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows]
        for c in self.changes:
            lines += [f"note ({c.kind} {c.name}): {n}" for n in c.notes]
        lines += [f"note: {n}" for n in self.notes]
        done = {"create": "created", "update": "updated", "delete": "deleted", "absent": "absent"}
        lines.append("no changes" if not self.changed else ", ".join(
            (f"{n} {done[a]}" if self.applied else f"{n} to {a}")
            for a, n in self.counts().items() if a not in ("unchanged", "absent")))
        return "\n".join(lines)

    __str__ = table

    def _repr_html_(self) -> str:
        colour = {"create": "#d4f7d4", "update": "#fff3c4", "delete": "#f9d0d0"}
        rows = [(Html(f"<b>{cell(c.action)}</b>"), c.kind, c.name, c.id or "-",
                 Html("<br>".join(cell(s) for s in (_lines(c) or ["-"])))) for c in self.changes]
        notes = notes_once([n for c in self.changes for n in c.notes] + self.notes)
        return (paragraph("target: ", Html(f"<b>{cell(self.target)}</b>"))
                + table(rows, header=("action", "resource", "name", "id", "changes"),
                        row_styles=[f"background:{colour.get(c.action, 'transparent')}" for c in self.changes])
                + (f"<ul>{notes}</ul>" if notes else "")
                + ("<p>no changes</p>" if not self.changed else ""))


@dataclass
class ApplyResult:
    plan: Plan
    endpoint: dict | None
    volume: dict | None

    @property
    def endpoint_id(self) -> str | None:
        return self.endpoint["id"] if self.endpoint else None

    @property
    def volume_id(self) -> str | None:
        return self.volume["id"] if self.volume else None

    def _repr_html_(self) -> str:
        return self.plan._repr_html_() + paragraph("endpoint: ", code(self.endpoint_id), ", volume: ",
                                                   code(self.volume_id))


_NOTES_SHOWN: set[str] = set()  # plan notes already shown in full in this process (a notebook's kernel)


def notes_once(notes: list[str]) -> str:
    """The plan's notes as HTML items, each in full the first time this process shows it and then counted
    ("2 notes as above"): a notebook that plans and applies four times reads the zero-idle check once."""
    fresh = [n for n in notes if n not in _NOTES_SHOWN]
    _NOTES_SHOWN.update(fresh)
    seen = len(notes) - len(fresh)
    items = "".join(f"<li>{cell(n)}</li>" for n in fresh)
    return items + (f"<li>{seen} note{'s' if seen > 1 else ''} as above (unchanged)</li>" if seen else "")


def _lines(c: Change) -> list[str]:
    if c.action == "create":
        return [f"{f.field} = {show(f.new)}" for f in c.fields]
    return [str(f) for f in c.fields]


def show(value: Any) -> str:
    if isinstance(value, Secret):
        return "**********"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return "-" if value is None else str(value)


def reveal(value: Any) -> Any:
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value
