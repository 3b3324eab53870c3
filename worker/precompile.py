"""Build-time only (worker/Dockerfile): write the bytecode of every module a cold start imports, once.

Why: without it each cold worker compiles thousands of modules (torch, diffusers, transformers, the
runpod SDK, the standard library) before it can take a job, on every start. Compiling *everything* would
add about 300 MB of ``__pycache__``; compiling what the worker imports adds a fraction of that. The
bytecode is written with ``unchecked-hash`` invalidation, so Python trusts it without reading the source's
modification time (image files do not change). Prints the count and size, and the torch / CUDA versions
to /opt/deps/build-info.json (``playbook.image.build`` reads them back).

    python3 precompile.py            # in the image's final stage
"""

import importlib
import json
import os
import py_compile
import sys
import time
from importlib.util import cache_from_source

# What the worker imports from spawn to its first generation (handler.py, imagegen/, pipeline.load).
COLD_START_MODULES = (
    "torch", "diffusers", "transformers", "runpod", "runpod.serverless", "PIL.Image", "pydantic", "safetensors.torch",
    "diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion", "diffusers.schedulers",
    "diffusers.models.attention_processor", "transformers.models.clip.modeling_clip",
    "transformers.models.clip.tokenization_clip", "accelerate",
    # and what the first job adds: image encoders and the SDK's job path
    "PIL.PngImagePlugin", "PIL.JpegImagePlugin", "PIL.WebPImagePlugin", "runpod.serverless.modules.rp_job",
    "runpod.serverless.modules.rp_http", "runpod.serverless.modules.rp_progress", "runpod.serverless.modules.rp_scale",
)
INFO = "/opt/deps/build-info.json"


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    for name in COLD_START_MODULES:
        importlib.import_module(name)
    done = size = 0
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path or not path.endswith(".py") or not os.path.isfile(path):
            continue
        target = cache_from_source(path)
        py_compile.compile(path, cfile=target, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        done += 1
        size += os.path.getsize(target)
    import torch

    info = {"torch": torch.__version__, "cuda": torch.version.cuda, "python": sys.version.split()[0]}
    with open(INFO, "w") as f:
        json.dump(info, f)
    print(f"precompiled {done} modules ({size / 1e6:.1f} MB) in {time.perf_counter() - start:.1f} s; {info}")


if __name__ == "__main__":
    main()
