"""Speed options of the loaded pipeline, one worker setting each (read once at start).

Why here and not in the pipeline code: each option is a trade (compile time against step time, memory
layout against kernel choice) whose worth depends on the GPU, the dtype and the model, so each is a
setting with a default chosen by measurement (benchmarks/bench_speed_options.py on the CPU,
benchmarks/gpu_check.py on a GPU), and ``apply`` says which ones took effect (the health action reports it).

Settings (environment), all off by default until a GPU measurement says otherwise (see worker/README.md):
    WORKER_CHANNELS_LAST = 0 | 1        UNet and VAE weights in channels-last memory format
    WORKER_FUSE_QKV      = 0 | 1        fused query/key/value projections (diffusers' fuse_qkv_projections)
    WORKER_SDPA_BACKEND  = auto | flash | efficient | cudnn | math   the scaled-dot-product attention kernel
    WORKER_COMPILE       = off | blocks | unet   torch.compile of the UNet's repeated transformer blocks
                           (regional: compiles in a fraction of the time) or of the whole UNet
    WORKER_CUDA_GRAPHS   = 0 | 1        compile with mode="reduce-overhead" (CUDA graphs; needs WORKER_COMPILE
                           and a GPU: ignored, and said so, on the CPU)
    WORKER_COMPILE_CACHE = <folder>     torch.compile's cache (TORCHINDUCTOR_CACHE_DIR): put it in the image or on
                           the network volume so a cold start reuses the compiled kernels instead of compiling
The compilation itself happens on the first generation, i.e. in the warm-up at boot (WORKER_WARMUP=1).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

ON = ("1", "true", "yes", "on")
OFF = ("0", "false", "no", "off", "")
SDPA_BACKENDS = {"flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION", "cudnn": "CUDNN_ATTENTION",
                 "math": "MATH"}
CPU_SDPA_BACKENDS = ("flash", "math")  # the CPU has no memory-efficient or cuDNN kernel
COMPILE = ("off", "blocks", "unet")


@dataclass(frozen=True)
class Options:
    """The speed settings, validated when applied (a bad value is a load problem naming the variable)."""

    channels_last: bool = False
    fuse_qkv: bool = False
    sdpa_backend: str = "auto"
    compile: str = "off"
    cuda_graphs: bool = False
    compile_cache: str | None = None
    invalid: str | None = None  # a setting that did not parse, in words (raised by check)

    @classmethod
    def from_env(cls, env=None) -> Options:
        env = os.environ if env is None else env
        flags, invalid = {}, None
        for name in ("WORKER_CHANNELS_LAST", "WORKER_FUSE_QKV", "WORKER_CUDA_GRAPHS"):
            value = env.get(name, "0").strip().lower()
            flags[name] = value in ON
            if value not in ON + OFF:
                invalid = f"{name} must be 0 or 1, not {value!r}"
        return cls(flags["WORKER_CHANNELS_LAST"], flags["WORKER_FUSE_QKV"],
                   env.get("WORKER_SDPA_BACKEND", "auto").strip().lower() or "auto",
                   env.get("WORKER_COMPILE", "off").strip().lower() or "off", flags["WORKER_CUDA_GRAPHS"],
                   env.get("WORKER_COMPILE_CACHE", "").strip() or None, invalid)

    def check(self, device: str, dtype: str) -> None:
        """Raise ValueError naming the setting and what it allows."""
        if self.invalid:
            raise ValueError(self.invalid)
        backends = CPU_SDPA_BACKENDS if device == "cpu" else tuple(SDPA_BACKENDS)
        if self.sdpa_backend != "auto" and self.sdpa_backend not in backends:
            raise ValueError(f"WORKER_SDPA_BACKEND must be auto or one of {', '.join(backends)} on {device}, "
                             f"not {self.sdpa_backend!r}")
        if self.sdpa_backend == "flash" and device == "cuda" and dtype == "fp32":
            raise ValueError("WORKER_SDPA_BACKEND=flash needs WORKER_DTYPE fp16 or bf16 on a GPU (flash attention "
                             "has no fp32 kernel): set WORKER_SDPA_BACKEND=auto or a 16-bit dtype")
        if self.compile not in COMPILE:
            raise ValueError(f"WORKER_COMPILE must be one of {', '.join(COMPILE)}, not {self.compile!r}")
        if self.cuda_graphs and self.compile == "off":
            raise ValueError("WORKER_CUDA_GRAPHS=1 needs WORKER_COMPILE=blocks or unet (CUDA graphs come with "
                             "torch.compile's reduce-overhead mode)")



def apply(pipe, options: Options, device: str, dtype: str) -> list[str]:
    """Set ``options`` on the loaded pipeline; return what took effect, in words (for the health action)."""
    import torch

    options.check(device, dtype)
    applied = []
    unet = getattr(pipe, "unet", None)
    if options.channels_last:
        for name in ("unet", "vae"):
            if getattr(pipe, name, None) is not None:
                getattr(pipe, name).to(memory_format=torch.channels_last)
        applied.append("channels_last")
    if options.fuse_qkv and hasattr(pipe, "fuse_qkv_projections"):
        pipe.fuse_qkv_projections()
        applied.append("fused_qkv")
    if options.sdpa_backend != "auto":
        applied.append(f"sdpa:{options.sdpa_backend}")
    if options.compile != "off" and unet is not None:
        if options.compile_cache:
            os.makedirs(options.compile_cache, exist_ok=True)
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = options.compile_cache  # read when inductor first compiles
        graphs = options.cuda_graphs and device == "cuda"
        mode = "reduce-overhead" if graphs else None
        if options.compile == "blocks" and getattr(unet, "_repeated_blocks", None):
            unet.compile_repeated_blocks(fullgraph=True, mode=mode)
        else:
            unet.compile(mode=mode)
        applied.append(f"compile:{options.compile}" + (":cuda_graphs" if graphs else ""))
    if options.cuda_graphs and device != "cuda":
        applied.append("cuda_graphs:not_on_cpu")
    return applied


def uncompile(pipe) -> bool:
    """Back to eager for every compiled module of the UNet (a compile that failed, e.g. no C compiler for
    Triton in the image); True when something was compiled."""
    unet = getattr(pipe, "unet", None)
    compiled = [m for m in (unet.modules() if unet is not None else ()) if getattr(m, "_compiled_call_impl", None)]
    for module in compiled:
        module._compiled_call_impl = None
    return bool(compiled)


def attention_context(options: Options):
    """The context a generation runs in: the chosen SDPA kernel, or nothing when torch picks (auto)."""
    if options.sdpa_backend == "auto":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([getattr(SDPBackend, SDPA_BACKENDS[options.sdpa_backend])])
