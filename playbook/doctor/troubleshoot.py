"""The troubleshooting clinic of notebook 08: break an endpoint, wait for the symptom a user sees, ask
the doctor once, apply the doctor's own fix as a visible change, and see it pass. Local platform only;
each broken endpoint is a throw-away copy of the journey's endpoint (05's), deleted once it passes.

Why a module: each pitfall is the same steps with different settings; the notebook stays a few calls per
pitfall and the tests drive the very same code. Most pitfalls are made from their real cause, through
RunPod's public interfaces: pools without stock in the catalog, an env var with a typo, max workers 0, an
empty volume, an init timeout shorter than the worker's real start, a PATCH while workers run, costly
settings, an arm64 image (with a Docker daemon). The
fault switch (``playbook.local.runtime.faults``) simulates what a CPU cannot produce (a driver older than
the image's CUDA, GPU out of memory) and a few classics kept from before (a crash loop, a pull that never
ends, a hung handler); the notebook says which. The wait is for the symptom (a job's
status, the workers view), never for the doctor's verdict; the fix is the doctor's ``change`` (a PATCH of
the endpoint) when it has one, else the step its fix sentence names.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from playbook.api import targets
from playbook.api.control import ControlClient
from playbook.api.jobs import JobClient
from playbook.core.html import fields_table
from playbook.core.waiting import wait_for
from playbook.deploy import janitor
from playbook.doctor import diagnose as doctor

PREFIX = "playbook-troubleshoot-"  # what the walk-through makes (the janitor's prefix, so none is ever lost)
DEMO_JOB = {"prompt": "a lighthouse", "width": 64, "height": 64, "num_inference_steps": 2, "seed": 1}


@dataclass(frozen=True)
class Pitfall:
    name: str
    verdict: str  # what the doctor must say
    story: str  # how users meet it
    env: dict = field(default_factory=dict)  # env of the broken endpoint (the fault switch)
    workers_min: int = 0
    empty_volume: bool = False
    sends_job: bool = True
    symptom: str = "terminal"  # what a user waits for: see Walkthrough.shows
    change: dict = field(default_factory=dict)  # the breaking change of the endpoint (REST fields)
    simulated: bool = False  # the fault switch stands in for a cause a CPU cannot produce
    needs_docker: bool = False


PITFALLS = {p.name: p for p in (
    Pitfall("no_stock", "capacity", "jobs stay IN_QUEUE forever: the endpoint's GPU pools have no stock in its data "
            "centers", symptom="throttled"),
    Pitfall("env_typo", "bad_env", "workers die at start: an env var the worker reads has a typo",
            {"WORKER_DTYPE": "fp61"}),
    Pitfall("no_workers", "no_workers", "jobs wait IN_QUEUE and the workers view is empty: max workers is 0",
            change={"workers": {"min": 0, "max": 0, "idleTimeout": 2}}, symptom="queued"),
    Pitfall("exec_format", "wrong_architecture", "workers die at once: the image was built for arm64",
            needs_docker=True),
    Pitfall("crash_loop", "crash_loop", "jobs fail and workers come and go: each worker dies at start",
            {"PLAYBOOK_FAULT": "crash_loop"}, simulated=True),
    Pitfall("image_pull", "image_pull", "workers stay INITIALIZING: the image cannot be pulled",
            {"PLAYBOOK_FAULT": "image_pull"}, symptom="initializing", simulated=True),
    Pitfall("cuda_mismatch", "cuda_mismatch", "workers exit at once: the host driver is older than the image's CUDA",
            {"PLAYBOOK_FAULT": "cuda_mismatch"}, simulated=True),
    Pitfall("out_of_memory", "out_of_memory", "jobs FAIL: the model does not fit the GPU", {"PLAYBOOK_FAULT": "oom"},
            simulated=True),
    Pitfall("slow_start", "init_timeout", "workers turn UNHEALTHY: the start takes longer than the init timeout",
            {"RUNPOD_INIT_TIMEOUT": "1"}, symptom="unhealthy"),
    Pitfall("models_missing", "models_missing", "workers fail their fitness check: the volume has no model",
            empty_volume=True),
    Pitfall("hung_job", "hung", "a job stays IN_PROGRESS: its handler waits forever", {"PLAYBOOK_FAULT": "hang"},
            symptom="running", simulated=True),
    Pitfall("stale_release", "stale_release", "a new image was PATCHed in, but the running worker is older",
            workers_min=1, sends_job=False, symptom="stale"),
    Pitfall("runaway_cost", "runaway_cost", "min workers 1 and a long idle timeout: it bills with no traffic",
            workers_min=1, sends_job=False, symptom="idle"),
)}


@dataclass
class Case:
    """One broken endpoint of the walk-through."""

    pitfall: Pitfall
    endpoint_id: str
    volume: Path
    job_id: str | None = None
    diagnosis: doctor.Diagnosis | None = None  # what the doctor said (its change is the fix applied)

    @property
    def subject(self) -> str:
        return f"{self.endpoint_id}/{self.job_id}" if self.job_id else self.endpoint_id


@dataclass
class Symptom:
    """What a user sees: the job's status and the workers view."""

    pitfall: str
    story: str
    job_status: str | None
    workers: str

    def _repr_html_(self) -> str:
        return fields_table(self.__dict__, caption="symptom")


