"""Model analysis from safetensors headers: files, bytes, parameters, dtypes, VRAM, volume size.

Why: every later phase needs numbers about the model (how big the volume must be, which GPU pool fits,
how long a cold start spends reading weights), and loading a multi-GB model just to count it is slow
and needs the memory it is trying to measure. A safetensors file starts with an 8-byte little-endian
length and a JSON header naming every tensor's dtype, shape and byte range, so everything except the
activations can be read exactly from a few KB per file.

How: ``analyze(path, variant="fp16", dtype="float16", width=None, height=None, batch=1)`` reads the
``model_index.json`` of a diffusers pipeline folder, finds the variants its weight files come in
(``<name>.<variant>.safetensors``), picks for each component the exact weight files ``from_pretrained``
would read (the variant's single file or sharded index when the component has it, else the plain files),
and sums bytes and parameters per component and dtype. Without ``variant`` the plain files are analysed,
or, when the folder holds a single variant and no complete plain set (``save_pretrained(variant="fp16")``),
that variant, as the worker auto-detects it; an absent variant, several candidate variants or a folder
without weights is a ConfigError naming the variants held and the setting to use. The VRAM figure
(``playbook.weights.vram``) is at the model's native size unless ``width``/``height`` are given.
``analysis.placements()`` is the placement table (``playbook.weights.placement``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from playbook.core import html, safetensors_header
from playbook.core.errors import ConfigError
from playbook.weights import vram

# Bytes per element of each safetensors dtype.
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I64": 8, "I32": 4,
               "I16": 2, "I8": 1, "U8": 1, "BOOL": 1, "U16": 2, "U32": 4, "U64": 8}
FLOAT_DTYPES = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}
# The load dtype as torch names it -> safetensors' name. None keeps each tensor's stored dtype.
LOAD_DTYPES = {"float32": "F32", "float16": "F16", "bfloat16": "BF16", "fp32": "F32", "fp16": "F16", "bf16": "BF16"}
# transformers keeps these modules in fp32 when a model loads in fp16 (its classes' _keep_in_fp32_modules)
KEEP_IN_FP32 = {cls: ("wo",) for cls in ("T5EncoderModel", "T5ForConditionalGeneration", "UMT5EncoderModel",
                                         "MT5EncoderModel")}
WEIGHT_NAMES = ("diffusion_pytorch_model", "model")  # diffusers' and transformers' weight file stems

# The estimate's factors live in playbook.weights.vram (which says which are GPU-calibrated).
CUDA_CONTEXT_GB = vram.CUDA_CONTEXT_GB
UNET_ACTIVATION_FACTOR = vram.UNET_ACTIVATION_FACTOR
VAE_ACTIVATION_FACTOR = vram.VAE_ACTIVATION_FACTOR
# A weight file of a variant: <stem>[-00001-of-00002].<variant>.<safetensors|bin>, and its shard index.
VARIANT_FILE = re.compile(r"^(?:diffusion_pytorch_model|model|pytorch_model)(?:-\d+-of-\d+)?\.([A-Za-z0-9_]+)"
                          r"(?:-\d+-of-\d+)?\.(?:safetensors|bin)$")
VARIANT_INDEX = re.compile(r"^(?:diffusion_pytorch_model|model|pytorch_model)\.(?:safetensors|bin)\.index"
                           r"\.([A-Za-z0-9_]+)\.json$")
PLAIN_FILE = re.compile(r"^(?:diffusion_pytorch_model|model|pytorch_model)(?:-\d+-of-\d+)?\.(?:safetensors|bin)$"
                        r"|^(?:diffusion_pytorch_model|model|pytorch_model)\.(?:safetensors|bin)\.index\.json$")
VOLUME_MIN_GB = 10
VOLUME_MARGIN = 1.2
CONTAINER_DISK_BASE_GB = 10  # the spec's default container disk: OS, Python, torch wheels unpack, temp files


@dataclass(frozen=True)
class WeightFile:
    """One safetensors file: where, how big, and its tensors summed per dtype."""

    path: str  # relative to the model folder
    size_bytes: int
    params_by_dtype: dict[str, int]
    kept_fp32: int = 0  # floating elements of modules the class keeps in fp32 when loaded in fp16


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
        kept = sum(f.kept_fp32 for f in self.files) * (DTYPE_BYTES["F32"] - DTYPE_BYTES["F16"])
        return sum(n * DTYPE_BYTES[target if target and d in FLOAT_DTYPES else d]
                   for d, n in self.params_by_dtype.items()) + (kept if target == "F16" else 0)


@dataclass(frozen=True)
class Analysis:
    """What a model folder holds and needs. Bytes and parameters are exact; ``*_estimate_gb`` are not."""

    path: str
    variant: str | None  # the variant analysed (None: the plain files)
    dtype: str | None
    width: int  # the size the VRAM estimate is for (default: the model's native size)
    height: int
    batch: int
    components: list[Component]
    other_files_bytes: int  # configs, tokenizer files: read by from_pretrained, tiny
    weights_gpu_bytes: int  # exact: tensors at the load dtype
    unet_activation_estimate_gb: float  # the denoiser's (UNet or transformer) activations
    vae_decode_estimate_gb: float
    cuda_context_estimate_gb: float = CUDA_CONTEXT_GB
    other_files: list[str] = field(default_factory=list)  # relative paths of the non-weight files
    pipeline_class: str = ""
    variants: dict[str, list[str]] = field(default_factory=dict)  # variant held -> components holding it
    native_width: int = 512
    native_height: int = 512
    estimate: vram.Estimate | None = None

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
        """Inference peak: weights (exact) + the largest activation term (estimate; the VAE decode's with
        its fp32 weights when upcast) + CUDA context (estimate)."""
        e = self.estimate
        vae = self.vae_decode_estimate_gb + (e.vae_upcast_weights_gb if e else 0.0)
        text = e.text_encoders_gb if e else 0.0
        return round(self.weights_gpu_bytes / 1e9 + max(self.unet_activation_estimate_gb, vae, text)
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
        """Each term of the peak with its kind (exact or estimate) and what it is calibrated on."""
        e = self.estimate or vram.Estimate("unet", self.unet_activation_estimate_gb, vram.CALIBRATED,
                                           self.vae_decode_estimate_gb, False, 0.0, 0.0, ())
        exact = {"kind": "exact", "calibration": vram.EXACT}
        terms = [{"term": f"weights: {c.name} ({c.class_name})", "gb": round(c.tensor_bytes(self.dtype) / 1e9, 6),
                  **exact} for c in self.components if c.files]
        terms.append({"term": "weights at load dtype", "gb": round(self.weights_gpu_bytes / 1e9, 6), **exact})
        name = {"unet": "UNet", "transformer": "transformer"}.get(e.denoiser, "denoiser")
        terms.append({"term": f"{name} activations (batch x2 for guidance)", "gb": self.unet_activation_estimate_gb,
                      "kind": "estimate", "calibration": e.denoiser_calibration})
        terms.append({"term": "VAE decode activations" + (" (fp32: the VAE's force_upcast)" if e.vae_upcast else ""),
                      "gb": self.vae_decode_estimate_gb, "kind": "estimate", "calibration": vram.CALIBRATED})
        if e.vae_upcast:
            terms.append({"term": "VAE weights cast to fp32 for the decode", "gb": e.vae_upcast_weights_gb, **exact})
        if e.text_encoders:
            terms.append({"term": f"text encoder activations ({', '.join(e.text_encoders)}; the widest)",
                          "gb": e.text_encoders_gb, "kind": "estimate", "calibration": vram.UNCALIBRATED})
        terms.append({"term": "CUDA context and workspaces", "gb": self.cuda_context_estimate_gb, "kind": "estimate",
                      "calibration": vram.CALIBRATED})
        terms.append({"term": f"peak at {self.width}x{self.height} x {self.batch} = weights + max(activations) "
                      "+ context", "gb": self.vram_gb, "kind": "estimate",
                      "calibration": "sum of the terms above"})
        return terms

    def variants_line(self) -> str:
        """Which weight files the folder holds, and which were analysed."""
        return describe_variants(self.variants) + f"; analysed: {self.variant or 'the plain files'}"

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
        return {"model": self.path, "pipeline": self.pipeline_class or "(unknown)",
                "variant": self.variant or "(none: the plain files)",
                "weights in the folder": describe_variants(self.variants), "dtype": self.dtype or "(as stored)",
                "native size": f"{self.native_width}x{self.native_height}",
                "estimate for": f"{self.width}x{self.height} x {self.batch}", "params": self.params,
                "weights_disk_bytes": self.weights_disk_bytes,
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
    try:
        header, _ = safetensors_header.read(path)
    except safetensors_header.HeaderError as exc:
        fix = "Re-download or re-copy it." if exc.kind == "truncated" else \
            "Re-download or re-save it with save_pretrained(safe_serialization=True)."
        raise ConfigError(f"{exc}. {fix}") from None
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


def kept_fp32(path: Path | str, class_name: str) -> int:
    """Floating elements of the modules ``class_name`` keeps in fp32 when asked for fp16 (transformers'
    ``_keep_in_fp32_modules``: T5's ``wo`` projections), from the header's tensor names."""
    return kept_fp32_of(class_name, ((name, math.prod(t["shape"])) for name, t in read_header(path).items()
                                     if name != "__metadata__" and t["dtype"] in FLOAT_DTYPES))


def kept_fp32_of(class_name: str, floating: Iterable[tuple[str, int]]) -> int:
    """Of ``(tensor name, elements)`` pairs of floating tensors, the elements ``class_name`` keeps in fp32."""
    modules = KEEP_IN_FP32.get(class_name)
    if not modules:
        return 0
    pattern = re.compile(rf"(^|\.)({'|'.join(modules)})(\.|$)")
    return sum(n for name, n in floating if pattern.search(name))


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


VARIANT_SETTINGS = ("variant (analyze --variant, volume push --variant, build --variant, the spec's [model] "
                    "variant, the worker's MODEL_VARIANT)")


def held_variants(root: Path, names: list[str]) -> dict[str, list[str]]:
    """Which weight files each component folder holds: "" (the plain files) or a variant's name ->
    the components that have them."""
    held: dict[str, list[str]] = {}
    for name in names:
        folder = root / name
        found = set()
        for p in (folder.iterdir() if folder.is_dir() else []):
            if PLAIN_FILE.match(p.name):
                found.add("")
            elif m := VARIANT_FILE.match(p.name) or VARIANT_INDEX.match(p.name):
                found.add(m.group(1))
        for v in sorted(found):
            held.setdefault(v, []).append(name)
    return dict(sorted(held.items()))


def describe_variants(held: dict[str, list[str]]) -> str:
    if not held:
        return "no weight files"
    return "; ".join(f"{v or 'plain files'}: {', '.join(names)}" for v, names in held.items())


def choose_variant(root: Path, requested: str | None, held: dict[str, list[str]]) -> str | None:
    """The variant from_pretrained should load: the one asked for (it must be there: diffusers refuses an
    absent one), else the plain files when every weighted component has them, else the only variant."""
    names = [v for v in held if v]
    if requested:
        if requested not in held or not requested:
            fix = " or ".join(repr(v) for v in names)
            fix = (f"set {VARIANT_SETTINGS} to {fix}" + (", or leave it unset for the plain files" if "" in held
                                                          else "")) if names else f"leave {VARIANT_SETTINGS} unset"
            raise ConfigError(f"{root} has no {requested!r} weight files (it holds {describe_variants(held)}): "
                              f"{fix}.")
        return requested
    weighted = {n for names_ in held.values() for n in names_}
    if not names or weighted <= set(held.get("", [])):
        return None
    if len(names) == 1:
        return names[0]
    raise ConfigError(f"{root} lacks plain weight files for some components and holds several variants "
                      f"({describe_variants(held)}): choose one with {VARIANT_SETTINGS}, e.g. {names[0]!r}.")


def analyze(path: Path | str, variant: str | None = None, dtype: str | None = None, width: int | None = None,
            height: int | None = None, batch: int = 1) -> Analysis:
    """Analyze a diffusers pipeline folder without loading a tensor (see the module docstring)."""
    root = Path(path)
    index_path = root / "model_index.json"
    if not index_path.is_file():
        raise ConfigError(f"{root} is not a diffusers pipeline folder (no model_index.json). Point at the "
                          "folder save_pretrained wrote.")
    if dtype is not None and dtype not in LOAD_DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(LOAD_DTYPES)}, not {str(dtype)[:40]!r}.")
    for name, value in (("width", width), ("height", height), ("batch", batch)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ConfigError(f"{name} must be a positive whole number, not {value!r}.")
    index = json.loads(index_path.read_text())
    entries = {name: entry for name, entry in index.items() if not name.startswith("_") and isinstance(entry, list)
               and len(entry) == 2 and entry[0] is not None}
    held = held_variants(root, list(entries))
    variant = choose_variant(root, variant or None, held)
    components, used = [], set()
    for name, entry in entries.items():
        folder = root / name
        files = weight_files(folder, variant) if folder.is_dir() else []
        used.update(files)
        config_path = folder / "config.json"
        config = json.loads(config_path.read_text()) if config_path.is_file() else {}
        components.append(Component(name, entry[0], entry[1], [
            WeightFile(str(f.relative_to(root)), f.stat().st_size, tensor_counts(f), kept_fp32(f, entry[1]))
            for f in files], config))
    if sum(c.params for c in components) == 0:
        raise ConfigError(f"{root}: no weights to analyse (it holds {describe_variants(held)}; analysed: "
                          f"{variant or 'the plain files'}). Point at a folder save_pretrained wrote"
                          + (f", or set {VARIANT_SETTINGS} to one of {[v for v in held if v]}." if held else "."))
    others = sorted(p for p in root.rglob("*") if p.is_file() and p not in used and not _is_weight(p)
                    and not p.name.startswith("."))
    return assemble(str(root), str(index.get("_class_name", "")), components, dtype, width, height, batch,
                    variant=variant, variants=held, other_files=[p.relative_to(root).as_posix() for p in others],
                    other_files_bytes=sum(p.stat().st_size for p in others))


def assemble(path: str, pipeline_class: str, components: list[Component], dtype: str | None = None,
             width: int | None = None, height: int | None = None, batch: int = 1, variant: str | None = None,
             variants: dict | None = None, other_files: list[str] | None = None,
             other_files_bytes: int = 0) -> Analysis:
    """The Analysis of a pipeline's components, however they were counted (safetensors headers here, meta
    tensors in ``playbook.weights.architectures``): the VRAM estimate at the native size unless given."""
    by_name = {c.name: c for c in components}
    native_w, native_h = vram.native_size(by_name, pipeline_class)
    width, height = width or native_w, height or native_h
    act_bytes = DTYPE_BYTES[LOAD_DTYPES[dtype]] if dtype else 4
    est = vram.estimate(by_name, pipeline_class, width, height, batch, act_bytes, dtype)
    return Analysis(path, variant, dtype, width, height, batch, components, other_files_bytes,
                    sum(c.tensor_bytes(dtype) for c in components), est.denoiser_gb, est.vae_decode_gb,
                    other_files=other_files or [], pipeline_class=pipeline_class, variants=variants or {},
                    native_width=native_w, native_height=native_h, estimate=est)


def _is_weight(p: Path) -> bool:
    """A weight file of some variant or format (read only when chosen, so not counted otherwise)."""
    return p.suffix in (".safetensors", ".bin", ".pt", ".ckpt", ".msgpack", ".h5", ".onnx") or (
        ".safetensors.index" in p.name)
