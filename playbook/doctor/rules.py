"""The doctor's knowledge: the closed set of verdicts (each with its one-sentence fix and the CLI's exit
status), and the settings that run up a bill or carry a known SDK bug. The log lines that identify each
cause live with the rule that reads them (``playbook.doctor.checks.<verdict>``).

Why a separate module: these are facts (the runpod SDK's bad versions, prices, spend limits) that change
independently of how the doctor gathers evidence (``playbook.doctor.observe``); keeping them as data
makes each one easy to check against docs/runpod-facts.md §8 and to extend.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# verdict -> (what it means, the fix in one sentence)
VERDICTS: dict[str, tuple[str, str]] = {
    "capacity": ("no GPU capacity: workers wait THROTTLED and jobs stay IN_QUEUE",
                 "Add GPU pools or data centers with stock (GET /v2/catalog/gpus?include=AVAILABILITY), or wait."),
    "crash_loop": ("workers start and die before taking a job (their status may still read RUNNING)",
                   "Read the traceback in the worker log, fix the handler or image, then release a new image."),
    "image_pull": ("the image cannot be pulled: workers never start",
                   "Check the image name and tag and the registry credentials (registry auth), then PATCH the "
                   "endpoint."),
    "cuda_mismatch": ("the host's NVIDIA driver is older than the CUDA the image needs",
                      "Set allowedCudaVersions/minCudaVersion to what the image needs, or build on an older CUDA "
                      "base."),
    "init_timeout": ("the worker's start takes longer than RunPod's init timeout (7 min), so it is unhealthy",
                     "Make the start faster (bake or cache the model, lazy imports) or raise RUNPOD_INIT_TIMEOUT."),
    "out_of_memory": ("the job ran out of GPU memory",
                      "Pick a pool with more VRAM, lower the resolution or batch, or use fp16/bf16."),
    "wrong_architecture": ("the image was built for another CPU architecture (exec format error)",
                           "Rebuild the image for linux/amd64 (`playbook build`) and push it again."),
    "models_missing": ("the model files are not where the worker looks (MODEL_PATH on the volume)",
                       "Upload the model to the network volume (or bake it in) and check MODEL_PATH and the "
                       "volume attachment; for a folder of variant files (*.fp16.safetensors) set MODEL_VARIANT "
                       "to the variant the worker's message names."),
    "stale_release": ("workers run an old release, or the endpoint ignores an edited template",
                      "PATCH the endpoint itself (image/env make a new release); template edits never reach an "
                      "existing endpoint."),
    "sdk_bug": ("the worker's runpod SDK has a known bug",
                "Pin runpod>=1.10.1 in the worker's requirements and rebuild the image."),
    "healthy_but_slow": ("the endpoint works, only slowly: jobs wait or run long",
                         "Raise max workers, enable FlashBoot, or make the worker start and run faster."),
    "hung": ("a worker holds the job and makes no progress",
             "Cancel the job, look at the handler for a deadlock or an endless wait, and set an execution timeout."),
    "runaway_cost": ("the settings bill far more than the traffic needs",
                     "Set workers min to 0, a short idle timeout, and max workers within your spend limit."),
    "no_workers": ("no worker may start: workers.max is 0, so jobs wait IN_QUEUE forever",
                   "Raise workers.max (PATCH the endpoint, e.g. {\"workers\": {\"max\": 1}}); it is 0 when set by "
                   "hand, by `playbook doctor --stop-crash-loop`, by RunPod after 3/7 idle days, or by the "
                   "account's worker cap."),
    "execution_timeout": ("the job ran past the endpoint's execution timeout and was stopped",
                          "Raise the endpoint's executionTimeout (REST `timeout`, or the job's "
                          "policy.executionTimeout) above the job's time, or cut the work (fewer steps, smaller "
                          "images)."),
    "bad_input": ("the job's own input was refused; the endpoint is fine",
                  "Fix the request's input as the error says (the worker's schema); nothing to change on the "
                  "endpoint."),
    "bad_env": ("an environment variable the worker reads has a value it refuses",
                "Set the variable to one of the values the worker accepts (PATCH the endpoint's env: a new "
                "release)."),
    "healthy": ("nothing wrong found", "Nothing to fix."),
}
# the exit status of `playbook doctor` per verdict: 0 healthy, 3 the endpoint is fine but the job's input was
# refused, 2 any other problem (1: the doctor could not run)
EXIT_STATUS = {"healthy": 0, "bad_input": 3}

SDK_VERSION = re.compile(r"Starting Serverless Worker \|\s*Version (\d+\.\d+\.\d+)|runpod_version\W+(\d+\.\d+\.\d+)")
BUGGY_SDK = ((1, 7, 11), (1, 10, 0))  # inclusive: sent nearly all jobs to one worker on network-volume endpoints
SPEND_LIMIT_USD_PER_H = 80.0  # RunPod's default account spend limit
LONG_IDLE_TIMEOUT_S = 300


def sdk_version(text: str) -> tuple[int, int, int] | None:
    match = SDK_VERSION.search(text)
    if not match:
        return None
    return tuple(int(x) for x in (match.group(1) or match.group(2)).split("."))  # type: ignore[return-value]


def buggy_sdk(version: tuple[int, int, int] | None) -> bool:
    return version is not None and BUGGY_SDK[0] <= version <= BUGGY_SDK[1]


def pinned_sdk(requirements_text: str) -> tuple[int, int, int] | None:
    """The runpod version a requirements file pins with ==, if any."""
    match = re.search(r"^\s*runpod\s*==\s*(\d+\.\d+\.\d+)", requirements_text, re.M | re.I)
    return tuple(int(x) for x in match.group(1).split(".")) if match else None  # type: ignore[return-value]


@dataclass(frozen=True)
class Settings:
    """The cost-relevant settings of an endpoint or a spec, in one shape."""

    workers_min: int
    workers_max: int
    idle_timeout_s: float
    pools: tuple[str, ...]
    gpu_count: int = 1


def cost_findings(settings: Settings) -> list[str]:
    """Evidence lines for settings that bill much more than traffic needs (empty: none)."""
    from playbook.api.gpus import default_catalog

    catalog = default_catalog()
    prices = [catalog[p].usd_per_s for p in settings.pools if p in catalog.pools and catalog[p].usd_per_s]
    usd_per_s = max(prices) * settings.gpu_count if prices else None
    out = []
    if settings.workers_min > 0:
        always = f" = ${settings.workers_min * usd_per_s * 3600:.2f}/h" if usd_per_s else ""
        out.append(f"workers min is {settings.workers_min}: that many workers bill all the time, with no traffic"
                   f"{always}")
    if settings.idle_timeout_s > LONG_IDLE_TIMEOUT_S:
        out.append(f"idle timeout is {settings.idle_timeout_s:g} s: every burst bills that long after its last "
                   f"job (RunPod's default is 5 s)")
    if usd_per_s and settings.workers_max * usd_per_s * 3600 > SPEND_LIMIT_USD_PER_H:
        out.append(f"workers max {settings.workers_max} x ${usd_per_s * 3600:.2f}/h = "
                   f"${settings.workers_max * usd_per_s * 3600:.2f}/h at full scale, above the default spend limit "
                   f"of ${SPEND_LIMIT_USD_PER_H:.0f}/h")
    return out
