"""A labelled corpus of broken (and healthy) deployments on the local platform, each broken the way users
break endpoints: through RunPod's public interfaces only (REST v2 endpoints and templates, env vars, the
network volume's files, the job API) or a worker image's own code (a handler file: what an image holds).
No fault switch: the local platform's PLAYBOOK_FAULT is for what a CPU cannot produce (GPU OOM, driver
too old), and those are not in this corpus.

Each case waits for its *symptom* as a user would see it (a job's status, the workers view), never for
the doctor's verdict; then the doctor is asked once. A case counts as right only when the verdict is the
label AND the evidence names the cause (``cause``: every string must appear in the evidence).

Used by tests/test_doctor_corpus.py (a small subset) and benchmarks/bench_doctor.py (all; the confusion
table).
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from playbook.api import targets
from playbook.api.control import ControlClient
from playbook.api.jobs import JobClient
from playbook.doctor import diagnose as doctor

MODEL = "models/tiny-sd"  # under the volume; the worker's default MODEL_PATH is /runpod-volume/models/tiny-sd
JOB = {"prompt": "a lighthouse", "width": 64, "height": 64, "num_inference_steps": 2, "seed": 1}
HUNG_AFTER_S = 3.0
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT")


@dataclass
class Case:
    name: str
    expected: str  # the verdict
    cause: tuple[str, ...]  # each must appear in the evidence (case-insensitive)
    make: Callable[[Clinic], str]  # breaks a deployment; returns the doctor's subject
    symptom: str = "terminal"  # terminal | throttled | queued | running | stale | unhealthy | idle | now
    quick: bool = False  # in the test's bounded subset
    needs: str = ""  # "docker": only where a Docker daemon runs


@dataclass
class Outcome:
    case: Case
    verdict: str
    evidence: list[str]
    named: bool  # the evidence names the cause
    seconds: float
    text: str = ""
    observation: object = None  # the doctor's Observation (recorded for the rules' unit tests)

    @property
    def right(self) -> bool:
        return self.verdict == self.case.expected and self.named


@dataclass
class Clinic:
    """Makes the corpus' deployments on one local platform (``platform``: for handler-file workers only)."""

    platform: object
    work: Path
    control: ControlClient = field(init=False)
    volume_id: str = field(init=False, default="")
    made: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    _shared: str | None = None

    def __post_init__(self):
        self.target = self.platform.target
        self.control = ControlClient(self.target, retries=1)
        self.work = Path(self.work)

    # -- volumes -----------------------------------------------------------------------------------
    def volume(self, name: str, mutate: Callable[[Path], None] | None = None, dc: str = "EU-RO-1") -> str:
        """A network volume holding the demo model at models/tiny-sd, then ``mutate(model folder)``."""
        from playbook.weights.demo_model import make_demo_model

        vol = self.control.create_network_volume({"name": f"corpus-{name}", "size": 10, "dataCenter": dc})
        folder = targets.local_volume_path(self.control, vol["id"])
        master = self.work / "demo-model"
        if not master.exists():
            make_demo_model(master)
        if mutate is not False:
            shutil.copytree(master, folder / MODEL)
            if mutate:
                mutate(folder / MODEL)
        return vol["id"]

    def shared_volume(self) -> str:
        """One volume with the whole demo model, for the cases that do not break the model."""
        if self._shared is None:
            self._shared = self.volume("shared")
        return self._shared

    # -- endpoints ---------------------------------------------------------------------------------
    def endpoint(self, name: str, volume: str | None = None, env: dict | None = None, pools=("AMPERE_16",),
                 dcs=("EU-RO-1",), workers=(0, 1), timeout_ms: int | None = None, image="local/playbook-worker:1",
                 template_id: str | None = None) -> str:
        """An endpoint made through REST v2, as a user makes one."""
        body = {"name": f"corpus-{name}", "type": "QUEUE", "env": env or {}, "gpu": {"pools": list(pools)},
                "dataCenterIds": list(dcs), "networkVolumes": [volume] if volume else [],
                "workers": {"min": workers[0], "max": workers[1], "idleTimeout": 2},
                "scaling": {"type": "QUEUE_DELAY", "queueDelay": 0.5}}
        if template_id:
            body["templateId"] = template_id
        else:
            body["image"] = image
        if timeout_ms:
            body["timeout"] = timeout_ms
        ep = self.control.create_endpoint(body)
        self.made.append(ep["id"])
        return ep["id"]

    def handler_endpoint(self, name: str, code: str, env: dict | None = None, **fields) -> str:
        """An endpoint whose image's handler is ``code`` (the local platform runs it as the worker)."""
        from playbook.local import EndpointConfig

        path = self.work / "handlers" / f"{name}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
        cfg = self.platform.create_endpoint(EndpointConfig(
            name=f"corpus-{name}", handler_path=path, env=env or {}, idle_timeout_s=1.0, scaler_value=0,
            workers_max=1, **fields))
        self.made.append(cfg.id)
        return cfg.id

    def job(self, endpoint_id: str, job_input=None, timeout_ms: int | None = None) -> str:
        job_id = JobClient(self.target, endpoint_id).run(JOB if job_input is None else job_input,
                                                         execution_timeout_ms=timeout_ms)
        return f"{endpoint_id}/{job_id}"

    # -- symptoms (what a user sees: never the doctor's verdict) -------------------------------------
    def shows(self, subject: str, symptom: str, since: float) -> bool:
        endpoint_id, _, job_id = subject.partition("/")
        job = JobClient(self.target, endpoint_id).status(job_id) if job_id else None
        status = job.status if job else None
        workers = self.control.endpoint_workers(endpoint_id)["workers"]
        age = time.monotonic() - since
        return {"terminal": status in TERMINAL, "throttled": any(w["status"] == "THROTTLED" for w in workers),
                "queued": status == "IN_QUEUE" and age > 3,
                "running": status == "IN_PROGRESS" and (job.execution_ms or 0) > 2000 * HUNG_AFTER_S,
                "stale": any(w.get("isStale") for w in workers), "now": True,
                "unhealthy": any(w["status"] == "UNHEALTHY" for w in workers),
                "idle": any(w["status"] == "IDLE" for w in workers)}[symptom]

    def clean_up(self) -> None:
        for endpoint_id in self.made:
            with contextlib.suppress(Exception):  # already gone
                self.control.delete_endpoint(endpoint_id)
        for template_id in self.templates:
            with contextlib.suppress(Exception):
                self.control.delete_template(template_id)
        self.made.clear()
        self.templates.clear()


