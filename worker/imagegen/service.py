"""The worker's actions (generate, health_check) over one pipeline loaded at start.

Why a class: the handler module holds exactly one ``Worker``, made at import so the model loads once;
tests and notebooks make their own on any model folder. ``Worker.start`` never raises: a missing or
broken model is recorded as a plain message, which the fitness check raises at worker start on the
platform and every job returns as ``{"error": ...}`` in local runs, instead of an import traceback.
Errors are always returned as strings (a dict-valued error once made RunPod report COMPLETED).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from imagegen import boot, fitness, outputs, pipeline, schema, speed

DEFAULT_MODEL_PATH = "/runpod-volume/models/tiny-sd"


@dataclass(frozen=True)
class WorkerSettings:
    """What the environment decides (read once at start)."""

    model_path: str = DEFAULT_MODEL_PATH
    device: str = "auto"
    dtype: str = "auto"
    warm_up: bool = True  # one tiny generation before the worker takes traffic (WORKER_WARMUP=0: off)
    variant: str | None = None  # MODEL_VARIANT (e.g. fp16); unset: auto-detected from the files
    speed: speed.Options = field(default_factory=speed.Options)  # WORKER_CHANNELS_LAST, WORKER_COMPILE, ...

    @classmethod
    def from_env(cls) -> WorkerSettings:
        return cls(os.environ.get("MODEL_PATH", DEFAULT_MODEL_PATH),
                   os.environ.get("WORKER_DEVICE", "auto").lower(), os.environ.get("WORKER_DTYPE", "auto").lower(),
                   os.environ.get("WORKER_WARMUP", "1").strip().lower() not in ("0", "false", "no", "off"),
                   os.environ.get("MODEL_VARIANT", "").strip() or None, speed.Options.from_env())


@dataclass
class Worker:
    settings: WorkerSettings
    loaded: pipeline.Loaded | None = None
    problem: str | None = None  # why the model is not usable, in words
    warmup_s: float | None = None  # the boot-time warm-up generation, when it ran
    served: dict = field(default_factory=lambda: {"ok": 0, "failed": 0})

    @classmethod
    def start(cls, settings: WorkerSettings | None = None) -> Worker:
        """Check the model files, then load the pipeline once; record (never raise) what went wrong."""
        settings = settings or WorkerSettings.from_env()
        worker = cls(settings)
        problems = fitness.model_problems(settings.model_path, settings.variant)
        if problems:
            worker.problem = fitness.unfit_message(settings.model_path, problems)
            return worker
        variant = fitness.choose_variant(settings.model_path, settings.variant)
        ahead = boot.read_ahead(settings.model_path, variant)  # the weights' bytes stream in while torch imports
        try:
            worker.loaded = pipeline.load(settings.model_path, settings.device, settings.dtype, variant,
                                          settings.speed)
        except Exception as exc:  # noqa: BLE001 - reported by the fitness check and every job
            worker.problem = (f"could not load the pipeline at MODEL_PATH={settings.model_path} (variant "
                              f"{variant or 'none: the plain files'}; MODEL_VARIANT sets it): "
                              f"{type(exc).__name__}: {exc}")
        ahead.result()
        if worker.loaded:
            print(worker.loaded.describe(settings.model_path), flush=True)
        if worker.loaded and settings.warm_up:
            worker.warm_up()
        return worker

    def warm_up(self) -> None:
        """One tiny generation, so the first real job does not pay for lazy initialisation (kernels,
        allocator, first-call code paths); a FlashBoot snapshot then holds a warm process. A failure
        here is left to the real jobs to report: warm-up only saves time."""
        # CUDA kernels are picked per shape: warm the size a request without one gets (tiny on a CPU)
        size = {} if self.loaded.device == "cuda" else {"width": 64, "height": 64}
        request = schema.parse_generate({"prompt": "warm-up", **size, "num_inference_steps": 2, "seed": 0})
        start = time.perf_counter()
        try:
            pairs = pipeline.generate(self.loaded, request)
            outputs.as_base64([outputs.encode(image, "png") for image, _ in pairs], [0])  # the encode path too
        except Exception as exc:  # noqa: BLE001
            pipeline.empty_cache()
            if speed.uncompile(self.loaded.pipe):  # a compile that cannot work here must not fail every job
                self.loaded.speed = [f"{s}:failed_eager" if s.startswith("compile:") else s for s in self.loaded.speed]
                print(f"warm-up generation failed while compiling ({type(exc).__name__}: {str(exc)[:200]}); "
                      "WORKER_COMPILE is set aside, serving eager", flush=True)
                return self.warm_up()
            print(f"warm-up generation failed ({type(exc).__name__}: {str(exc)[:200]}); serving anyway",
                  flush=True)
            return
        self.warmup_s = time.perf_counter() - start

    def check_fitness(self) -> None:
        """Raise with the model problem: registered as the worker's fitness check."""
        if self.problem:
            raise RuntimeError(self.problem)

    def handle(self, job: dict, on_step: Callable[[int, int], None] | None = None) -> dict:
        """One job: ``{"id": ..., "input": {...}}`` in, a result or ``{"error": "<text>"}`` out."""
        try:
            request = schema.parse(job.get("input"))
            result = self.health() if request.action == "health_check" else self.generate(job, on_step, request)
        except REFUSALS as exc:
            self.served["failed"] += 1
            return {"error": str(exc)}
        self.served["ok"] += 1
        return result

    def generate(self, job: dict, on_step=None, request: schema.GenerateInput | None = None) -> dict:
        request = request or schema.parse_generate(job["input"])
        if self.loaded is None:
            raise ModelNotReady(self.problem)
        start = time.perf_counter()
        try:
            pairs = pipeline.generate(self.loaded, request, on_step)
        except Exception as exc:
            if _is_cuda_oom(exc):
                pipeline.empty_cache()
                raise OutOfMemory(_oom_message(request, self.loaded)) from None
            raise
        inference_s = time.perf_counter() - start
        images = outputs.images_result(pairs, request.output_format, str(job.get("id", "local")))
        width, height = pairs[0][0].size if pairs else (request.width, request.height)
        return {"images": images, "width": width, "height": height,
                "num_inference_steps": request.num_inference_steps, "output_format": request.output_format,
                "device": self.loaded.device, "dtype": self.loaded.dtype, "inference_s": round(inference_s, 3)}

    def health(self) -> dict:
        info = {"status": "ok" if self.loaded else "model_not_ready", "model_loaded": self.loaded is not None,
                "model_path": self.settings.model_path, "jobs_ok": self.served["ok"],
                "jobs_failed": self.served["failed"], "versions": pipeline.versions(), **pipeline.memory()}
        if self.loaded:
            info.update(pipeline=type(self.loaded.pipe).__name__, device=self.loaded.device,
                        dtype=self.loaded.dtype, variant=self.loaded.variant,
                        default_size=f"{self.loaded.width}x{self.loaded.height}", attention=self.loaded.attention,
                        speed=self.loaded.speed,
                        load_s=round(self.loaded.load_s, 3),
                        warmup_s=None if self.warmup_s is None else round(self.warmup_s, 3))
        else:
            info["problem"] = self.problem
        return info


class ModelNotReady(RuntimeError):
    """The model did not load; the message is the fitness check's."""


class OutOfMemory(RuntimeError):
    """CUDA ran out of memory for this request; the worker has emptied its cache and keeps serving."""


# Errors that are the request's or the setup's, answered as {"error": "<text>"}; anything else is a bug
# and propagates, so RunPod records it with its traceback.
REFUSALS = (schema.InputError, pipeline.Unsupported, outputs.OutputError, ModelNotReady, OutOfMemory)


def _is_cuda_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError)


def _oom_message(request, loaded) -> str:
    free = pipeline.memory()
    where = f" ({free['vram_free_gb']} of {free['vram_total_gb']} GB free now)" if free else ""
    width, height = request.width or loaded.width, request.height or loaded.height
    return (f"CUDA out of memory for {width}x{height} x {request.num_images} image(s) "
            f"(width x height x num_images) at {request.num_inference_steps} steps in {loaded.dtype}{where}. "
            "The cache was emptied and the worker keeps serving: ask for fewer or smaller images, "
            "or deploy on a GPU with more VRAM.")
