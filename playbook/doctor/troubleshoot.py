"""The troubleshooting clinic of notebook 08: break an endpoint, wait for the symptom a user sees, ask
the doctor once, apply the doctor's own fix as a visible change, and see it pass. Each broken endpoint is a
throw-away copy of the journey's endpoint (05's), deleted once it passes. On RunPod (the runpod target) every
copy is made through REST v2 and runs the journey's image by digest; what only the local platform can simulate
(the fault switch) and what needs a build or an upload this walk-through does not make are skipped, each in
one line (``Walkthrough.skip_reason``).

Why a module: each pitfall is the same steps with different settings; the notebook stays a few calls per
pitfall and the tests drive the very same code. Every pitfall a CPU can produce is made from its real
cause, through RunPod's public interfaces: pools without stock in the catalog, an env var with a typo, max
workers 0, an arm64 image, an env var that kills Python at start (a crash loop), an image tag missing from
the registry, an init timeout shorter than the worker's real start, an empty volume, a job longer than the
execution timeout, a PATCH while a worker runs, costly settings. The fault switch
(``playbook.local.runtime.faults``) simulates only what a CPU cannot produce (a driver older than the
image's CUDA, GPU out of memory); the notebook says which, and quotes where their log lines come from.

Why all at once: most pitfalls cost a worker's cold start to break, or to verify, or both, and most of
that time is waiting. ``break_all`` breaks every copy at once and waits for all the symptoms together;
the doctor is asked once per pitfall the moment its symptom shows (as a user would run ``playbook
doctor``: later, some symptoms change, e.g. a worker past its init timeout goes on to serve the job);
``fix`` applies the doctor's change; ``verify_all`` sends every fixed copy a fresh job at once.
"""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from playbook.api import targets
from playbook.api.control import ControlClient
from playbook.api.jobs import JobClient
from playbook.core.html import table
from playbook.core.waiting import wait_for
from playbook.deploy import janitor
from playbook.doctor import diagnose as doctor

PREFIX = "playbook-troubleshoot-"  # what the walk-through makes (the janitor's prefix, so none is ever lost)
DEMO_JOB = {"prompt": "a lighthouse", "width": 64, "height": 64, "num_inference_steps": 2, "seed": 1}
# far more work than the copy's execution timeout allows, on any CPU: 8 images of 512x512, 100 steps each
LONG_JOB = {"prompt": "a lighthouse", "width": 512, "height": 512, "num_inference_steps": 100, "num_images": 8,
            "seed": 1}
SHORT_TIMEOUT_MS = 3000
TYPO_TAG = "lastest"  # the tag a user meant as "latest": not in the registry
PROCESS_IMAGE = "local/playbook-worker:1"  # a name no Docker daemon has: the local platform runs worker/handler.py
FAILING_WAIT_S = 120.0  # on RunPod: how long to watch for a failing worker before the throttled count will do
RELEASE_ENV = {"RELEASE_NOTE": "2"}  # on RunPod the stale release is an env change (a new image needs a build)
RUNPOD_SKIPS = {  # real-cause pitfalls that need more than REST v2 on RunPod
    "exec_format": "exec_format needs an arm64 build of the image pushed to your registry, which this walk-through "
                   "does not push",
    "models_missing": "models_missing's fix uploads the whole model to the empty volume through the S3 API (02's "
                      "upload), which this walk-through does not repeat",
}


@dataclass(frozen=True)
class Pitfall:
    name: str
    verdict: str  # what the doctor must say
    story: str  # how users meet it
    env: dict = field(default_factory=dict)  # env added to the copy (the real cause, or the fault switch)
    workers_min: int = 0
    empty_volume: bool = False
    job: dict | None = field(default_factory=lambda: dict(DEMO_JOB))  # the job a user sends (None: none)
    symptom: str = "terminal"  # what a user waits for: see Walkthrough.shows
    change: dict = field(default_factory=dict)  # the breaking change of the endpoint (REST fields)
    simulated: bool = False  # the fault switch stands in for a cause a CPU cannot produce
    needs_docker: bool = False
    keeps_worker: bool = False  # the fix changes no container field: the warm worker serves the verification
    start_failure: bool = False  # workers fail to start: locally the queue fails, RunPod keeps the job queued