# -- the ways a model folder is broken ------------------------------------------------------------------

def _first(folder: Path, component: str) -> Path:
    return sorted((folder / component).glob("*.safetensors"))[0]


def _delete(component: str):
    return lambda folder: _first(folder, component).unlink()


def _truncate(component: str):
    def cut(folder: Path) -> None:
        f = _first(folder, component)
        data = f.read_bytes()
        f.write_bytes(data[:len(data) // 2])
    return cut


def _remove_dir(component: str):
    return lambda folder: shutil.rmtree(folder / component)


def _empty_dir(component: str):
    def empty(folder: Path) -> None:
        for f in (folder / component).iterdir():
            f.unlink()
    return empty


def _broken_model(name: str, mutate, file: str, *cause: str, quick=False) -> Case:
    def make(c: Clinic) -> str:
        return c.job(c.endpoint(name, c.volume(name, mutate)))
    return Case(name, "models_missing", (f"/runpod-volume/{MODEL}/{file}", *cause), make, quick=quick)


# -- handler files (what an image's code does at start) ------------------------------------------------

START = ("import runpod\n\n\ndef handler(job):\n    return {'ok': True}\n\n\n"
         "runpod.serverless.start({'handler': handler})\n")


def _handler_case(name: str, code: str, expected: str, cause: tuple, env=None, symptom="terminal",
                  job_input=None, quick=False, **fields) -> Case:
    def make(c: Clinic) -> str:
        return c.job(c.handler_endpoint(name, code, env, **fields), job_input or {"value": 1})
    return Case(name, expected, cause, make, symptom, quick)


def _env_case(name: str, env: dict, *cause: str, quick=False) -> Case:
    def make(c: Clinic) -> str:
        return c.job(c.endpoint(name, c.volume(name), env=env))
    return Case(name, "bad_env", cause, make, quick=quick)


def _capacity(name: str, pools: tuple, dcs: tuple, *cause: str, quick=False) -> Case:
    def make(c: Clinic) -> str:
        return c.job(c.endpoint(name, pools=pools, dcs=dcs))
    return Case(name, "capacity", cause, make, "throttled", quick)


def _bad_input(name: str, job_input, *cause: str, quick=False) -> Case:
    def make(c: Clinic) -> str:
        return c.job(c.endpoint(name, c.shared_volume()), job_input)
    return Case(name, "bad_input", cause, make, quick=quick)


def _no_workers_by_create(c: Clinic) -> str:
    return c.job(c.endpoint("max0-create", workers=(0, 0)))


def _no_workers_by_patch(c: Clinic) -> str:  # what --stop-crash-loop or RunPod's 7-day scale-down leaves
    eid = c.endpoint("max0-patch")
    c.control.update_endpoint(eid, {"workers": {"min": 0, "max": 0}})
    return c.job(eid)


def _template_trap(c: Clinic) -> str:
    tpl = c.control.create_template({"name": f"corpus-tpl-{time.monotonic_ns()}", "image": "local/playbook-worker:1",
                                     "serverless": True, "env": {"WORKER_WARMUP": "0"}})
    eid = c.endpoint("template-trap", template_id=tpl["id"])
    c.control.update_template(tpl["id"], {"image": "local/playbook-worker:2"})  # never reaches the endpoint
    c.templates.append(tpl["id"])
    return eid


def _stale(c: Clinic) -> str:
    eid = c.endpoint("stale", c.shared_volume(), workers=(1, 1))
    from playbook.core.waiting import wait_for

    wait_for(lambda: c.control.endpoint_workers(eid)["summary"]["idle"], 120, what="the first worker")
    c.control.update_endpoint(eid, {"image": "local/playbook-worker:2"})  # a new release; the worker is older
    return eid


def _arm64(c: Clinic) -> str:
    from playbook.image import build

    image = build.make_foreign_image("arm64", "runpod-playbook-corpus:arm64")
    return c.job(c.endpoint("arm64", image=image))


def _missing_image(tag: str):
    def make(c: Clinic) -> str:
        from playbook.image import dockerhost

        return c.job(c.endpoint(f"image-{tag}", image=f"{dockerhost.registry_address()}/corpus/worker:{tag}"))
    return make


def _always_on(c: Clinic) -> str:
    eid = c.endpoint("always-on", c.shared_volume(), workers=(1, 2))
    c.control.update_endpoint(eid, {"workers": {"min": 1, "max": 2, "idleTimeout": 3600}})
    return eid


def _fault(name: str, fault: str, job_input=None, **fields) -> Case:
    """A fault a CPU cannot produce, simulated by the local platform's switch: recorded for the rules' unit
    tests, never scored (its lines are RunPod's field signatures, not a real cause)."""
    def make(c: Clinic) -> str:
        return c.job(c.handler_endpoint(name, START, {"PLAYBOOK_FAULT": fault}, **fields), job_input or {"v": 1})
    return Case(name, {"cuda_mismatch": "cuda_mismatch", "oom": "out_of_memory"}[fault], (), make)


def _healthy_job(c: Clinic) -> str:
    subject = c.job(c.endpoint("healthy-job", c.shared_volume()))
    return subject


def _healthy_idle(c: Clinic) -> str:
    return c.endpoint("healthy-idle", c.volume("healthy-idle", dc="US-KS-2"), pools=("ADA_24", "AMPERE_24"),
                      dcs=("US-KS-2",))


def _healthy_noop(c: Clinic) -> str:
    return c.job(c.handler_endpoint("healthy-noop", START), {"value": 1})


def _execution_timeout_endpoint(c: Clinic) -> str:
    eid = c.handler_endpoint("slow-steps-endpoint", SLOW, execution_timeout_ms=2000)
    return c.job(eid, {"steps": 20, "step_s": 0.5})


def _execution_timeout_policy(c: Clinic) -> str:
    eid = c.handler_endpoint("slow-steps-policy", SLOW)
    return c.job(eid, {"steps": 40, "step_s": 0.4}, timeout_ms=6000)  # RunPod's minimum is above 5000 ms


SLOW = ("import time\nimport runpod\n\n\ndef handler(job):\n    n = job['input']['steps']\n"
        "    for i in range(n):\n        time.sleep(job['input']['step_s'])\n        print(f'step {i + 1}/{n}', "
        "flush=True)\n    return {'steps': n}\n\n\nrunpod.serverless.start({'handler': handler})\n")
HANG = ("import threading\nimport runpod\n\n\ndef handler(job):\n    threading.Event().wait()  # waits for a lock "
        "nobody releases\n\n\nrunpod.serverless.start({'handler': handler})\n")

CASES: list[Case] = [
    # the model on the volume: missing, partial, somewhere else
    Case("empty-volume", "models_missing", (f"/runpod-volume/{MODEL}", "does not exist"),
         lambda c: c.job(c.endpoint("empty-volume", c.volume("empty-volume", False))), quick=True),
    _broken_model("unet-weights-gone", _delete("unet"), "unet", "no weights file"),
    _broken_model("vae-folder-gone", _remove_dir("vae"), "vae", "missing"),
    _broken_model("text-encoder-half", _truncate("text_encoder"), "text_encoder/", "truncated"),
    _broken_model("unet-half", _truncate("unet"), "unet/", "truncated"),
    _broken_model("model-index-gone", lambda f: (f / "model_index.json").unlink(), "model_index.json", "missing"),
    _broken_model("tokenizer-empty", _empty_dir("tokenizer"), "tokenizer", "empty"),
    Case("wrong-model-path", "models_missing", ("/runpod-volume/models/tiny-sdxl", "does not exist"),
         lambda c: c.job(c.endpoint("wrong-model-path", c.shared_volume(),
                                    env={"MODEL_PATH": "/runpod-volume/models/tiny-sdxl"}))),
    Case("model-path-typo", "models_missing", ("MODLE_PATH", "MODEL_PATH"),
         lambda c: c.job(c.endpoint("model-path-typo", c.volume("model-path-typo", lambda f: f.rename(
             f.parent / "my-model")), env={"MODLE_PATH": "/runpod-volume/models/my-model"}))),
    # an env var the worker reads, with a value it refuses
    _env_case("dtype-typo", {"WORKER_DTYPE": "fp61"}, "WORKER_DTYPE", "fp61", "fp16", quick=True),
    _env_case("device-typo", {"WORKER_DEVICE": "gpu"}, "WORKER_DEVICE", "'gpu'", "cuda"),
    _env_case("prefetch-typo", {"WORKER_PREFETCH": "two"}, "WORKER_PREFETCH", "two", "number of jobs"),
    _handler_case("missing-env-var", "import os\nimport runpod\n\nTOKEN = os.environ['HF_TOKEN']\n" + START,
                  "bad_env", ("HF_TOKEN", "does not set")),
    # a handler that fails at import
    _handler_case("import-missing-module", "import runpod\nimport torchvisionx  # a typo\n" + START, "crash_loop",
                  ("ModuleNotFoundError", "torchvisionx"), quick=True),
    _handler_case("import-syntax-error", "import runpod\n\ndef handler(job)\n    return {}\n", "crash_loop",
                  ("SyntaxError",)),
    _handler_case("import-runtime-error", "import runpod\n\nraise RuntimeError('cannot reach the license server "
                  "at 10.0.0.7')\n", "crash_loop", ("RuntimeError", "license server")),
    _handler_case("python-home", START, "crash_loop", ("Fatal Python error",), env={"PYTHONHOME": "/opt/nowhere"}),
    # jobs longer than the execution timeout
    Case("timeout-endpoint", "execution_timeout", ("2 s", "executionTimeout"), _execution_timeout_endpoint,
         quick=True),
    Case("timeout-policy", "execution_timeout", ("6000 ms", "executionTimeout"), _execution_timeout_policy),
    # a handler that never returns
    _handler_case("hung-handler", HANG, "hung", ("silent",), symptom="running"),
    # no worker allowed
    Case("max0-create", "no_workers", ("workers.max 0", "stop-crash-loop"), _no_workers_by_create, "queued",
         quick=True),
    Case("max0-patch", "no_workers", ("workers.max 0", "7"), _no_workers_by_patch, "queued"),
    # no GPU stock where the endpoint may run
    _capacity("no-stock-h200", ("HOPPER_141",), ("EU-RO-1",), "no stock: HOPPER_141 in EU-RO-1", quick=True),
    _capacity("no-stock-two-pools", ("HOPPER_141", "BLACKWELL_180"), ("EU-RO-1",),
              "HOPPER_141 in EU-RO-1", "BLACKWELL_180 in EU-RO-1"),
    _capacity("no-stock-texas", ("ADA_80_PRO",), ("US-TX-3",), "no stock: ADA_80_PRO in US-TX-3"),
    # the job's own input
    _bad_input("input-width", {"prompt": "a cat", "width": 63, "height": 64}, "width", quick=True),
    _bad_input("input-no-prompt", {"width": 64, "height": 64}, "prompt"),
    _bad_input("input-steps-text", {"prompt": "a cat", "num_inference_steps": "many"}, "num_inference_steps"),
    _bad_input("input-not-object", "a lighthouse", "input"),
    # releases
    Case("template-trap", "stale_release", ("local/playbook-worker:2", "template"), _template_trap, "now"),
    Case("stale-worker", "stale_release", ("version",), _stale, "stale"),
    Case("arm64-image", "wrong_architecture", ("exec format error",), _arm64, needs="docker"),
    Case("image-not-pushed", "image_pull", ("/corpus/worker:not-pushed", "image pull"),
         _missing_image("not-pushed"), needs="docker"),
    Case("image-tag-typo", "image_pull", ("/corpus/worker:v1.O", "image pull"), _missing_image("v1.O"),
         needs="docker"),
    # a start longer than the init timeout; settings that bill with no traffic; a long job that progresses
    Case("init-timeout", "init_timeout", ("UNHEALTHY", "RUNPOD_INIT_TIMEOUT"),
         lambda c: c.endpoint("init-timeout", c.shared_volume(), env={"RUNPOD_INIT_TIMEOUT": "1"}, workers=(1, 1)),
         "unhealthy"),
    Case("always-on", "runaway_cost", ("workers min is 1", "idle timeout is 3600"), _always_on, "idle"),
    Case("slow-job", "healthy_but_slow", ("still making progress",),
         lambda c: c.job(c.handler_endpoint("slow-job", SLOW), {"steps": 60, "step_s": 0.5}), "running"),
    # healthy ones: no false alarm
    Case("healthy-job", "healthy", (), _healthy_job, quick=True),
    Case("healthy-idle", "healthy", (), _healthy_idle, "now"),
    Case("healthy-noop", "healthy", (), _healthy_noop),
]


SIMULATED: list[Case] = [_fault("simulated-cuda", "cuda_mismatch"), _fault("simulated-oom", "oom")]

BUGGY_SDK = "1.9.0"  # in the range that sent nearly every job to one worker on network-volume endpoints


def _old_sdk(c: Clinic) -> str:
    """The demo worker with the runpod SDK 1.9.0 installed in front of the venv's (PYTHONPATH: what an image
    that pins runpod==1.9.0 holds), on an endpoint with a network volume."""
    import subprocess
    import sys

    site = c.work / f"runpod-{BUGGY_SDK}"
    if not (site / "runpod").is_dir():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                        f"runpod=={BUGGY_SDK}"], check=True, timeout=300)
    return c.job(c.endpoint("old-sdk", c.shared_volume(), env={"PYTHONPATH": str(site)}))


