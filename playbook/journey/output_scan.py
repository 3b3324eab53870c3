"""Scan executed notebooks and their HTML copies for output a learner should not have to read past:
warnings, tracebacks and floats printed with all their digits (``0.00015999999999999999``).

Why a scan and not a look: outputs change with every library upgrade; a warning that appears after a
bump, or a price that loses its formatting, is caught by the test that runs this over every executed
notebook, naming the notebook, the cell and the line.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

WARNING = re.compile(r"\b\w*Warning\b:|\bwarnings\.warn\b|^\s*WARNING\b|\[transformers\]|FutureWarning|"
                     r"DeprecationWarning", re.M)
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\w+Error: ", re.M)
# a float shown with 8 or more decimals: unrounded arithmetic (prices, seconds, sizes) reaching the reader
LONG_FLOAT = re.compile(r"(?<![\w.])-?\d+\.\d{8,}(?![\w.])")
TEXT_MIMES = ("text/html", "text/markdown", "text/plain")


@dataclass(frozen=True)
class Finding:
    file: str
    where: str  # "cell 7" or "html"
    kind: str  # warning | traceback | long float
    text: str  # the offending line, cut to 200 characters

    def __str__(self) -> str:
        return f"{self.file} {self.where}: {self.kind}: {self.text}"


def _lines(text: str, where: str, file: str) -> list[Finding]:
    found = []
    for line in text.splitlines():
        for kind, pattern in (("warning", WARNING), ("traceback", TRACEBACK), ("long float", LONG_FLOAT)):
            if pattern.search(line):
                found.append(Finding(file, where, kind, line.strip()[:200]))
    return found


def _output_text(output: dict) -> str:
    if output.get("output_type") == "stream":
        return "".join(output.get("text", ""))
    if output.get("output_type") == "error":
        return "Traceback (most recent call last)\n" + f"{output.get('ename')}: {output.get('evalue')}"
    data = output.get("data", {})
    shown = next((m for m in TEXT_MIMES if m in data), None)  # what a reader sees: the richest text form
    if shown is None:
        return ""
    return "".join(data[shown]) if isinstance(data[shown], list) else str(data[shown])


def scan_notebook(path: Path) -> list[Finding]:
    """Findings in every code cell's outputs of an executed notebook."""
    nb = json.loads(Path(path).read_text())
    found = []
    for number, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            found += _lines(_output_text(output), f"cell {number}", Path(path).name)
    return found


def scan_html(path: Path) -> list[Finding]:
    """Findings in the text of an HTML copy (outputs only: the cells' source is not output)."""
    text = Path(path).read_text(errors="replace")
    outputs = re.findall(r'<div class="jp-OutputArea-output[^"]*"[^>]*>(.*?)</div>', text, re.S)
    plain = html.unescape(re.sub(r"<[^>]+>", " ", "\n".join(outputs)))
    return _lines(plain, "html", Path(path).name)


def scan_folder(folder: Path) -> list[Finding]:
    found = []
    for path in sorted(Path(folder).glob("*.ipynb")):
        found += scan_notebook(path)
    for path in sorted(Path(folder).glob("*.html")):
        found += scan_html(path)
    return found
