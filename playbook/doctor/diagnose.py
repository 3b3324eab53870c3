"""The doctor: one verdict, with its evidence and a one-sentence fix, for an endpoint, a job or a spec.

Why: a status is often wrong about the cause. A crash-looping worker may read RUNNING, "stuck IN_QUEUE"
can mean no stock, a crash loop, a pull that never ends or a driver too old; the logs say which. So the
doctor reads what RunPod exposes (the job's status, the workers view, one worker's logs, the catalog,
the endpoint's settings) through the same REST v2 and job API on either target, classifies the log
lines (``playbook.doctor.rules``) and names one cause from a closed set (``VERDICTS``).

Cost: a ``Doctor`` caches what does not change between polls (the endpoint, the catalog, templates), so
a poll costs the workers view plus one extra call (one worker's logs, or the job's status). It also
remembers the workers it saw, which is how it tells "no stock" (workers wait THROTTLED, nothing in their
logs) from "start and die" (workers come and go, tracebacks) from "hung" (a worker holds the job and its
log is silent).

Use:
    from playbook.doctor import diagnose as doctor
    doctor.diagnose("abc123")                       # an endpoint id
    doctor.diagnose("abc123/7f0e...-u1")            # endpoint/job
    doctor.diagnose(spec)                           # a DeploymentSpec, before deploying
    playbook doctor abc123 --stop-crash-loop         # CLI; sets max workers to 0 on a crash loop
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from playbook.api.control import ControlClient, ControlError
from playbook.api.jobs import JobClient, JobResult
from playbook.core.config import REPO_ROOT, Target
from playbook.core.html import fields_table
from playbook.doctor import rules
from playbook.monitor.worker_logs import LogLine, epoch_s, read

HUNG_AFTER_S = 120.0  # a job running this long with a silent worker log is hung
SLOW_DELAY_S = 30.0  # a job that waited longer than this in the queue was slow
MAX_EVIDENCE_LOG_LINES = 3
YOUNG_S, FOLLOW_YOUNG_S = 10, 2.0  # follow the log of a worker younger than YOUNG_S for FOLLOW_YOUNG_S
# causes read from a worker's log: remembered between polls, since that worker may be gone at the next
FROM_LOGS = {"crash_loop", "image_pull", "cuda_mismatch", "models_missing", "out_of_memory", "wrong_architecture"}


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

    @property
    def meaning(self) -> str:
        return rules.VERDICTS[self.verdict][0]

    def __str__(self) -> str:
        lines = [f"{self.subject}: {self.verdict} ({self.meaning})"]
        lines += [f"  - {e}" for e in self.evidence] + [f"  fix: {self.fix}"] + [f"  done: {a}" for a in self.actions]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return fields_table({"subject": self.subject, "verdict": self.verdict, "meaning": self.meaning,
                             "evidence": " | ".join(self.evidence), "fix": self.fix,
                             "api calls": self.api_calls, "seconds": round(self.elapsed_s, 3)})


def _verdict(subject: str, verdict: str, evidence: list[str]) -> Diagnosis:
    return Diagnosis(subject, verdict, evidence or ["no evidence found"], rules.VERDICTS[verdict][1])


def _short(text: str, n: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n - 3] + "..."


def _excerpt(text: str, at: int, n: int = 200) -> str:
    """At most ``n`` characters of ``text`` around position ``at`` (where the telling words are)."""
    if len(text) <= n:
        return _short(text, n)
    start = max(0, min(at - 60, len(text) - n))
    return ("..." if start else "") + _short(text[start:start + n], n) + ("..." if start + n < len(text) else "")


class Doctor:
    """Diagnoses on one target, caching settings and remembering workers between polls."""

    def __init__(self, target: Target | None = None, hung_after_s: float = HUNG_AFTER_S,
                 slow_delay_s: float = SLOW_DELAY_S):
        from playbook.core.config import resolve_target

        self.target = target or resolve_target()
        self.control = ControlClient(self.target, retries=1)
        self.hung_after_s, self.slow_delay_s = hung_after_s, slow_delay_s
        self.calls = 0
        self._endpoints: dict[str, dict] = {}
        self._templates: list[dict] | None = None
        self._catalog: list[dict] | None = None
        self._seen: dict[str, dict[str, None]] = {}  # endpoint -> worker ids seen, oldest first
        self._gone_read: set[str] = set()  # workers that left and whose last log was read
        self._progress: dict[str, tuple] = {}  # job -> (output, last log ts) at the previous poll
        self._findings: dict[str, Diagnosis] = {}  # endpoint -> the last cause its logs showed

    # -- cached reads ----------------------------------------------------------------------------
    def _call(self, fn, *args, **kwargs):
        self.calls += 1
        return fn(*args, **kwargs)

    def endpoint(self, endpoint_id: str) -> dict:
        if endpoint_id not in self._endpoints:
            self._endpoints[endpoint_id] = self._call(self.control.get_endpoint, endpoint_id)
        return self._endpoints[endpoint_id]

    def templates(self) -> list[dict]:
        if self._templates is None:
            self._templates = self._call(self.control.list_templates)
        return self._templates

    def catalog(self) -> list[dict]:
        if self._catalog is None:
            self._catalog = self._call(self.control.gpus, availability=True)
        return self._catalog

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
        if isinstance(subject, tuple):
            result = self.job(*subject)
        elif isinstance(subject, str) and "/" in subject:
            result = self.job(*subject.split("/", 1))
        elif isinstance(subject, str):
            result = self.endpoint_diagnosis(subject)
        else:
            result = spec_diagnosis(subject)
        result.api_calls, result.elapsed_s = self.calls - calls, time.monotonic() - start
        return result

    # -- endpoints -------------------------------------------------------------------------------
    def endpoint_diagnosis(self, endpoint_id: str, job: JobResult | None = None) -> Diagnosis:
        """The verdict of this poll; when it finds nothing while work still waits, the cause an earlier
        poll saw in a worker's log (that worker may be gone, and its successor has not failed yet)."""
        found = self._endpoint_poll(endpoint_id, job)
        if found.verdict in FROM_LOGS:
            self._findings[endpoint_id] = found
        earlier = self._findings.get(endpoint_id)
        waiting = job is not None and job.status == "IN_QUEUE"
        if found.verdict in ("healthy", "healthy_but_slow") and earlier is not None and waiting:
            return Diagnosis(found.subject, earlier.verdict,
                             found.evidence + [f"an earlier poll: {e}" for e in earlier.evidence[-2:]], earlier.fix)
        return found

    def _endpoint_poll(self, endpoint_id: str, job: JobResult | None = None) -> Diagnosis:
        subject = f"endpoint {endpoint_id}" + (f" job {job.id}" if job else "")
        ep = self.endpoint(endpoint_id)
        view = self._call(self.control.endpoint_workers, endpoint_id)
        workers = view.get("workers") or []
        seen = self._seen.setdefault(endpoint_id, {})
        current = {w["id"] for w in workers}
        turnover = bool(seen) and bool(current - set(seen)) and not (set(seen) & current)
        gone = [w for w in seen if w not in current and w not in self._gone_read]
        seen.update(dict.fromkeys(current))
        statuses = ", ".join(f"{w['id']} {w['status']}{' (stale)' if w.get('isStale') else ''}" for w in workers)
        evidence = [f"workers view: {statuses or 'no active workers'} (endpoint version {view.get('endpointVersion')})"]
        if job is not None:
            evidence.insert(0, f"job {job.id}: {job.status}" + (f", error: {_short(job.error)}" if job.error else ""))

        worker_id = self._suspect(workers, job)
        if gone and not (job is not None and job.worker_id):  # a worker that left since the last poll says why
            worker_id = gone[-1]
            self._gone_read.add(worker_id)
        young = next((w for w in workers if w["id"] == worker_id and w.get("uptimeSeconds") is not None
                      and w["uptimeSeconds"] < YOUNG_S and w["status"] in ("RUNNING", "INITIALIZING")), None)
        # a worker that just started says little yet: follow its log a moment (a crash shows within it)
        lines = self.logs(endpoint_id, worker_id, follow_s=FOLLOW_YOUNG_S if young else 0.0) if worker_id else []
        found = self._from_lines(lines, job)
        if found:
            verdict, hits = found
            return _verdict(subject, verdict, evidence + [f"log of {worker_id}: {h}" for h in hits])

        if workers and all(w["status"] == "THROTTLED" for w in workers):
            return _verdict(subject, "capacity", evidence + self._stock_evidence(ep) + [
                f"log of {worker_id}: {_short(x.line)}" for x in lines[-1:]])
        crash = [x for x in lines if rules.CRASH_PATTERN.search(x.line)]
        failed_starts = job is not None and "before taking a job" in (job.error or "")
        if crash or failed_starts or turnover:
            shown = [x for x in crash if not rules.TRACEBACK_HEADER.search(x.line)] or crash
            more = [f"log of {worker_id}: {_short(x.line)}" for x in shown[:MAX_EVIDENCE_LOG_LINES]]
            if turnover:
                more.append(f"worker ids changed between polls ({len(seen)} seen): workers start and die")
            running = [w["id"] for w in workers if w["status"] == "RUNNING"]
            if running:
                more.append(f"status reads RUNNING for {', '.join(running)} although no job runs: the logs decide")
            return _verdict(subject, "crash_loop", evidence + more)
        unhealthy = [w for w in workers if w["status"] == "UNHEALTHY"]
        if unhealthy:
            return _verdict(subject, "init_timeout", evidence + [f"{w['id']} is UNHEALTHY" for w in unhealthy])
        stale = self._stale_evidence(ep, workers)
        if stale:
            return _verdict(subject, "stale_release", evidence + stale)
        version = next((v for x in lines if (v := rules.sdk_version(x.line))), None)
        if rules.buggy_sdk(version) and ep.get("networkVolumes"):
            return _verdict(subject, "sdk_bug", evidence + [
                f"worker runs runpod {'.'.join(map(str, version))} with a network volume: 1.7.11 to 1.10.0 send "
                "nearly every job to one worker"])
        cost = rules.cost_findings(self._settings(ep))
        if cost:
            return _verdict(subject, "runaway_cost", evidence + cost)
        if job is not None and job.status == "IN_QUEUE" and not workers:
            return _verdict(subject, "healthy_but_slow", evidence + ["the job waits for a worker to start"])
        return _verdict(subject, "healthy", evidence)

    def _suspect(self, workers: list[dict], job: JobResult | None) -> str | None:
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

    @staticmethod
    def _from_lines(lines: list[LogLine], job: JobResult | None) -> tuple[str, list[str]] | None:
        texts = ([job.error] if job is not None and job.error else []) + [x.line for x in lines]
        for verdict, pattern in rules.LOG_PATTERNS:
            hits = [_excerpt(t, m.start()) for t in texts if (m := pattern.search(t))]
            if hits:
                return verdict, hits[:MAX_EVIDENCE_LOG_LINES]
        return None

    def _stock_evidence(self, ep: dict) -> list[str]:
        """What the catalog says about the endpoint's pools in its data centers (stock levels)."""
        pools = list(dict.fromkeys((ep.get("gpu") or {}).get("pools") or []))
        dcs = ep.get("dataCenterIds") or []
        out = []
        for pool in pools:
            gpu = next((g for g in self.catalog() if g.get("pool") == pool), None)
            if gpu is None:
                out.append(f"catalog: pool {pool} is not in the catalog")
                continue
            stock = {d.get("id"): d.get("availability") for d in gpu.get("dataCenters") or []}
            where = dcs or sorted(stock) or ["any data center"]
            out.append(f"catalog: {pool} stock " + ", ".join(f"{dc} {stock.get(dc, 'NONE')}" for dc in where))
        return out[:4]

    def _stale_evidence(self, ep: dict, workers: list[dict]) -> list[str]:
        out = [f"{w['id']} runs version {w.get('version')}, the endpoint is at a newer one" for w in workers
               if w.get("isStale")]
        for template in self.templates():
            if template.get("name") == ep.get("name") and template.get("image") and ep.get("image") \
                    and template["image"] != ep["image"]:
                out.append(f"template {template['id']} ({template['name']}) has image {template['image']} but the "
                           f"endpoint runs {ep['image']}: template edits do not reach an existing endpoint")
        return out

    @staticmethod
    def _settings(ep: dict) -> rules.Settings:
        w = ep.get("workers") or {}
        gpu = ep.get("gpu") or {}
        return rules.Settings(int(w.get("min") or 0), int(w.get("max") or 0), float(w.get("idleTimeout") or 5),
                              tuple(gpu.get("pools") or ()), int(gpu.get("count") or 1))

    # -- jobs ------------------------------------------------------------------------------------
    def job(self, endpoint_id: str, job_id: str) -> Diagnosis:
        result = self._call(JobClient(self.target, endpoint_id).status, job_id)
        subject = f"endpoint {endpoint_id} job {job_id}"
        head = [f"job {job_id}: {result.status}, delayTime {result.delay_ms} ms, executionTime "
                f"{result.execution_ms} ms" + (f", worker {result.worker_id}" if result.worker_id else "")]
        if result.status == "IN_PROGRESS":
            return self._running(endpoint_id, result, subject, head)
        if result.status == "COMPLETED":
            if (result.delay_ms or 0) > self.slow_delay_s * 1000:
                return _verdict(subject, "healthy_but_slow", head + [
                    f"it waited {result.delay_ms / 1000:.1f} s before a worker took it (over {self.slow_delay_s:g} s)"])
            return _verdict(subject, "healthy", head)
        if result.status == "TIMED_OUT":
            return _verdict(subject, "hung", head + [f"error: {_short(result.error or '')}"])
        diagnosis = self.endpoint_diagnosis(endpoint_id, job=result)
        diagnosis.subject = subject
        return diagnosis

    def _running(self, endpoint_id: str, result: JobResult, subject: str, head: list[str]) -> Diagnosis:
        lines = self.logs(endpoint_id, result.worker_id) if result.worker_id else []
        last_ts = lines[-1].ts if lines else None
        silent_s = None
        if last_ts:
            silent_s = time.time() - epoch_s(last_ts)
        before = self._progress.get(result.id)
        self._progress[result.id] = (repr(result.output), last_ts)
        progressed = before is not None and before != self._progress[result.id]
        running_s = (result.execution_ms or 0) / 1000
        if running_s >= self.hung_after_s and not progressed and (silent_s is None or silent_s >= self.hung_after_s):
            return _verdict(subject, "hung", head + [
                f"running {running_s:.0f} s; the worker's log has been silent for "
                f"{'its whole life' if silent_s is None else f'{silent_s:.0f} s'} and the job reports no progress"])
        return _verdict(subject, "healthy_but_slow", head + [
            f"running {running_s:.1f} s, still making progress (last log line {silent_s or 0:.1f} s ago"
            f"{', progress changed since the last poll' if progressed else ''})"])


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