class Walkthrough:
    """Breaks, diagnoses and fixes pitfalls on copies of the journey's endpoint, on the local platform.

    Each broken endpoint is a throw-away copy of ``endpoint_id`` (its image, env, pools and network volume:
    the model the journey put there), named ``playbook-troubleshoot-<pitfall>``, made and fixed through
    RunPod's REST API and deleted once it passes; no second volume of the model is ever made (the empty
    one of "models missing" is made empty on purpose, and deleted too). ``clean_up()`` deletes anything
    the walk-through made that is still there."""

    def __init__(self, client: ControlClient, endpoint_id: str, hung_after_s: float = 5.0,
                 timeout_s: float = 240.0):
        from playbook.core.errors import ConfigError

        self.client = self.control = client
        self.target = client.target
        base = client.get_endpoint(endpoint_id)
        if not base.get("networkVolumes"):
            raise ConfigError(f"endpoint {endpoint_id} has no network volume: the walk-through breaks copies of "
                              "an endpoint whose workers read the model from a volume (the journey's, from 02/05)")
        self.endpoint_id, self.volume_id = endpoint_id, base["networkVolumes"][0]
        self.volume = targets.local_volume_path(client, self.volume_id)
        self.base = {"type": "QUEUE", "image": base["image"], "env": dict(base.get("env") or {}),
                     "gpu": {"pools": list(base["gpu"]["pools"])}, "dataCenterIds": list(base.get("dataCenterIds")
                                                                                     or [])}
        self.hung_after_s, self.timeout_s = hung_after_s, timeout_s
        self.made: list[tuple[str, str, str]] = []  # (kind, id, name) of what the walk-through created

    def doctor(self) -> doctor.Doctor:
        # a cold start of the demo worker is part of this walk-through: only call a wait "slow" past the timeout
        return doctor.Doctor(self.target, hung_after_s=self.hung_after_s, slow_delay_s=self.timeout_s)

    def _made(self, kind: str, resource: dict) -> dict:
        self.made.append((kind, resource["id"], resource["name"]))
        return resource

    @staticmethod
    def available(name: str) -> bool:
        """Whether this machine can make the pitfall (an arm64 image needs a Docker daemon)."""
        if not PITFALLS[name].needs_docker:
            return True
        from playbook.image import dockerhost

        return dockerhost.daemon_status().available

    def break_it(self, name: str) -> Case:
        """Make the broken copy, send a job, and wait for the symptom (a status a user sees)."""
        pitfall = PITFALLS[name]
        volume_id, volume = self.volume_id, self.volume
        if pitfall.empty_volume:
            current = self.client.get_network_volume(self.volume_id)
            empty = self._made("network volume", self.client.create_network_volume({
                "name": f"{PREFIX}empty", "size": 10, "dataCenter": current["dataCenter"]}))
            volume_id, volume = empty["id"], targets.local_volume_path(self.client, empty["id"])
        idle_s = 60 if name == "runaway_cost" else 2
        ep = self._made("endpoint", self.client.create_endpoint({
            **self.base, "name": f"{PREFIX}{name}", "env": {**self.base["env"], **pitfall.env},
            "networkVolumes": [volume_id], "workers": {"min": pitfall.workers_min, "max": 2, "idleTimeout": idle_s},
            "scaling": {"type": "QUEUE_DELAY", "queueDelay": 0.5}, **pitfall.change, **self._breaking(name)}))
        case = Case(pitfall, ep["id"], volume)
        if name == "stale_release":  # the worker starts, then a new image is PATCHed in: a new release
            wait_for(lambda: self._summary(ep["id"])["idle"], self.timeout_s, what="the first worker to be ready")
            self.control.update_endpoint(ep["id"], {"image": "local/playbook-worker:2"})
        if pitfall.sends_job:
            case.job_id = JobClient(self.target, ep["id"]).run(DEMO_JOB)
        self._await_symptom(case)
        return case

    def _breaking(self, name: str) -> dict:
        """The REST fields that break a copy for real: a pool without stock in its data centers, an arm64 image."""
        if name == "no_stock":
            dcs = self.base["dataCenterIds"] or [self.client.get_network_volume(self.volume_id)["dataCenter"]]
            return {"gpu": {"pools": [self._pool_without_stock(dcs)]}, "dataCenterIds": dcs}
        if name == "exec_format":
            from playbook.image import build

            return {"image": build.make_foreign_image("arm64", "runpod-playbook-troubleshoot:arm64")}
        return {}

    def _pool_without_stock(self, dcs: list[str]) -> str:
        for gpu in self.client.gpus(availability=True):
            stocked = {d.get("id") for d in gpu.get("dataCenters") or [] if d.get("availability") != "NONE"}
            if gpu.get("pool") and not stocked & set(dcs):
                return gpu["pool"]
        from playbook.core.errors import ConfigError

        raise ConfigError(f"every GPU pool has stock in {dcs}: no pool to show 'no stock' with")

    def _summary(self, endpoint_id: str) -> dict:
        return self.control.endpoint_workers(endpoint_id)["summary"]

    def shows(self, case: Case, since: float) -> bool:
        """Whether the symptom a user waits for is there (a job's status, the workers view), not a verdict."""
        job = JobClient(self.target, case.endpoint_id).status(case.job_id) if case.job_id else None
        workers = self.control.endpoint_workers(case.endpoint_id)["workers"]
        status = {w["status"] for w in workers}
        return {"terminal": job is not None and job.terminal,
                "throttled": "THROTTLED" in status, "initializing": "INITIALIZING" in status,
                "unhealthy": "UNHEALTHY" in status, "idle": "IDLE" in status,
                "stale": any(w.get("isStale") for w in workers),
                "queued": job is not None and job.status == "IN_QUEUE" and time.monotonic() - since > 2,
                "running": job is not None and job.status == "IN_PROGRESS"
                and (job.execution_ms or 0) > 1000 * (self.hung_after_s + 1)}[case.pitfall.symptom]

    def _await_symptom(self, case: Case) -> None:
        """Wait for the symptom as a user sees it; the doctor is asked once, after (``diagnose``)."""
        since = time.monotonic()
        wait_for(lambda: self.shows(case, since), self.timeout_s, what=f"the {case.pitfall.name} symptom",
                 interval_s=0.3, max_interval_s=1.0)

    def symptom(self, case: Case) -> Symptom:
        status = JobClient(self.target, case.endpoint_id).status(case.job_id).status if case.job_id else None
        view = self.control.endpoint_workers(case.endpoint_id)
        workers = ", ".join(f"{w['id']} {w['status']}" + (" (stale)" if w["isStale"] else "")
                            for w in view["workers"]) or "none"
        return Symptom(case.pitfall.name, case.pitfall.story, status, workers)

    def diagnose(self, case: Case) -> doctor.Diagnosis:
        """The doctor, asked once (as ``playbook doctor ENDPOINT_ID/JOB_ID``); kept for ``fix``."""
        case.diagnosis = self.doctor().diagnose(case.subject)
        return case.diagnosis

    def diagnose_endpoint(self, endpoint_id: str) -> doctor.Diagnosis:
        return self.doctor().diagnose(endpoint_id)

    def fix(self, case: Case) -> str:
        """Apply the doctor's fix through the API and return what was done: its ``change`` (a PATCH of the
        endpoint) when it has one, else the step its fix names (upload the model, the right image, a new
        release); then wait for the broken workers to go (local workers leave by the idle timeout)."""
        name, eid = case.pitfall.name, case.endpoint_id
        change = (case.diagnosis or self.diagnose(case)).change
        if name == "models_missing":  # "upload the model to the network volume"
            shutil.copytree(self.volume / "models", case.volume / "models", dirs_exist_ok=True)
            return "copied the model folder to the endpoint's volume; the next worker passes its fitness check"
        if change:
            done = f"applied the doctor's change: PATCH /v2/serverless/{eid} {json.dumps(change)}"
        else:
            change, done = self._manual_fix(name)
        self.control.update_endpoint(eid, change)
        wait_for(lambda: self._summary(eid)["total"] == 0 or name in ("no_workers", "no_stock"), self.timeout_s,
                 what="the broken workers to stop", interval_s=0.2, max_interval_s=1.0)
        return done

    def _manual_fix(self, name: str) -> tuple[dict, str]:
        """The step the doctor's fix sentence names, where it has no change to apply."""
        if name == "exec_format":
            return ({"image": self.base["image"]}, f"rebuilt for linux/amd64: PATCHed the image back to "
                                                   f"{self.base['image']} (a new release)")
        if name in ("stale_release", "runaway_cost", "crash_loop"):
            return ({"env": dict(self.base["env"]), "workers": {"min": 0, "max": 2, "idleTimeout": 2}},
                    "a new release without the fault, workers min 0 and idle timeout 2 s: the old workers stop")
        if name == "hung_job":
            return ({"env": dict(self.base["env"]), "timeout": 30000},
                    "set an execution timeout of 30 s and released the handler without the hang")
        return ({"env": dict(self.base["env"])}, "a new release (PATCH of env) without the simulated fault")

    def verify(self, case: Case, keep: bool = False) -> doctor.Diagnosis:
        """A fresh job completes, and the doctor finds the endpoint (or that job) healthy; then the
        throw-away endpoint (and the empty volume of "models missing") is deleted unless ``keep``."""
        result = JobClient(self.target, case.endpoint_id).run_sync(DEMO_JOB, timeout_s=self.timeout_s)
        endpoint_level = case.pitfall.name in ("stale_release", "runaway_cost")
        case.job_id = None if endpoint_level else result.id
        verdict = self.doctor().diagnose(case.subject)
        if not keep:
            self.clean_up()
        return verdict

    def clean_up(self) -> list[str]:
        """Delete what the walk-through made and is still there (the janitor's order: endpoints first); one
        already deleted by hand is passed over."""
        made = [janitor.Stale(kind, resource_id, name, None, "delete") for kind, resource_id, name in self.made]
        deleted = janitor.delete_items(self.client, made, missing_ok=True)
        self.made.clear()
        return [f"{item.kind} {item.name} ({item.id})" for item in deleted]

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

    def fix_template_trap(self, endpoint_id: str) -> str:
        """Apply the doctor's change: PATCH the endpoint itself with the image its template now holds."""
        change = self.diagnose_endpoint(endpoint_id).change
        if not change:
            return "the doctor has no change to apply: nothing done"
        self.control.update_endpoint(endpoint_id, change)
        return f"applied the doctor's change: PATCH /v2/serverless/{endpoint_id} {json.dumps(change)} (a new release)"


def requirements_with_sdk(version: str, folder: Path) -> Path:
    """A copy of the worker's requirements.txt with runpod pinned to ``version`` (to check a spec)."""
    from playbook.core.config import REPO_ROOT

    text = (REPO_ROOT / "worker" / "requirements.txt").read_text()
    lines = [f"runpod=={version}" if line.strip().startswith("runpod==") else line for line in text.splitlines()]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "requirements.txt"
    path.write_text("\n".join(lines) + "\n")
    return path
