"""``playbook hub test``: run ``.runpod/tests.json`` on the local platform and check every output.

Why more than RunPod's Hub does: the Hub passes a test on HTTP 200, so a worker that answers with the
wrong shape, a broken image or the wrong size still passes. Here each test's job must COMPLETE within its
``timeout``, its output must match the contract's result schema (``worker/contract/result.schema.json``)
and, for ``generate``, every image must decode in the requested format at the requested size, with one
image per ``num_images`` and seeds ``seed, seed + 1, ...``.

The tests run on a fresh local platform, with the worker (``worker/handler.py`` unless another handler is
given) reading the tests' ``config.env``; a value under /runpod-volume points into the local volume, and
the demo model is made there when the tests ask for it and it is missing.
"""

from __future__ import annotations

import base64
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from playbook.core.config import VOLUME_MOUNT, local_volume_dir
from playbook.core.errors import ConfigError, JobError
from playbook.core.html import table
from playbook.journey import contract

PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


@dataclass
class HubTestResult:
    name: str
    status: str  # the job's final state (or NO_RESULT when the wait itself failed)
    elapsed_s: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETED" and not self.problems


@dataclass
class HubTestRun:
    results: list[HubTestResult]

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    def summary(self) -> str:
        lines = [f"{'pass' if r.ok else 'FAIL'}  {r.name}  {r.status}  {r.elapsed_s:.1f} s"
                 + "".join(f"\n      {p}" for p in r.problems) for r in self.results]
        passed = sum(r.ok for r in self.results)
        return "\n".join([*lines, f"{passed} of {len(self.results)} hub tests passed"])

    def _repr_html_(self) -> str:
        rows = [(r.name, "pass" if r.ok else "FAIL", r.status, f"{r.elapsed_s:.1f} s", "; ".join(r.problems))
                for r in self.results]
        return table(rows, header=["test", "result", "status", "time", "problems"], caption="hub tests")


def check_output(job_input: dict, output) -> list[str]:
    """What is wrong with one output for its request, as short lines (empty when it is right)."""
    import jsonschema

    schema = json.loads((contract.CONTRACT_DIR / "result.schema.json").read_text())
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(output), key=lambda e: list(e.path))
    if errors:
        return [f"output breaks the result schema: {e.message[:200]}" for e in errors[:5]]
    _, results = contract.worker_models()
    action = job_input.get("action", "generate")
    try:
        results.OUTPUTS[action].model_validate(output)
    except Exception as exc:  # noqa: BLE001 - pydantic's ValidationError: a health output for a generate, ...
        return [f"output is not a {action} result: {str(exc).splitlines()[0][:200]}"]
    return _check_images(job_input, output) if action == "generate" else []


def _check_images(job_input: dict, output: dict) -> list[str]:
    from PIL import Image

    fmt = job_input.get("output_format", "png")
    size = (job_input.get("width", 512), job_input.get("height", 512))
    images = output["images"]
    problems = []
    if len(images) != job_input.get("num_images", 1):
        problems.append(f"{len(images)} images for num_images={job_input.get('num_images', 1)}")
    if "seed" in job_input and [i["seed"] for i in images] != [job_input["seed"] + n for n in range(len(images))]:
        problems.append(f"seeds {[i['seed'] for i in images]} for seed={job_input['seed']}")
    for n, item in enumerate(images):
        if "image" not in item:
            continue  # a URL (bucket configured): not fetched here
        try:
            with Image.open(io.BytesIO(base64.b64decode(item["image"], validate=True))) as image:
                got = (image.format, image.size)
        except Exception as exc:  # noqa: BLE001 - binascii.Error, PIL.UnidentifiedImageError
            problems.append(f"image {n} does not decode: {type(exc).__name__}")
            continue
        if got != (PIL_FORMATS[fmt], size):
            problems.append(f"image {n} is {got[0]} {got[1][0]}x{got[1][1]}, asked {fmt.upper()} {size[0]}x{size[1]}")
    return problems


def load_tests(path: Path) -> dict:
    from playbook.journey.hub import TestsJson

    if not path.is_file():
        raise ConfigError(f"{path} does not exist: run `playbook hub write` to generate it")
    data = json.loads(path.read_text())
    TestsJson.model_validate(data)
    return data


def local_env(config_env: list[dict], volume: Path) -> dict[str, str]:
    """The tests' env for a local worker: /runpod-volume paths point into the local volume folder."""
    return {e["key"]: e["value"].replace(VOLUME_MOUNT, str(volume), 1) if e["value"].startswith(VOLUME_MOUNT)
            else e["value"] for e in config_env}


def run_tests(tests_path: Path | None = None, handler_path: Path | None = None, volume_dir: Path | None = None,
              progress: bool = True) -> HubTestRun:
    """Run every test of tests.json on a fresh local platform; returns each test's result and problems."""
    from tqdm.auto import tqdm

    import playbook.local as local
    from playbook.api.jobs import JobClient
    from playbook.journey.hub import HUB_DIR
    from playbook.local import EndpointConfig
    from playbook.weights.demo_model import ensure_demo_model

    tests = load_tests(Path(tests_path) if tests_path else HUB_DIR / "tests.json")
    volume = Path(volume_dir) if volume_dir else local_volume_dir()
    env = local_env(tests["config"].get("env") or [], volume)
    model = Path(env.get("MODEL_PATH", volume / "models" / "tiny-sd"))
    if model.parent == volume / "models" and model.name == "tiny-sd":
        ensure_demo_model(model)
    results = []
    with local.start(record=False) as platform:
        cfg = platform.create_endpoint(EndpointConfig(name="hub-test", volume_dir=volume, handler_path=handler_path,
                                                      env=env, workers_max=1, idle_timeout_s=30))
        client = JobClient(platform.target, cfg.id)
        for test in tqdm(tests["tests"], desc="hub tests", disable=not progress):
            start = time.perf_counter()
            try:
                job = client.run_sync(test["input"], timeout_s=test.get("timeout", 300_000) / 1000)
            except JobError as exc:
                results.append(HubTestResult(test["name"], "NO_RESULT", time.perf_counter() - start, [str(exc)]))
                continue
            elapsed = time.perf_counter() - start
            problems = ([f"job {job.status}: {str(job.error)[:200]}"] if not job.ok
                        else check_output(test["input"], job.output))
            results.append(HubTestResult(test["name"], job.status, elapsed, problems))
        platform.delete_endpoint(cfg.id)
    return HubTestRun(results)
