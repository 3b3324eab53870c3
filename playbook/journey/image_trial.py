"""Try an image on the local platform, end to end, the way it will run on RunPod.

Why: between "the image builds" and "the endpoint serves" lie the mistakes that cost the most on RunPod
(the image cannot find its model on the volume, a dependency is missing, the worker never takes a job).
This deploys ``deploy/demo.toml`` with the image swapped in (plan/apply over the REST v2 control API),
puts the demo model on the endpoint's network volume, sends one generate job, and waits for the endpoint
to scale back to zero, reporting what ran and how long the cold start took. When the local daemon has the
image its workers are containers of it; otherwise they are Python processes (the comparison the build
benchmark makes).
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from playbook.core.config import REPO_ROOT
from playbook.core.errors import JobTimeout, WaitTimeout
from playbook.core.html import fields_table
from playbook.core.waiting import wait_for

DEMO_SPEC = REPO_ROOT / "deploy" / "demo.toml"
TEST_INPUT = REPO_ROOT / "worker" / "test_input.json"


@dataclass
class ImageTrial:
    """One job through a freshly deployed endpoint that starts from zero workers."""

    image: str
    endpoint_id: str
    runner: str  # "docker" or "process"
    status: str
    first_job_s: float  # submit to COMPLETED: cold start (worker start, imports, model load) + generation
    delay_s: float  # time in queue, as the job API reports it (delayTime): mostly the cold start
    execution_s: float  # the handler's own time (executionTime)
    container_image_ids: list[str] = field(default_factory=list)  # images of the containers seen running
    workers_left: int = 0  # after the idle timeout: 0 is zero idle cost
    containers_left: int = 0
    output: dict = field(default_factory=dict, repr=False)

    def _repr_html_(self) -> str:
        rows = [("image", self.image), ("endpoint", self.endpoint_id), ("workers ran as", self.runner),
                ("job", self.status), ("first job (cold)", f"{self.first_job_s:.1f} s"),
                ("in queue (delayTime)", f"{self.delay_s:.1f} s"), ("executing", f"{self.execution_s:.2f} s"),
                ("workers / containers left", f"{self.workers_left} / {self.containers_left}")]
        return fields_table(dict(rows))


def deploy_and_run(image: str, job: dict | None = None, spec_path: Path = DEMO_SPEC, idle_timeout_s: int = 1,
                   model_size: str = "tiny", timeout_s: float = 300, destroy: bool = True) -> ImageTrial:
    """Start a local platform, apply the spec with ``image``, run ``job`` (worker/test_input.json), scale to 0."""
    import playbook.local
    from playbook import deploy
    from playbook.api.control import ControlClient
    from playbook.api.jobs import JobClient, JobResult
    from playbook.core.settings import model_dir
    from playbook.deploy.spec import load_spec
    from playbook.local import choose_runner, list_containers, volume_folder
    from playbook.weights.demo_model import ensure_demo_model

    job = job or json.loads(TEST_INPUT.read_text())
    spec = load_spec(spec_path).with_changes(
        image=image, workers={"min": 0, "max": 1, "idle_timeout_s": idle_timeout_s})
    with playbook.local.start(record=False) as platform:
        client = ControlClient(platform.target)
        result = deploy.apply(spec, client)
        endpoint_id = result.endpoint_id
        if result.volume_id:
            ensure_demo_model(model_dir(volume_folder(result.volume_id)), size=model_size)
        runner = choose_runner(platform.get_endpoint(endpoint_id)).name
        jobs = JobClient(platform.target, endpoint_id)
        start = time.perf_counter()
        job_id = jobs.run(job["input"])
        images: set[str] = set()

        def ended() -> JobResult | None:  # notes which images the containers ran, as they come and go
            images.update(c.attrs["Image"] for c in list_containers(endpoint_id))
            result = jobs.status(job_id)
            return result if result.terminal else None

        try:
            status = wait_for(ended, timeout_s, what=f"job {job_id}", interval_s=0.2, max_interval_s=0.2)
        except WaitTimeout:
            last = jobs.cancel(job_id).status
            raise JobTimeout(f"job {job_id} on {image} did not finish within {timeout_s} s (now {last}); worker "
                             f"logs: {platform.log_dir / endpoint_id}", job_id, last) from None
        first_job_s = time.perf_counter() - start
        with contextlib.suppress(WaitTimeout):  # scaled to zero: reported below as workers/containers left
            wait_for(lambda: not (platform.list_workers(endpoint_id) or list_containers(endpoint_id)),
                     idle_timeout_s + 30, what="the endpoint to scale to zero", interval_s=0.3, max_interval_s=0.3)
        trial = ImageTrial(
            image=image, endpoint_id=endpoint_id, runner=runner, status=status.status,
            first_job_s=round(first_job_s, 2), delay_s=round((status.delay_ms or 0) / 1000, 2),
            execution_s=round((status.execution_ms or 0) / 1000, 2), container_image_ids=sorted(images),
            workers_left=len(platform.list_workers(endpoint_id)), containers_left=len(list_containers(endpoint_id)),
            output=status.output or {"error": status.error},
        )
        if destroy:
            deploy.destroy(spec, client)
    return trial
