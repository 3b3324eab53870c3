"""The doctor: one verdict, with its evidence and a one-sentence fix, for an endpoint, a job or a spec.

Why: a status is often wrong about the cause. A crash-looping worker may read RUNNING, "stuck IN_QUEUE"
can mean no stock, a crash loop, a pull that never ends or a driver too old; the logs say which. So the
doctor gathers what RunPod exposes (the endpoint's settings, read fresh each time, the workers view, one
worker's log, the job's status, the catalog's stock for the endpoint's pools, its templates) through the
same REST v2 and job API on either target into one ``Observation`` (``playbook.doctor.observe``), and the
rules (``playbook.doctor.checks``, one module per verdict, their precedence declared as data) name one
cause from a closed set (``rules.VERDICTS``) with evidence that quotes the decisive line.

Cost: a diagnosis reads the endpoint, the workers view, the templates and one worker's log (plus the
job's status, and the catalog when work waits). A ``Doctor`` remembers the workers it saw, which is how it
tells "no stock" (workers wait THROTTLED, nothing in their logs) from "start and die" (workers come and
go, tracebacks) from "hung" (a worker holds the job and its log is silent).

Use:
    from playbook.doctor import diagnose as doctor
    doctor.diagnose("abc123")                       # an endpoint id
    doctor.diagnose("abc123/7f0e...-u1")            # endpoint/job
    doctor.diagnose(spec)                           # a DeploymentSpec, before deploying
    playbook doctor abc123 --stop-crash-loop         # CLI; sets max workers to 0 on a crash loop
"""

from __future__ import annotations

import html
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from playbook.api.control import ControlClient, ControlError
from playbook.api.jobs import JobClient, JobResult
from playbook.core.config import REPO_ROOT, Target
from playbook.core.errors import ConfigError
from playbook.core.html import Html, fields_table
from playbook.doctor import checks, rules
from playbook.doctor.observe import Observation, job_dict, stock_of
from playbook.monitor.worker_logs import LogLine, read

HUNG_AFTER_S = 120.0  # a job running this long with a silent worker log is hung
SLOW_DELAY_S = 30.0  # a job that waited longer than this in the queue was slow
YOUNG_S, FOLLOW_YOUNG_S = 10, 2.0  # follow the log of a worker younger than YOUNG_S for FOLLOW_YOUNG_S
# RunPod's job ids: a UUID with a suffix ("c80ffee4-...-0f3d98cf024b-u1"); endpoint ids are 14 letters/digits
JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(-[a-z0-9]+)?$", re.I)


@dataclass
class Diagnosis:
    """One verdict from ``VERDICTS`` with the evidence lines that support it and the fix."""

    subject: str
    verdict: str
    evidence: list[str]
    fix: str
    api_calls: int = 0
    elapsed_s: float = 0.0
    actions: list[str] = field(default_factory=list)
    change: dict | None = None  # the fix as a PATCH of the endpoint, when the doctor knows one

    @property
    def meaning(self) -> str:
        return rules.VERDICTS[self.verdict][0]

    def __str__(self) -> str:
        lines = [f"{self.subject}: {self.verdict} ({self.meaning})"]
        lines += [f"  - {e}" for e in self.evidence] + [f"  fix: {self.fix}"]
        if self.change:
            lines.append(f"  as a change: PATCH /v2/serverless/<id> {json.dumps(self.change)}")
        lines += [f"  done: {a}" for a in self.actions]
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle) -> None:  # IPython's text form: the same readable lines as print()
        p.text(str(self))

    def _repr_html_(self) -> str:
        evidence = Html("<br>".join(html.escape(e) for e in self.evidence))  # one line each, escaped
        return fields_table({"subject": self.subject, "verdict": self.verdict, "meaning": self.meaning,
                             "evidence": evidence, "fix": self.fix,
                             "api calls": self.api_calls, "seconds": round(self.elapsed_s, 2)})


def _verdict(subject: str, verdict: str, evidence: list[str]) -> Diagnosis:
    return Diagnosis(subject, verdict, evidence or ["no evidence found"], rules.VERDICTS[verdict][1])