# real causes that need a package from PyPI (pip's cache or the network): recorded by name, never scored
NEEDS_PYPI: list[Case] = [Case("old-sdk", "sdk_bug", (f"runpod {BUGGY_SDK}", "network volume"), _old_sdk,
                               needs="pypi")]


def run(clinic: Clinic, cases: list[Case], timeout_s: float = 240.0, batch: int = 6) -> list[Outcome]:
    """Break each case, wait for its symptom, ask the doctor once; in batches (workers share the CPU)."""
    out = []
    for i in range(0, len(cases), batch):
        out += _run_batch(clinic, cases[i:i + batch], timeout_s)
        clinic.clean_up()
    return out


def _run_batch(clinic: Clinic, cases: list[Case], timeout_s: float) -> list[Outcome]:
    made, out = [], []
    for case in cases:
        try:
            made.append((case, case.make(clinic), time.monotonic()))
        except Exception as exc:  # noqa: BLE001 - a case that cannot be made counts as wrong, and says why
            out.append(Outcome(case, "error", [f"could not make it: {type(exc).__name__}: {exc}"], False, 0.0,
                               f"could not make it: {exc}"))
    pending = list(made)
    deadline = time.monotonic() + timeout_s
    while pending:
        for item in list(pending):
            case, subject, since = item
            if clinic.shows(subject, case.symptom, since) or time.monotonic() > deadline:
                pending.remove(item)
                out.append(ask(clinic, case, subject))
        time.sleep(0.3)
    return out


