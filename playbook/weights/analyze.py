"""Model analysis from safetensors headers: files, bytes, parameters, dtypes, VRAM, volume size.

Why: every later phase needs numbers about the model (how big the volume must be, which GPU pool fits,
how long a cold start spends reading weights), and loading a multi-GB model just to count it is slow
and needs the memory it is trying to measure. A safetensors file starts with an 8-byte little-endian
length and a JSON header naming every tensor's dtype, shape and byte range, so everything except the
activations can be read exactly from a few KB per file.

How: ``analyze(path, variant="fp16", dtype="float16", width=512, height=512, batch=1)`` reads the
``model_index.json`` of a diffusers pipeline folder, picks for each component the exact weight files
``from_pretrained`` would read (``<name>.<variant>.safetensors`` or its sharded index when the variant
exists, else the plain files), and sums bytes and parameters per component and dtype. The VRAM figure
is weights at the load dtype (exact) + activations of the UNet or of the VAE decode, whichever is larger
(an estimate) + the CUDA context (an estimate). ``analysis.placements()`` is the placement table
(``playbook.weights.placement``).
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path

from playbook.core import html
from playbook.core.errors import ConfigError

# Bytes per element of each safetensors dtype.
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I64": 8, "I32": 4,
               "I16": 2, "I8": 1, "U8": 1, "BOOL": 1, "U16": 2, "U32": 4, "U64": 8}
FLOAT_DTYPES = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}
# The load dtype as torch names it -> safetensors' name. None keeps each tensor's stored dtype.
LOAD_DTYPES = {"float32": "F32", "float16": "F16", "bfloat16": "BF16", "fp32": "F32", "fp16": "F16", "bf16": "BF16"}
WEIGHT_NAMES = ("diffusion_pytorch_model", "model")  # diffusers' and transformers' weight file stems
MAX_HEADER_BYTES = 100 * 1024 * 1024  # safetensors' own limit

# Estimates (not exact; see vram_terms): CUDA context + cuBLAS/cuDNN workspaces, and how many live
# activation tensors of the widest feature map a UNet step / a VAE decode keeps at its peak. Calibrated on an
# H200 (`benchmarks/gpu_check.py --terms`, benchmarks/baselines/gpu_check_h200.txt: an SD-1.5-shaped pipeline,
# SDPA attention, fp16 and fp32, 512-1024 px, batch 1-4): the largest factors measured were 26.6 (UNet) and 9.5
# (VAE decode), the context 0.74 GB. The factors keep about 20 % above those: other cards and attention kernels
# differ, and the allocator reserves more than it hands out.
CUDA_CONTEXT_GB = 0.75
UNET_ACTIVATION_FACTOR = 32
VAE_ACTIVATION_FACTOR = 12
VOLUME_MIN_GB = 10
VOLUME_MARGIN = 1.2
CONTAINER_DISK_BASE_GB = 10  # the spec's default container disk: OS, Python, torch wheels unpack, temp files


@dataclass(frozen=True)
class WeightFile:
    """One safetensors file: where, how big, and its tensors summed per dtype."""

    path: str  # relative to the model folder
    size_bytes: int
    params_by_dtype: dict[str, int]


@dataclass(frozen=True)
class Component:
    """One pipeline component (unet, vae, text_encoder...) with the files from_pretrained reads."""

    name: str
    library: str
    class_name: str
    files: list[WeightFile]
    config: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def params(self) -> int:
        return sum(n for f in self.files for n in f.params_by_dtype.values())

    @property
    def disk_bytes(self) -> int:
        return sum(f.size_bytes for f in self.files)

    @property
    def params_by_dtype(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            for dtype, n in f.params_by_dtype.items():
                out[dtype] = out.get(dtype, 0) + n
        return out

    def tensor_bytes(self, load_dtype: str | None = None) -> int:
        """Bytes of the tensors once loaded: floating tensors cast to ``load_dtype``. Without a dtype,
        diffusers models load as float32 (torch's default) while transformers 5 keeps the stored dtype."""
        target = LOAD_DTYPES.get(load_dtype) if load_dtype else ("F32" if self.library == "diffusers" else None)
        return sum(n * DTYPE_BYTES[target if target and d in FLOAT_DTYPES else d]
                   for d, n in self.params_by_dtype.items())


@dataclass(frozen=True)
class Analysis:
    """What a model folder holds and needs. Bytes and parameters are exact; ``*_estimate_gb`` are not."""

    path: str
    variant: str | None
    dtype: str | None
    width: int
    height: int
    batch: int
    components: list[Component]
    other_files_bytes: int  # configs, tokenizer files: read by from_pretrained, tiny
    weights_gpu_bytes: int  # exact: tensors at the load dtype
    unet_activation_estimate_gb: float
    vae_decode_estimate_gb: float
    cuda_context_estimate_gb: float = CUDA_CONTEXT_GB
    other_files: list[str] = field(default_factory=list)  # relative paths of the non-weight files

    @property
    def weights_disk_bytes(self) -> int:
        return sum(c.disk_bytes for c in self.components)

    @property
    def bytes_to_upload(self) -> int:
        """Everything from_pretrained reads: the chosen weight files plus configs and tokenizer files."""
        return self.weights_disk_bytes + self.other_files_bytes

    @property
    def params(self) -> int:
        return sum(c.params for c in self.components)

    @property
    def vram_gb(self) -> float:
        """Inference peak: weights (exact) + the larger activation term (estimate) + CUDA context (estimate)."""
        return round(self.weights_gpu_bytes / 1e9 + max(self.unet_activation_estimate_gb,
                                                         self.vae_decode_estimate_gb)
                     + self.cuda_context_estimate_gb, 3)

    @property
    def volume_gb(self) -> int:
        """Network volume size: max(10, ceil(1.2 x bytes)). Volumes grow but never shrink."""
        return max(VOLUME_MIN_GB, math.ceil(VOLUME_MARGIN * self.bytes_to_upload / 1e9))

    @property
    def container_disk_gb(self) -> dict[str, int]:
        """Container disk per placement: weights on a volume need only the base; baked weights add theirs."""
        return {"network_volume": CONTAINER_DISK_BASE_GB,
                "bake": CONTAINER_DISK_BASE_GB + math.ceil(VOLUME_MARGIN * self.bytes_to_upload / 1e9)}

    def files(self) -> list[str]:
        """The weight files from_pretrained reads, relative to the model folder."""
        return [f.path for c in self.components for f in c.files]

    def upload_files(self) -> list[str]:
        """Every file from_pretrained reads (chosen weights, configs, tokenizer): what a volume needs."""
        return sorted(self.files() + self.other_files)

    def fitting_pools(self, catalog=None, headroom: float = 0.2) -> list:
        from playbook.api.gpus import default_catalog

        return (catalog or default_catalog()).fitting(self.vram_gb, headroom)

    def placements(self, **kwargs):
        from playbook.weights.placement import placement_table

        return placement_table(self.bytes_to_upload, volume_gb=self.volume_gb, **kwargs)

    def component_rows(self) -> list[dict]:
        return [{"component": c.name, "class": c.class_name, "files": len(c.files), "params": c.params,
                 "dtypes": ", ".join(sorted(c.params_by_dtype)), "disk_bytes": c.disk_bytes,
                 "gpu_bytes": c.tensor_bytes(self.dtype)} for c in self.components]

    def dtype_rows(self) -> list[dict]:
        """Bytes on disk per (component, dtype): the bar chart's data."""
        return [{"component": c.name, "dtype": d, "params": n, "bytes": n * DTYPE_BYTES[d]}
                for c in self.components for d, n in sorted(c.params_by_dtype.items())]

    def vram_terms(self) -> list[dict]:
        return [
            {"term": "weights at load dtype", "gb": round(self.weights_gpu_bytes / 1e9, 6), "kind": "exact"},
            {"term": "UNet activations (batch x2 for guidance)", "gb": self.unet_activation_estimate_gb,
             "kind": "estimate"},
            {"term": "VAE decode activations", "gb": self.vae_decode_estimate_gb, "kind": "estimate"},
            {"term": "CUDA context and workspaces", "gb": self.cuda_context_estimate_gb, "kind": "estimate"},
            {"term": "peak = weights + max(UNet, VAE) + context", "gb": self.vram_gb, "kind": "estimate"},
        ]

    def to_dict(self) -> dict:
        """Everything as plain JSON types; bytes and parameters stay exact integers."""
        data = asdict(self)
        for comp, obj in zip(data["components"], self.components, strict=True):
            comp.pop("config", None)
            comp.update(params=obj.params, disk_bytes=obj.disk_bytes, gpu_bytes=obj.tensor_bytes(self.dtype))
        data.update(files=self.files(), params=self.params, weights_disk_bytes=self.weights_disk_bytes,
                    bytes_to_upload=self.bytes_to_upload, vram_gb=self.vram_gb, volume_gb=self.volume_gb,
                    container_disk_gb=self.container_disk_gb, vram_terms=self.vram_terms(),
                    fitting_pools=[p.pool_id for p in self.fitting_pools()])
        return data

    def summary(self) -> dict:
        return {"model": self.path, "variant": self.variant or "(none)", "dtype": self.dtype or "(as stored)",
                "params": self.params, "weights_disk_bytes": self.weights_disk_bytes,
                "bytes_to_upload": self.bytes_to_upload, "weights_gpu_bytes": self.weights_gpu_bytes,
                "vram_gb (estimate)": self.vram_gb, "volume_gb": self.volume_gb,
                "fitting pools": ", ".join(p.pool_id for p in self.fitting_pools()[:4])}

    def _repr_html_(self) -> str:
        rows = [list(r.values()) for r in self.component_rows()]
        return (html.fields_table(self.summary(), caption="model analysis")
                + html.table(rows, ["component", "class", "files", "params", "dtypes", "disk bytes", "GPU bytes"]))


def read_header(path: Path | str) -> dict:
    """The JSON header of a safetensors file (tensor name -> dtype, shape, data_offsets), checked against
    the file's size. Raises ConfigError naming the file when it is not a complete safetensors file."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ConfigError(f"{path}: not a safetensors file ({size} bytes, shorter than the 8-byte header "
                              "length). Re-download or re-save it with save_pretrained(safe_serialization=True).")
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER_BYTES or 8 + n > size:
            raise ConfigError(f"{path}: not a safetensors file or truncated (header length {n} bytes, file "
                              f"{size} bytes). Re-download or re-save it.")
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ConfigError(f"{path}: not a safetensors file (its header is not JSON). Re-download or re-save "
                          "it.") from None
    if not isinstance(header, dict):
        raise ConfigError(f"{path}: not a safetensors file (its header is not a JSON object).")
    end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    if 8 + n + end > size:
        raise ConfigError(f"{path}: truncated: its header describes {8 + n + end} bytes but the file has {size}. "
                          "Re-download or re-copy it.")
    return header


def tensor_counts(path: Path | str) -> dict[str, int]:
    """Elements per dtype in one safetensors file, from its header alone."""
    counts: dict[str, int] = {}
    for name, t in read_header(path).items():
        if name == "__metadata__":
            continue
        if t["dtype"] not in DTYPE_BYTES:
            raise ConfigError(f"{path}: tensor {name!r} has dtype {t['dtype']!r}, unknown to the analysis.")
        counts[t["dtype"]] = counts.get(t["dtype"], 0) + math.prod(t["shape"])
    return counts


def weight_files(folder: Path, variant: str | None = None) -> list[Path]:
    """The safetensors files from_pretrained reads in one component folder: the variant's single file
    or shards when they exist, else the plain ones; [] for a component without weights."""
    for v in ([variant] if variant else []) + [None]:
        for stem in WEIGHT_NAMES:
            single = folder / (f"{stem}.{v}.safetensors" if v else f"{stem}.safetensors")
            if single.is_file():
                return [single]
            index = folder / (f"{stem}.safetensors.index.{v}.json" if v else f"{stem}.safetensors.index.json")
            if index.is_file():
                shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
                missing = [s for s in shards if not (folder / s).is_file()]
                if missing:
                    raise ConfigError(f"{index}: lists shard(s) {missing[:3]} that are not in {folder}.")
                return [folder / s for s in shards]
    if any(folder.glob("*.bin")) or any(folder.glob("*.pt")):
        raise ConfigError(f"{folder}: holds only pickle weights (.bin/.pt); the analysis reads safetensors. "
                          "Convert with save_pretrained(..., safe_serialization=True).")
    return []


def analyze(path: Path | str, variant: str | None = None, dtype: str | None = None, width: int = 512,
            height: int = 512, batch: int = 1) -> Analysis:
    """Analyze a diffusers pipeline folder without loading a tensor (see the module docstring)."""
    root = Path(path)
    index_path = root / "model_index.json"
    if not index_path.is_file():
        raise ConfigError(f"{root} is not a diffusers pipeline folder (no model_index.json). Point at the "
                          "folder save_pretrained wrote.")
    if dtype is not None and dtype not in LOAD_DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(LOAD_DTYPES)}, not {str(dtype)[:40]!r}.")
    for name, value in (("width", width), ("height", height), ("batch", batch)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive whole number, not {value!r}.")
    index = json.loads(index_path.read_text())
    components, used = [], set()
    for name, entry in index.items():
        if name.startswith("_") or not isinstance(entry, list) or len(entry) != 2 or entry[0] is None:
            continue
        folder = root / name
        files = weight_files(folder, variant) if folder.is_dir() else []
        used.update(files)
        config_path = folder / "config.json"
        config = json.loads(config_path.read_text()) if config_path.is_file() else {}
        components.append(Component(name, entry[0], entry[1], [
            WeightFile(str(f.relative_to(root)), f.stat().st_size, tensor_counts(f)) for f in files], config))
    others = sorted(p for p in root.rglob("*") if p.is_file() and p not in used and not _is_weight(p)
                    and not p.name.startswith("."))
    by_name = {c.name: c for c in components}
    act_bytes = DTYPE_BYTES[LOAD_DTYPES[dtype]] if dtype else 4
    unet_gb, vae_gb = _activations_gb(by_name, width, height, batch, act_bytes)
    return Analysis(str(root), variant, dtype, width, height, batch, components,
                    sum(p.stat().st_size for p in others), sum(c.tensor_bytes(dtype) for c in components),
                    unet_gb, vae_gb, other_files=[p.relative_to(root).as_posix() for p in others])


def _is_weight(p: Path) -> bool:
    """A weight file of some variant or format (read only when chosen, so not counted otherwise)."""
    return p.suffix in (".safetensors", ".bin", ".pt", ".ckpt", ".msgpack", ".h5", ".onnx") or (
        ".safetensors.index" in p.name)


def _activations_gb(components: dict[str, Component], width: int, height: int, batch: int,
                    act_bytes: int) -> tuple[float, float]:
    """Estimates: the UNet's widest feature map at latent resolution (x2 for classifier-free guidance) and
    the VAE decoder's last block at full resolution, each times a count of live tensors."""
    vae = components.get("vae")
    vae_channels = (vae.config.get("block_out_channels") if vae else None) or [128]
    scale = 2 ** (len(vae_channels) - 1)
    unet = components.get("unet") or components.get("transformer")
    unet_channels = ((unet.config.get("block_out_channels") if unet else None) or [320])[0]
    latent_pixels = (width // scale) * (height // scale)
    unet_gb = batch * 2 * latent_pixels * unet_channels * act_bytes * UNET_ACTIVATION_FACTOR / 1e9
    vae_gb = batch * width * height * vae_channels[0] * act_bytes * VAE_ACTIVATION_FACTOR / 1e9
    return round(unet_gb, 4), round(vae_gb, 4)
