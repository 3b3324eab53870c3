"""What an executed notebook shows a reader, for the tests that check its sentences against its glued values."""

from __future__ import annotations

import nbformat


def outputs_text(executed) -> list[str]:
    """Every cell's printed and displayed text (stdout, text/plain, text/html), one string per cell."""
    nb = nbformat.read(str(executed), as_version=4)
    texts = []
    for cell in nb.cells:
        parts = []
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            data = out.get("data", {})
            parts += [data.get("text/plain", ""), data.get("text/html", "")]
        texts.append("".join(parts))
    return texts


def journey_summaries(executed) -> list[str]:
    """What each ``journey.show(...)`` cell displayed (its one-line summary of the journey so far)."""
    nb = nbformat.read(str(executed), as_version=4)
    return [o["data"]["text/plain"] for c in nb.cells if c.cell_type == "code" and "journey.show(" in c.source
            for o in c.outputs if o.get("output_type") == "execute_result"]
