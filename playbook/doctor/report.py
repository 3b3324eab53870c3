"""`playbook report`: one self-contained HTML file about an endpoint, for either target.

Why: a monitoring session in a notebook is gone when the kernel stops; a report keeps what it showed
(the doctor's verdict, the workers view, each worker's cold start by phase, a log tail) in a file that
opens anywhere with no network: plots are embedded as PNG data URIs, there is no script and no link.
Everything comes through RunPod's own APIs (REST v2 and the job API), so the same report works against
RunPod and the local platform.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from playbook.api.control import ControlClient
from playbook.api.jobs import JobClient
from playbook.core.config import Target
from playbook.core.html import fields_table, table
from playbook.doctor import diagnose as doctor
from playbook.monitor import coldstart, worker_logs

LOG_TAIL = 20


@dataclass(frozen=True)
class Report:
    path: Path
    verdict: str
    workers: int

    def _repr_html_(self) -> str:
        return fields_table({"report": str(self.path), "verdict": self.verdict, "workers": self.workers})


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _breakdown_figure(starts: list[coldstart.ColdStart]) -> str | None:
    if not any(s.phases_s for s in starts):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.45 * len(starts)))
    coldstart.plot_breakdown([s for s in starts if s.phases_s], ax=ax)
    src = _png(fig)
    plt.close(fig)
    return src


def write_report(endpoint_id: str, target: Target, path: Path, worker_ids: list[str] | None = None) -> Report:
    """Write the report of ``endpoint_id`` to ``path``; ``worker_ids`` adds workers that already stopped."""
    control = ControlClient(target, retries=1)
    diagnosis = doctor.Doctor(target).diagnose(endpoint_id)
    view = control.endpoint_workers(endpoint_id)
    health = JobClient(target, endpoint_id).health()
    ids = list(dict.fromkeys([*(worker_ids or []), *(w["id"] for w in view["workers"])]))
    logs = {w: worker_logs.read(control, endpoint_id, w, tail=5000) for w in ids}
    starts = [coldstart.breakdown(w, logs[w].lines) for w in ids]
    figure = _breakdown_figure(starts)
    parts = [f"<h1>Endpoint {html.escape(endpoint_id)}</h1>",
             f"<p>target {html.escape(target.name)}, written {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC</p>",
             "<h2>Doctor</h2>", diagnosis._repr_html_(),
             "<h2>Health</h2>", health._repr_html_(),
             "<h2>Workers</h2>", table([[w["id"], w["status"], w["isStale"], w["version"], w["uptimeSeconds"]]
                                        for w in view["workers"]],
                                       header=["worker", "status", "stale", "version", "uptime s"]),
             "<h2>Cold start by phase</h2>", coldstart.breakdown_table(starts)]
    if figure:
        parts.append(f'<img alt="cold start by phase" src="{figure}">')
    for w in ids:
        tail = logs[w].lines[-LOG_TAIL:]
        parts += [f"<h3>Log tail of {html.escape(w)}</h3>",
                  table([[x.ts, x.source, x.line[:300]] for x in tail], header=["ts", "source", "line"])]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("<!doctype html><html><head><meta charset='utf-8'><title>runpod-playbook report</title>"
                    "<style>body{font-family:sans-serif;max-width:70em;margin:auto}td,th{padding:2px 8px;"
                    "text-align:left;vertical-align:top}</style></head><body>" + "".join(parts) + "</body></html>")
    return Report(path, diagnosis.verdict, len(view["workers"]))