PITFALLS = {p.name: p for p in (
    Pitfall("no_stock", "capacity", "jobs stay IN_QUEUE: the endpoint's GPU pools have no stock in its data "
            "centers", symptom="throttled"),
    Pitfall("env_typo", "bad_env", "workers die at start: an env var the worker reads has a typo",
            {"WORKER_DTYPE": "fp61"}, start_failure=True),
    Pitfall("no_workers", "no_workers", "jobs wait IN_QUEUE and the workers view is empty: max workers is 0",
            change={"workers": {"min": 0, "max": 0, "idleTimeout": 2}}, symptom="queued"),
    Pitfall("exec_format", "wrong_architecture", "workers die at once: the image was built for arm64",
            needs_docker=True),
    Pitfall("crash_loop", "crash_loop", "workers die at start, one after another: PYTHONHOME points at a Python "
            "that is not in the image", {"PYTHONHOME": "/opt/conda"}, start_failure=True),
    Pitfall("image_pull", "image_pull", f"workers never start: the image's tag (:{TYPO_TAG}) is not in the "
            "registry", needs_docker=True, start_failure=True),
    Pitfall("cuda_mismatch", "cuda_mismatch", "workers exit at once: the host driver is older than the image's CUDA",
            {"PLAYBOOK_FAULT": "cuda_mismatch"}, simulated=True),
    Pitfall("out_of_memory", "out_of_memory", "jobs FAIL: the model does not fit the GPU", {"PLAYBOOK_FAULT": "oom"},
            simulated=True),
    Pitfall("slow_start", "init_timeout", "workers turn UNHEALTHY: the start takes longer than the init timeout",
            {"RUNPOD_INIT_TIMEOUT": "1"}, symptom="unhealthy"),
    Pitfall("models_missing", "models_missing", "workers fail their fitness check: the volume has no model",
            empty_volume=True),
    Pitfall("timeout", "execution_timeout", "a job is stopped TIMED_OUT: it needs more than the endpoint's "
            "execution timeout", job=LONG_JOB, change={"timeout": SHORT_TIMEOUT_MS}),
    Pitfall("stale_release", "stale_release", "a new image was PATCHed in, but the running worker is older",
            workers_min=1, job=None, symptom="stale"),
    Pitfall("runaway_cost", "runaway_cost", "min workers 1 and a long idle timeout: it bills with no traffic",
            workers_min=1, job=None, symptom="idle", keeps_worker=True),
)}


@dataclass
class Symptom:
    """What a user saw when the symptom showed: the job's status and the workers view, and when."""

    pitfall: str
    story: str
    job_status: str | None
    workers: str
    after_s: float

    def __str__(self) -> str:
        job = f"job {self.job_status}" if self.job_status else "no job sent"
        return f"{self.pitfall}: {job}; workers: {self.workers} ({self.after_s:.0f} s after the break)"

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        return table([[self.pitfall, self.story, self.job_status or "(no job)", self.workers, round(self.after_s)]],
                     header=["pitfall", "how users meet it", "job", "workers view", "seconds to the symptom"])


@dataclass
class Case:
    """One broken endpoint of the walk-through."""

    pitfall: Pitfall
    endpoint_id: str
    volume: Path
    job_id: str | None = None
    symptom: Symptom | None = None
    diagnosis: doctor.Diagnosis | None = None  # the doctor, asked once when the symptom showed
    before_fix: set = field(default_factory=set)  # worker ids when the fix was applied (they must go first)
    verdict_after: doctor.Diagnosis | None = None
    verify_id: str | None = None  # a verification job sent at the fix (to a warm worker)
    verify_job: object = None  # the verification job's JobResult
    seen: dict = field(default_factory=dict)  # worker ids the workers view listed while waiting, oldest first

    @property
    def subject(self) -> str:
        return f"{self.endpoint_id}/{self.job_id}" if self.job_id else self.endpoint_id


@dataclass
class Fix:
    """What was done: the PATCH (each changed field, before -> after), or the step the doctor's fix names."""

    pitfall: str
    done: str
    changes: list[str]

    def __str__(self) -> str:
        return "\n".join([self.done] + [f"  {c}" for c in self.changes])

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))


@dataclass
class Rows:
    """A small table that reads as text too (``print``, a text-only viewer) and as HTML in a notebook."""

    header: list[str]
    rows: list[list]

    def __str__(self) -> str:
        cells = [self.header] + [["" if v is None else str(v) for v in r] for r in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.header))]
        return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        return table(self.rows, header=self.header)


