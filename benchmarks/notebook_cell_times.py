"""Where an executed notebook's time went, cell by cell, from the executed copy's own metadata (papermill and
nbclient record when each cell's execution began and ended), so a slow cell is named, not guessed.

Run (after `playbook notebooks --out build/nb 06 07`, or on the journey's copies a test session left):
    python benchmarks/notebook_cell_times.py build/nb/06_test_and_monitor.ipynb build/nb/07_cost.ipynb
    python benchmarks/notebook_cell_times.py --top 5 build/nb/*.ipynb
Prints each notebook's total (first cell start to last cell end) and its slowest cells with their first line.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def cell_times(path: Path) -> tuple[float, list[tuple[float, int, str]]]:
    """(total seconds, [(seconds, cell index, first source line)]) of an executed notebook."""
    cells = json.loads(Path(path).read_text())["cells"]
    rows, starts, ends = [], [], []
    for i, cell in enumerate(cells):
        meta = cell.get("metadata", {}).get("execution", {})
        began, ended = _when(meta.get("iopub.execute_input")), _when(meta.get("shell.execute_reply"))
        if began is None or ended is None:
            continue
        starts.append(began)
        ends.append(ended)
        first = next((line.strip() for line in "".join(cell["source"]).splitlines() if line.strip()), "")
        rows.append(((ended - began).total_seconds(), i, first[:70]))
    total = (max(ends) - min(starts)).total_seconds() if starts else 0.0
    return total, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=6, help="slowest cells shown per notebook")
    args = parser.parse_args()
    for path in args.notebooks:
        total, rows = cell_times(path)
        print(f"{path.name}: {total:.1f} s in {len(rows)} code cells")
        for seconds, index, first in sorted(rows, reverse=True)[:args.top]:
            print(f"  cell {index:>2}  {seconds:6.1f} s  {first}")


if __name__ == "__main__":
    main()