def ask(clinic: Clinic, case: Case, subject: str) -> Outcome:
    start = time.monotonic()
    doc = doctor.Doctor(clinic.target, hung_after_s=HUNG_AFTER_S, slow_delay_s=60)
    try:
        d = doc.diagnose(subject)
    except Exception as exc:  # noqa: BLE001 - a doctor that fails counts as wrong, and says why
        return Outcome(case, "error", [f"{type(exc).__name__}: {exc}"], False, time.monotonic() - start, repr(exc))
    return Outcome(case, d.verdict, d.evidence, names_cause(case, d.evidence + [d.fix]), time.monotonic() - start,
                   str(d), doc.last_observation)


def names_cause(case: Case, lines: list[str]) -> bool:
    text = "\n".join(lines).lower()
    return all(c.lower() in text for c in case.cause)


def record(outcome: Outcome, folder: Path) -> Path:
    """The observation as JSON, with its label and cause (tests/data/doctor/<label>--<case>.json)."""
    import json

    data = json.loads(outcome.observation.to_json())
    data["_label"] = {"verdict": outcome.case.expected, "cause": list(outcome.case.cause), "case": outcome.case.name}
    path = Path(folder) / f"{outcome.case.expected}--{outcome.case.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return path


def confusion(outcomes: list[Outcome]) -> str:
    """Rows: the label; columns: the verdict given; '*' marks right verdicts whose evidence missed the cause."""
    labels = sorted({o.case.expected for o in outcomes} | {o.verdict for o in outcomes})
    width = max(len(x) for x in labels) + 1
    lines = ["label \\ verdict".ljust(width) + " ".join(x[:8].rjust(8) for x in labels)]
    for row in sorted({o.case.expected for o in outcomes}):
        cells = []
        for col in labels:
            n = sum(o.case.expected == row and o.verdict == col for o in outcomes)
            missed = sum(o.case.expected == row and o.verdict == col and not o.named for o in outcomes)
            cells.append((f"{n}" + ("*" * bool(missed)) if n else ".").rjust(8))
        lines.append(row.ljust(width) + " ".join(cells))
    right = sum(o.right for o in outcomes)
    lines.append(f"right (verdict and evidence naming the cause): {right}/{len(outcomes)} = "
                 f"{right / max(1, len(outcomes)):.0%}")
    return "\n".join(lines)