class Doctor:
    """Diagnoses on one target. Settings are read fresh at every diagnosis (a PATCH shows at once); what
    it remembers between polls is what it saw: the workers (turnover), each job's progress, and the
    last cause a worker's log showed (that worker may be gone at the next poll)."""

    def __init__(self, target: Target | None = None, hung_after_s: float = HUNG_AFTER_S,
                 slow_delay_s: float = SLOW_DELAY_S):
        from playbook.core.config import resolve_target

        self.target = target or resolve_target()
        self.control = ControlClient(self.target, retries=1)
        self.hung_after_s, self.slow_delay_s = hung_after_s, slow_delay_s
        self.calls = 0
        self._seen: dict[str, dict[str, None]] = {}  # endpoint -> worker ids seen, oldest first
        self._gone_read: set[str] = set()  # workers that left and whose last log was read
        self._progress: dict[str, tuple] = {}  # job -> (output, last log ts) at the previous poll
        self._findings: dict[str, dict] = {}  # endpoint -> the last cause its logs showed
        self.last_observation: Observation | None = None

    def _call(self, fn, *args, **kwargs):
        self.calls += 1
        return fn(*args, **kwargs)

    def remember(self, endpoint_id: str, worker_ids) -> None:
        """Worker ids a caller saw on the endpoint while it watched (oldest first): one gone since is read, as
        if this doctor had polled then (a crash-looping worker on RunPod leaves the workers view at once)."""
        self._seen.setdefault(endpoint_id, {}).update(dict.fromkeys(worker_ids))

    def logs(self, endpoint_id: str, worker_id: str, follow_s: float = 0.0) -> list[LogLine]:
        try:
            return list(self._call(read, self.control, endpoint_id, worker_id, tail=200, idle_s=1.5,
                                   follow_s=follow_s).lines)
        except ControlError:
            return []

    # -- entry points ----------------------------------------------------------------------------
    def diagnose(self, subject) -> Diagnosis:
        """``subject``: an endpoint id, ``endpoint_id/job_id``, a (endpoint_id, job_id) pair, or a spec."""
        start, calls = time.monotonic(), self.calls
        if isinstance(subject, (str, tuple)):
            obs = self.observe(subject)
            verdict, evidence = checks.decide(obs)
            if verdict in checks.FROM_LOGS:
                self._findings[obs.endpoint_id] = {"verdict": verdict, "evidence": evidence}
            result = _verdict(_subject_line(obs), verdict, evidence)
            result.change = checks.remedy(verdict, obs)
        else:
            result = spec_diagnosis(subject)
        result.api_calls, result.elapsed_s = self.calls - calls, time.monotonic() - start
        return result

    def observe(self, subject: str | tuple) -> Observation:
        """Everything the rules read, gathered once: settings, workers, the job, one log, the stock."""
        endpoint_id, job_id = parse_subject(subject)
        ep = self._call(self.control.get_endpoint, endpoint_id)
        view = self._call(self.control.endpoint_workers, endpoint_id)
        workers = view.get("workers") or []
        job = self._call(JobClient(self.target, endpoint_id).status, job_id) if job_id else None
        seen = self._seen.setdefault(endpoint_id, {})
        current = {w["id"] for w in workers}
        turnover = bool(seen) and bool(current - set(seen)) and not (set(seen) & current)
        gone = [w for w in seen if w not in current and w not in self._gone_read]
        seen.update(dict.fromkeys(current))
        worker_id = _suspect(workers, job)
        if gone and not (job is not None and job.worker_id):  # a worker that left since the last poll says why
            worker_id = gone[-1]
            self._gone_read.add(worker_id)
        young = next((w for w in workers if w["id"] == worker_id and w.get("uptimeSeconds") is not None
                      and w["uptimeSeconds"] < YOUNG_S and w["status"] in ("RUNNING", "INITIALIZING")), None)
        # a worker that just started says little yet: follow its log a moment (a crash shows within it)
        lines = self.logs(endpoint_id, worker_id, follow_s=FOLLOW_YOUNG_S if young else 0.0) if worker_id else []
        obs = Observation(
            subject=f"{endpoint_id}/{job_id}" if job_id else endpoint_id, endpoint=ep, workers=workers,
            endpoint_version=view.get("endpointVersion"), job=job_dict(job) if job else None, log_worker=worker_id,
            log=[{"ts": x.ts, "source": x.source, "line": x.line} for x in lines], now=time.time(),
            memory={"seen": len(seen), "turnover": turnover, "earlier": self._findings.get(endpoint_id),
                    "progressed": self._progressed(job, lines)},
            limits={"hung_after_s": self.hung_after_s, "slow_delay_s": self.slow_delay_s})
        if any(w.get("status") == "THROTTLED" for w in workers) or (job is not None and job.status == "IN_QUEUE"):
            catalog = self._call(self.control.gpus, availability=True)  # every pool: the fix may add one
            pools = list(dict.fromkeys([*((ep.get("gpu") or {}).get("pools") or []),
                                        *(g["pool"] for g in catalog if g.get("pool"))]))
            obs.stock = stock_of(catalog, pools)
        obs.templates = [t for t in self._call(self.control.list_templates) if t.get("serverless")]
        self.last_observation = obs
        return obs

    def _progressed(self, job: JobResult | None, lines: list[LogLine]) -> bool:
        if job is None or job.status != "IN_PROGRESS":
            return False
        before = self._progress.get(job.id)
        self._progress[job.id] = (repr(job.output), lines[-1].ts if lines else None)
        return before is not None and before != self._progress[job.id]

    # -- kept for callers that name the parts --------------------------------------------------
    def job(self, endpoint_id: str, job_id: str) -> Diagnosis:
        return self.diagnose((endpoint_id, job_id))

    def endpoint_diagnosis(self, endpoint_id: str) -> Diagnosis:
        return self.diagnose(endpoint_id)


