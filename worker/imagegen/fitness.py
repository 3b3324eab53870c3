"""Are the model files there, readable and whole? Checked before loading, reported by the fitness check.

Why: the classic serverless failure is a worker that starts without its weights (volume not attached,
wrong MODEL_PATH, a copy that stopped half way) and then fails every job with a deep traceback. This
module walks the pipeline folder the way diffusers will (``model_index.json`` names each component),
opens every safetensors file and compares the size its header promises with the size on disk, and
returns plain sentences naming each missing, unreadable or truncated file and the expected path.
No torch import: it runs in milliseconds.

Variants: a folder saved with ``save_pretrained(variant="fp16")`` holds ``<name>.fp16.safetensors`` files,
which ``from_pretrained`` reads only when asked for that variant. ``choose_variant`` decides what the worker
loads: MODEL_VARIANT when set, else the plain files when every component has them, else the folder's only
variant (auto-detected); anything else is a problem naming the variants the folder holds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from imagegen import safetensors_header

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
MANIFEST_NAME = ".playbook-manifest.json"  # written beside the model by `playbook volume push`
_STEMS = r"(?:diffusion_pytorch_model|model|pytorch_model)"
PLAIN_FILE = re.compile(rf"^{_STEMS}(?:-\d+-of-\d+)?\.(?:safetensors|bin)$"
                        rf"|^{_STEMS}\.(?:safetensors|bin)\.index\.json$")
VARIANT_FILE = re.compile(rf"^{_STEMS}(?:-\d+-of-\d+)?\.([A-Za-z0-9_]+)(?:-\d+-of-\d+)?\.(?:safetensors|bin)$"
                          rf"|^{_STEMS}\.(?:safetensors|bin)\.index\.([A-Za-z0-9_]+)\.json$")


class VariantProblem(ValueError):
    """The variant to load cannot be decided or is not in the folder; the message names the fix."""


def held_variants(root: Path, names: list[str]) -> dict[str, list[str]]:
    """"" (plain files) or a variant's name -> the components whose folder holds such weight files."""
    held: dict[str, list[str]] = {}
    for name in names:
        folder = root / name
        found = set()
        for p in (folder.iterdir() if folder.is_dir() else []):
            if PLAIN_FILE.match(p.name):
                found.add("")
            elif m := VARIANT_FILE.match(p.name):
                found.add(m.group(1) or m.group(2))
        for v in sorted(found):
            held.setdefault(v, []).append(name)
    return dict(sorted(held.items()))


def describe_variants(held: dict[str, list[str]]) -> str:
    return "; ".join(f"{v or 'plain files'}: {', '.join(n)}" for v, n in held.items()) or "no weight files"


def choose_variant(model_path: str | Path, setting: str | None = None) -> str | None:
    """The variant from_pretrained is to load (None: the plain files); raises VariantProblem."""
    root = Path(model_path)
    try:
        spec = json.loads((root / "model_index.json").read_text())
    except (OSError, ValueError):
        return setting or None  # model_problems names the index
    names = [k for k, v in spec.items() if not k.startswith("_") and isinstance(v, list) and v[0] is not None]
    held = held_variants(root, names)
    variants = [v for v in held if v]
    setting = (setting or "").strip()
    if setting and setting != "auto":
        if setting not in variants:
            raise VariantProblem(f"MODEL_VARIANT={setting} but {root} holds no {setting} weight files "
                                 f"({describe_variants(held)}): set MODEL_VARIANT to "
                                 f"{' or '.join(variants) or 'nothing'}"
                                 f"{' or leave it unset for the plain files' if '' in held else ''}")
        return setting
    weighted = {n for comps in held.values() for n in comps}
    if not variants or weighted <= set(held.get("", [])):
        return None
    if len(variants) == 1:
        return variants[0]
    raise VariantProblem(f"{root} lacks plain weight files for some components and holds several variants "
                         f"({describe_variants(held)}): set MODEL_VARIANT to one of {', '.join(variants)}")


def safetensors_problem(path: Path) -> str | None:
    """None when the file's header parses and the data it describes is all there."""
    try:
        safetensors_header.read(path)
    except PermissionError:
        return f"{path} is not readable by this user (fix its mode, e.g. chmod 644)"
    except safetensors_header.HeaderError as exc:
        return f"{exc} (copy it again)" if exc.kind == "truncated" else str(exc)
    except OSError as exc:
        return f"{path} is corrupt: its safetensors header does not parse ({exc})"
    return None