def describe_change(before: dict, change: dict, prefix: str = "") -> list[str]:
    """Each field a PATCH body changes, as ``path: before -> after`` (env keys one by one)."""
    out = []
    for key, value in change.items():
        old = (before or {}).get(key)
        if isinstance(value, dict) and (isinstance(old, dict) or old is None):
            out += describe_change(old or {}, value, f"{prefix}{key}.")
            if key == "env":
                out += [f"{prefix}env.{k}: {v!r} -> (removed)" for k, v in (old or {}).items() if k not in value]
        elif old != value:
            out.append(f"{prefix}{key}: {json.dumps(old)} -> {json.dumps(value)}")
    return out


class Walkthrough:
    """Breaks, diagnoses and fixes pitfalls on copies of the journey's endpoint, on the journey's target.

    Each broken endpoint is a throw-away copy of ``endpoint_id`` (its env, pools and network volume: the
    model the journey put there; locally its worker runs the image's handler as a local process), named
    ``playbook-troubleshoot-<pitfall>``, made and fixed through RunPod's REST API and deleted once it
    passes; no second volume of the model is ever made (the empty one of "models missing" is made empty on
    purpose, and deleted too). ``clean_up()`` deletes anything the walk-through made that is still there."""

    def __init__(self, client: ControlClient, endpoint_id: str, hung_after_s: float = 5.0,
                 timeout_s: float = 600.0):
        from playbook.core.errors import ConfigError

        self.client = self.control = client
        self.target = client.target
        base = client.get_endpoint(endpoint_id)
        if not base.get("networkVolumes"):
            raise ConfigError(f"endpoint {endpoint_id} has no network volume: the walk-through breaks copies of "
                              "an endpoint whose workers read the model from a volume (the journey's, from 02/05)")
        self.endpoint_id, self.volume_id = endpoint_id, base["networkVolumes"][0]
        self.local = client.target.name == "local"
        self.volume = targets.local_volume_path(client, self.volume_id) if self.local else None
        self.image = base["image"]  # the journey's image: what the image pitfalls (arm64, a pull) get back
        # locally the copies run the image's own handler as local processes: a dozen containers starting at once
        # queue for the CPU (the local Docker daemon's containers share one CPU weight); the image pitfalls use
        # Docker. On RunPod every copy runs the journey's image, by its digest
        self.base = {"type": "QUEUE", "image": PROCESS_IMAGE if self.local else self.image,
                     "env": dict(base.get("env") or {}),
                     "gpu": {"pools": list(base["gpu"]["pools"])}, "dataCenterIds": list(base.get("dataCenterIds")
                                                                                     or [])}
        self.hung_after_s, self.timeout_s = hung_after_s, timeout_s
        self.made: list[tuple[str, str, str]] = []  # (kind, id, name) of what the walk-through created
        self.cases: dict[str, Case] = {}

    def doctor(self) -> doctor.Doctor:
        # a cold start of the demo worker is part of this walk-through: only call a wait "slow" past the timeout
        return doctor.Doctor(self.target, hung_after_s=self.hung_after_s, slow_delay_s=self.timeout_s)

    def _control(self) -> ControlClient:
        return ControlClient(self.target, retries=1)  # one per thread: a requests session is not shared

    def _made(self, kind: str, resource: dict) -> dict:
        self.made.append((kind, resource["id"], resource["name"]))
        return resource

    def available(self, name: str) -> bool:
        return self.skip_reason(name) is None

    def skip_reason(self, name: str) -> str | None:
        """Why the pitfall is not made here, in one line (None: it is). On RunPod: what only the local platform
        can simulate (the fault switch), and what needs a build this walk-through does not push. Locally: an
        arm64 image, or a pull from the registry, needs a Docker daemon (and, for the pull, the journey's image
        in a registry)."""
        pitfall = PITFALLS[name]
        if not self.local and pitfall.simulated:
            return (f"skipped on RunPod: {name} is simulated by the local platform's fault switch (a CPU cannot "
                    "cause it); RunPod runs your image as it is")
        if not self.local and name in RUNPOD_SKIPS:
            return f"skipped on RunPod: {RUNPOD_SKIPS[name]}"
        if not pitfall.needs_docker:
            return None
        from playbook.image import dockerhost

        host = self.image.split("/")[0]
        in_registry = "/" in self.image and ("." in host or ":" in host)
        if (name == "image_pull" and not in_registry) or not dockerhost.daemon_status().available:
            return f"skipped: {name} needs a Docker daemon (and the journey's image in a registry), none here"
        return None

    # -- break ---------------------------------------------------------------------------------------
    def break_all(self, names: list[str] | None = None) -> dict[str, Case]:
        """Break each pitfall on its own copy, all at once, and wait for every symptom together; the doctor
        is asked once per pitfall, when its symptom shows. Returns the cases by name (``self.cases``)."""
        names = [n for n in (names or PITFALLS) if self.available(n)]
        with ThreadPoolExecutor(max_workers=len(names) or 1) as pool:
            cases = list(pool.map(self.break_it, names))
        self.cases.update({c.pitfall.name: c for c in cases})
        return {c.pitfall.name: c for c in cases}

    def break_it(self, name: str) -> Case:
        """Make the broken copy, send its job, wait for the symptom, and ask the doctor once."""
        pitfall, control, start = PITFALLS[name], self._control(), time.monotonic()
        volume_id, volume = self.volume_id, self.volume
        if pitfall.empty_volume:
            current = control.get_network_volume(self.volume_id)
            empty = self._made("network volume", control.create_network_volume({
                "name": f"{PREFIX}empty", "size": 10, "dataCenter": current["dataCenter"]}))
            volume_id, volume = empty["id"], targets.local_volume_path(control, empty["id"])
        idle_s = 60 if name == "runaway_cost" else 2
        ep = self._made("endpoint", control.create_endpoint({
            **self.base, "name": f"{PREFIX}{name}", "env": {**self.base["env"], **pitfall.env},
            "networkVolumes": [volume_id], "workers": {"min": pitfall.workers_min, "max": 1, "idleTimeout": idle_s},
            "scaling": {"type": "QUEUE_DELAY", "queueDelay": 0.5}, **pitfall.change, **self._breaking(name, control)}))
        case = Case(pitfall, ep["id"], volume)
        if name == "stale_release":  # the worker starts, then a new image is PATCHed in: a new release
            wait_for(lambda: control.endpoint_workers(ep["id"])["summary"]["idle"], self.timeout_s,
                     what="the first worker to be ready", interval_s=0.3, max_interval_s=1.0)
            control.update_endpoint(ep["id"], {"image": "local/playbook-worker:2"} if self.local
                                    else {"env": {**self.base["env"], **pitfall.env, **RELEASE_ENV}})
        if pitfall.job is not None:
            case.job_id = JobClient(self.target, ep["id"]).run(pitfall.job)
        # on RunPod a worker that fails to start leaves the workers view at once: watch closely to catch one
        pause_s, most_s = (0.05, 0.1) if pitfall.start_failure and not self.local else (0.3, 1.0)
        wait_for(lambda: self.shows(case, start, control), self.timeout_s, what=f"the {name} symptom",
                 interval_s=pause_s, max_interval_s=most_s)
        case.symptom = self._symptom(case, control, time.monotonic() - start)
        doctor_now = self.doctor()
        doctor_now.remember(case.endpoint_id, case.seen)  # what the wait saw come and go (RunPod's crash loops)
        case.diagnosis = doctor_now.diagnose(case.subject)  # asked once, as `playbook doctor` would be
        return case

    def _breaking(self, name: str, control: ControlClient) -> dict:
        """The REST fields that break a copy for real: a pool without stock in its data centers, an arm64
        image, a tag that is not in the registry."""
        if name == "no_stock":
            dcs = self.base["dataCenterIds"] or [control.get_network_volume(self.volume_id)["dataCenter"]]
            return {"gpu": {"pools": [self._pool_without_stock(dcs, control)]}, "dataCenterIds": dcs}
        if name == "exec_format":
            from playbook.image import build

            return {"image": build.make_foreign_image("arm64", "runpod-playbook-troubleshoot:arm64")}
        if name == "image_pull":
            from playbook.doctor.checks.stale_release import repository

            return {"image": f"{repository(self.image)}:{TYPO_TAG}"}
        return {}

    def _pool_without_stock(self, dcs: list[str], control: ControlClient) -> str:
        for gpu in control.gpus(availability=True):
            stocked = {d.get("id") for d in gpu.get("dataCenters") or [] if d.get("availability") != "NONE"}
            if gpu.get("pool") and not stocked & set(dcs):
                return gpu["pool"]
        from playbook.core.errors import ConfigError

        raise ConfigError(f"every GPU pool has stock in {dcs}: no pool to show 'no stock' with")

    def shows(self, case: Case, since: float, control: ControlClient | None = None) -> bool:
        """Whether the symptom a user waits for is there (a job's status, the workers view), not a verdict."""
        control = control or self.control
        jobs = JobClient(self.target, case.endpoint_id)
        job = jobs.status(case.job_id) if case.job_id else None
        workers = control.endpoint_workers(case.endpoint_id)["workers"]
        status = {w["status"] for w in workers}
        case.seen.update(dict.fromkeys(w["id"] for w in workers))
        if case.pitfall.start_failure and not self.local:  # RunPod restarts with back-off; the job stays queued
            if job is None or job.terminal:
                return job is not None
            gone = set(case.seen) - {w["id"] for w in workers}  # a worker came and went: it failed to start
            late = time.monotonic() - since > FAILING_WAIT_S  # none caught (a pull fails fast): the back-off shows
            return job.status == "IN_QUEUE" and (bool(gone) or (late and jobs.health().workers_throttled > 0))
        return {"terminal": job is not None and job.terminal,
                "throttled": "THROTTLED" in status, "unhealthy": "UNHEALTHY" in status, "idle": "IDLE" in status,
                "stale": any(w.get("isStale") for w in workers),
                "queued": job is not None and job.status == "IN_QUEUE" and time.monotonic() - since > 2,
                }[case.pitfall.symptom]

    def _symptom(self, case: Case, control: ControlClient, after_s: float) -> Symptom:
        status = JobClient(self.target, case.endpoint_id).status(case.job_id).status if case.job_id else None
        view = control.endpoint_workers(case.endpoint_id)
        workers = ", ".join(f"{w['id']} {w['status']}" + (" (stale)" if w["isStale"] else "")
                            for w in view["workers"]) or "none"
        return Symptom(case.pitfall.name, case.pitfall.story, status, workers, after_s)

    def symptoms(self) -> Rows:
        """Every symptom seen and the verdict the doctor gave then, one row per pitfall."""
        return Rows(["pitfall", "job", "workers view", "symptom after s", "verdict"],
                    [[c.pitfall.name, c.symptom.job_status or "(no job)", c.symptom.workers, round(c.symptom.after_s),
                      c.diagnosis.verdict if c.diagnosis else ""] for c in self.cases.values() if c.symptom])

    def seen(self, name: str) -> str:
        """The symptom and the doctor's diagnosis of one pitfall, as text (or why it was skipped)."""
        case = self.cases.get(name)
        if case is None:
            return self.skip_reason(name) or f"skipped: {name} was not made here"
        return f"symptom: {case.symptom}\n\n{case.diagnosis}"

    # -- fix -------------------------------------------------------------------------------------------
    def fix(self, case: Case | str) -> Fix | str:
        """Apply the doctor's fix through the API: its ``change`` (a PATCH of the endpoint) when it has one,
        else the step its fix sentence names (upload the model, the right image, a new release)."""
        if isinstance(case, str):
            if case not in self.cases:
                return self.skip_reason(case) or f"skipped: {case} was not made here"
            case = self.cases[case]
        name, eid = case.pitfall.name, case.endpoint_id
        case.before_fix = {w["id"] for w in self.control.endpoint_workers(eid)["workers"]}
        if name == "models_missing":  # "upload the model to the network volume"
            shutil.copytree(self.volume / "models", case.volume / "models", dirs_exist_ok=True)
            return Fix(name, "copied the model folder to the endpoint's network volume (the doctor's fix: upload "
                             "the model); the next worker passes its fitness check", [])
        change = case.diagnosis.change if case.diagnosis else None
        if change:
            done = f"applied the doctor's change: PATCH /v2/serverless/{eid}"
        else:
            change, done = self._manual_fix(name)
            done += f": PATCH /v2/serverless/{eid}"
        lines = describe_change(self.control.get_endpoint(eid), change)
        self.control.update_endpoint(eid, change)
        if case.pitfall.keeps_worker:  # no new release: the warm worker takes the fresh job now, before it idles out
            case.verify_id = JobClient(self.target, eid).run(DEMO_JOB)
            done += " (the fresh job is sent now, to the warm worker)"
        return Fix(name, done, lines)

    def _manual_fix(self, name: str) -> tuple[dict, str]:
        """The step the doctor's fix sentence names, where it has no change to apply."""
        if name in ("exec_format", "image_pull"):
            what = "rebuilt for linux/amd64 (`playbook build`)" if name == "exec_format" else \
                "the image the journey pushed (04), by its digest"
            return {"image": self.image}, f"the right image: {what}"
        if name == "stale_release":
            return ({"workers": {"min": 0, "max": 1, "idleTimeout": 2}},
                    "workers min 0, so the stale worker stops at its idle timeout and the next one runs the new "
                    "release")
        return {"env": dict(self.base["env"])}, "a new release (PATCH of env) without the simulated fault"

    # -- verify ----------------------------------------------------------------------------------------
    def verify_all(self, keep: bool = False) -> dict[str, doctor.Diagnosis]:
        """Every fixed copy at once: its broken workers gone, a fresh job completes, and the doctor finds the
        endpoint (or that job) healthy; then what the walk-through made is deleted unless ``keep``."""
        cases = [c for c in self.cases.values() if c.verdict_after is None]
        with ThreadPoolExecutor(max_workers=len(cases) or 1) as pool:
            list(pool.map(self.verify, cases))
        if not keep:
            self.clean_up()
        return {c.pitfall.name: c.verdict_after for c in cases}

    def verify(self, case: Case) -> doctor.Diagnosis:
        control, eid = self._control(), case.endpoint_id
        if not case.pitfall.keeps_worker:  # the broken workers leave first (their idle timeout, a new release)
            wait_for(lambda: not case.before_fix & {w["id"] for w in control.endpoint_workers(eid)["workers"]},
                     self.timeout_s, what=f"the broken workers of {case.pitfall.name} to stop", interval_s=0.3,
                     max_interval_s=1.0)
        jobs = JobClient(self.target, eid)
        case.verify_job = jobs.wait(case.verify_id, timeout_s=self.timeout_s) if case.verify_id else \
            jobs.run_sync(DEMO_JOB, timeout_s=self.timeout_s)
        case.job_id = case.verify_job.id if case.pitfall.job is not None else None
        case.verdict_after = self.doctor().diagnose(case.subject)
        return case.verdict_after

    def verified(self) -> Rows:
        """One row per pitfall: the verdict when broken, the fresh job after the fix, the verdict then."""
        rows = []
        for c in self.cases.values():
            job = c.verify_job
            rows.append([c.pitfall.name, c.diagnosis.verdict if c.diagnosis else "", job.status if job else "",
                         f"{job.delay_ms / 1000:.1f}" if job and job.delay_ms is not None else "",
                         c.verdict_after.verdict if c.verdict_after else ""])
        return Rows(["pitfall", "verdict when broken", "fresh job", "it waited s", "verdict when fixed"], rows)

    def clean_up(self) -> list[str]:
        """Delete what the walk-through made and is still there (the janitor's order: endpoints first); one
        already deleted by hand is passed over."""
        made = [janitor.Stale(kind, resource_id, name, None, "delete") for kind, resource_id, name in self.made]
        deleted = janitor.delete_items(self.client, made, missing_ok=True)
        self.made.clear()
        return [f"{item.kind} {item.name} ({item.id})" for item in deleted]

    def diagnose_endpoint(self, endpoint_id: str) -> doctor.Diagnosis:
        return self.doctor().diagnose(endpoint_id)

    # -- traps that need no worker ---------------------------------------------------------------
    def template_trap(self) -> str:
        """A template, an endpoint created from it, then the template edited: returns the endpoint id."""
        tpl = self._made("template", self.control.create_template(
            {"name": f"{PREFIX}trap", "image": "local/playbook-worker:1", "serverless": True}))
        ep = self._made("endpoint", self.control.create_endpoint(
            {"name": f"{PREFIX}trap", "type": "QUEUE", "templateId": tpl["id"], "gpu": {"pools": ["AMPERE_16"]},
             "workers": {"min": 0, "max": 1}, "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4}}))
        self.control.update_template(tpl["id"], {"image": "local/playbook-worker:2"})  # never reaches `ep`
        return ep["id"]

    def fix_template_trap(self, endpoint_id: str) -> Fix:
        """Apply the doctor's change: PATCH the endpoint itself with the image its template now holds."""
        change = self.diagnose_endpoint(endpoint_id).change
        if not change:
            return Fix("template_trap", "the doctor has no change to apply: nothing done", [])
        lines = describe_change(self.control.get_endpoint(endpoint_id), change)
        self.control.update_endpoint(endpoint_id, change)
        return Fix("template_trap", f"applied the doctor's change: PATCH /v2/serverless/{endpoint_id} (a new "
                                    "release)", lines)


def requirements_with_sdk(version: str, folder: Path) -> Path:
    """A copy of the worker's requirements.txt with runpod pinned to ``version`` (to check a spec)."""
    from playbook.core.config import REPO_ROOT

    text = (REPO_ROOT / "worker" / "requirements.txt").read_text()
    lines = [f"runpod=={version}" if line.strip().startswith("runpod==") else line for line in text.splitlines()]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "requirements.txt"
    path.write_text("\n".join(lines) + "\n")
    return path