def _subject_line(obs: Observation) -> str:
    return f"endpoint {obs.endpoint_id}" + (f" job {obs.job['id']}" if obs.job else "")


def parse_subject(subject: str | tuple) -> tuple[str, str | None]:
    """(endpoint id, job id or None) of ``ENDPOINT_ID``, ``ENDPOINT_ID/JOB_ID`` or a pair; a bare job id is
    refused with the two forms (it is not an endpoint id)."""
    if isinstance(subject, tuple):
        return subject[0], subject[1]
    endpoint_id, _, job_id = subject.strip().partition("/")
    if JOB_ID.match(endpoint_id):
        raise ConfigError(f"{endpoint_id} is a job id, not an endpoint id. Give ENDPOINT_ID (the endpoint) or "
                          f"ENDPOINT_ID/{endpoint_id} (this job); `playbook doctor {endpoint_id} --endpoint "
                          "ENDPOINT_ID` works too.")
    return endpoint_id, job_id or None


def _suspect(workers: list[dict], job: JobResult | None) -> str | None:
    """The worker whose log to read: the job's, one named in its error, else the least healthy."""
    if job is not None and job.worker_id:
        return job.worker_id
    if job is not None and job.error and "worker " in job.error:
        named = job.error.split("worker ", 1)[1].split()[0]
        if named:
            return named
    order = {"UNHEALTHY": 0, "INITIALIZING": 1, "RUNNING": 2, "THROTTLED": 3, "IDLE": 4}
    ranked = sorted(workers, key=lambda w: (order.get(w["status"], 5), -(w.get("uptimeSeconds") or 0)))
    return ranked[0]["id"] if ranked else None


# -- specs (before deploying) --------------------------------------------------------------------------

def spec_diagnosis(spec, requirements: Path | None = None, check_image: bool = True) -> Diagnosis:
    """Static checks of a DeploymentSpec: image architecture, the worker's runpod pin, cost settings."""
    subject = f"spec {spec.name}"
    evidence = [f"image {spec.image}, pools {list(spec.gpus)}, workers {spec.workers.min}..{spec.workers.max}, "
                f"idle timeout {spec.workers.idle_timeout_s} s"]
    if check_image:
        arch = _image_platform(spec.image)
        if arch and arch != "linux/amd64":
            return _verdict(subject, "wrong_architecture", evidence + [
                f"the local image {spec.image} is {arch}; RunPod runs linux/amd64 (exec format error at start)"])
    req = Path(requirements or REPO_ROOT / "worker" / "requirements.txt")
    pinned = rules.pinned_sdk(req.read_text()) if req.is_file() else None
    if rules.buggy_sdk(pinned) and spec.volume is not None:
        return _verdict(subject, "sdk_bug", evidence + [
            f"{req.name} pins runpod=={'.'.join(map(str, pinned))} and the spec has a network volume"])
    cost = rules.cost_findings(rules.Settings(spec.workers.min, spec.workers.max, spec.workers.idle_timeout_s,
                                              tuple(spec.gpus), spec.gpu_count))
    if cost:
        return _verdict(subject, "runaway_cost", evidence + cost)
    return _verdict(subject, "healthy", evidence)


def _image_platform(image: str) -> str | None:
    """The local image's os/arch, or None when there is no daemon or no such image here."""
    try:
        from playbook.image import build, dockerhost

        if not dockerhost.image_exists(image):
            return None
        return build.check_platform(image).platform
    except Exception:  # no daemon: nothing to check locally
        return None


def diagnose(subject, target: Target | None = None, **options) -> Diagnosis:
    """One diagnosis with a fresh ``Doctor`` (use a ``Doctor`` to poll: it caches and remembers)."""
    return Doctor(target, **options).diagnose(subject)


def stop_crash_loop(diagnosis: Diagnosis, endpoint_id: str, target: Target | None = None) -> Diagnosis:
    """Set max workers to 0 on a crash-looping endpoint so it stops billing; recorded in ``actions``."""
    from playbook.core.config import resolve_target

    if diagnosis.verdict != "crash_loop":
        return diagnosis
    client = ControlClient(target or resolve_target(), retries=1)
    ep = client.get_endpoint(endpoint_id)
    client.update_endpoint(endpoint_id, {"workers": {**(ep.get("workers") or {}), "min": 0, "max": 0}})
    diagnosis.actions.append(f"set workers max to 0 on {endpoint_id}: no worker starts (or bills) until you "
                             "fix the image and raise it again")
    return diagnosis