def _readable_problem(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            f.read(1)
    except PermissionError:
        return f"{path} is not readable by this user (fix its mode, e.g. chmod 644)"
    except OSError as exc:
        return f"{path} cannot be read ({exc})"
    return None


def _weight_files(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES)]
    for index in folder.glob("*.index.json"):
        try:
            shards = set(json.loads(index.read_text())["weight_map"].values())
        except (OSError, ValueError, KeyError):
            files.append(index)  # reported below as unreadable or corrupt
            continue
        files.extend(folder / s for s in sorted(shards) if folder / s not in files)
    return files


def component_problems(root: Path, name: str) -> list[str]:
    """Problems of one component folder (unet, vae, text_encoder, tokenizer, scheduler, ...)."""
    folder = root / name
    if not folder.is_dir():
        return [f"{folder}/ is missing (model_index.json lists component '{name}')"]
    files = [p for p in folder.iterdir() if p.is_file()]
    if not files:
        return [f"{folder}/ is empty"]
    problems = [p for f in files if f.suffix == ".json" and (p := _readable_problem(f))]
    if (folder / "config.json").is_file():  # a model: it needs weights
        weights = _weight_files(folder)
        if not weights:
            problems.append(f"{folder}/ has config.json but no weights file ({', '.join(WEIGHT_SUFFIXES)})")
        for w in weights:
            if not w.is_file():
                problems.append(f"{w} is missing (listed in {folder.name}'s index)")
            elif w.suffix == ".safetensors":
                problems.extend(p for p in [safetensors_problem(w)] if p)
            elif p := _readable_problem(w):
                problems.append(p)
    return problems


def model_problems(model_path: str | Path, variant: str | None = None) -> list[str]:
    """Every reason the folder cannot be loaded as a diffusers pipeline (with MODEL_VARIANT ``variant``,
    auto-detected when unset); empty when it looks whole."""
    root = Path(model_path)
    index = root / "model_index.json"
    if not root.is_dir():
        return [f"model folder {root} does not exist"]
    if not index.is_file():
        return [f"{index} is missing: {root} is not a diffusers pipeline folder"]
    try:
        spec = json.loads(index.read_text())
    except PermissionError:
        return [f"{index} is not readable by this user (fix its mode, e.g. chmod 644)"]
    except (OSError, ValueError) as exc:
        return [f"{index} is corrupt ({exc})"]
    problems = manifest_problems(root)
    try:
        choose_variant(root, variant)
    except VariantProblem as exc:
        problems.append(str(exc))
    for name, value in spec.items():
        if name.startswith("_") or not isinstance(value, list) or value[0] is None:
            continue
        problems.extend(component_problems(root, name))
    return problems


def manifest_problems(root: Path) -> list[str]:
    """When the folder was pushed by ``playbook volume push``, every file its manifest lists must be
    there with its size (cheap: stat only); an unfinished push is named too."""
    path = root / MANIFEST_NAME
    if not path.is_file():
        return []
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
    except (OSError, ValueError, KeyError) as exc:
        return [f"{path} is corrupt ({exc}); push the model again"]
    problems = [] if manifest.get("complete") else [
        f"{path} says the last push did not finish: run `playbook volume push` again"]
    for f in files:
        target = root / f["path"]
        if not target.is_file():
            problems.append(f"{target} is missing (the manifest lists {f['size_bytes']} bytes)")
        elif target.stat().st_size != f["size_bytes"]:
            problems.append(f"{target} has {target.stat().st_size} bytes, the manifest says {f['size_bytes']} "
                            "(copy it again)")
    return problems


def unfit_message(model_path: str | Path, problems: list[str]) -> str:
    """The sentence the fitness check and every refused job show: what is wrong and what to do."""
    listed = "\n  - ".join(problems)
    return (
        f"model at MODEL_PATH={model_path} is not usable:\n  - {listed}\n"
        "Fix: copy the complete diffusers pipeline folder (model_index.json and its component folders) "
        "to that path on the network volume, check that the volume is attached to this endpoint "
        "(it mounts at /runpod-volume), or set MODEL_PATH to where the model is."
    )
