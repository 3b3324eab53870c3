"""One journey through the notebooks: a shared spec file and a state file each notebook reads and extends.

Why: the notebooks are one story, not islands. 01 records its analysis (VRAM need, fitting pools,
container disk), which 02 sizes the spec from; 02 writes the spec it chose (GPU pool, network volume)
that 05 deploys; 04 records the digest it pushed, which 05 pins the endpoint to; 05 records the endpoint
that 06, 07 and 08 send jobs to; 08 tears down what the journey made (``teardown``) and forgets it, so a
rerun starts fresh. No notebook creates what an earlier one already made. Each
notebook still runs alone: with no journey yet, ``load_spec()`` returns the default spec file and
``get()`` its default, so a notebook falls back to making what it needs itself.

Files, under ``<build>/journey/``: ``spec.yaml`` (a DeploymentSpec, what ``playbook plan|apply`` read)
and ``state.json``, keyed by target name (``{"local": {...}, "runpod": {...}}``) so that ids made on the
local platform never leak into a run against RunPod.
"""

from __future__ import annotations

import json
from pathlib import Path

from playbook.api import targets
from playbook.api.control import ControlClient
from playbook.core import settings
from playbook.core.config import DEMO_MODEL_NAME, REPO_ROOT, build_dir
from playbook.core.errors import HttpError
from playbook.core.html import code, paragraph
from playbook.deploy import converge, janitor
from playbook.deploy.changes import ApplyResult
from playbook.deploy.spec import DeploymentSpec
from playbook.deploy.spec import load_spec as _load_spec

DEFAULT_SPEC = REPO_ROOT / "deploy" / "demo.toml"


def journey_dir() -> Path:
    return build_dir() / "journey"


def spec_path() -> Path:
    return journey_dir() / "spec.yaml"


def state_path() -> Path:
    return journey_dir() / "state.json"


def load_spec(spec_file: str | Path | None = None) -> DeploymentSpec:
    """``spec_file`` when given; else the journey's spec (what 02 wrote); else deploy/demo.toml."""
    if spec_file:
        return _load_spec(spec_file)
    return _load_spec(spec_path() if spec_path().is_file() else DEFAULT_SPEC)


def save_spec(spec: DeploymentSpec) -> Path:
    return spec.save(spec_path())


def _all() -> dict:
    path = state_path()
    return json.loads(path.read_text()) if path.is_file() else {}


def state(target: str) -> dict:
    """Everything recorded so far for one target ("local" or "runpod")."""
    return dict(_all().get(target, {}))


def get(target: str, key: str, default=None):
    return state(target).get(key, default)


def record(target: str, **values) -> dict:
    """Add or replace values for a target (JSON-able: ids, names, references; never secrets)."""
    data = _all()
    data.setdefault(target, {}).update(values)
    state_path().parent.mkdir(parents=True, exist_ok=True)
    state_path().write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return data[target]


def forget(target: str) -> None:
    """Drop one target's state (e.g. a new local platform: the old one's ids are gone with it)."""
    data = _all()
    if data.pop(target, None) is not None:
        state_path().write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def record_analysis(target: str, analysis, headroom: float) -> dict:
    """What notebook 01 found (``playbook.weights.analyze.Analysis``), for 02 to size the spec from: the model folder
    analysed, its VRAM need, the pools that hold it with ``headroom``, the volume and container disk sizes."""
    return record(target, analysis={
        "model": str(Path(analysis.path).resolve()), "dtype": analysis.dtype, "variant": analysis.variant,
        "width": analysis.width, "height": analysis.height, "batch": analysis.batch, "headroom": headroom,
        "vram_gb": analysis.vram_gb, "volume_gb": analysis.volume_gb,
        "container_disk_gb": analysis.container_disk_gb["network_volume"],  # weights on the volume, not baked
        "fitting_pools": [p.pool_id for p in analysis.fitting_pools(headroom=headroom)]})


def analysis_for(target: str, model_folder: str | Path, dtype: str | None = None) -> dict | None:
    """01's recorded analysis when it was of this model folder at this load dtype; else None (01 has not
    run, or analysed another model: the caller analyses the model itself)."""
    found = get(target, "analysis")
    if not found or found.get("model") != str(Path(model_folder).resolve()):
        return None
    return found if (dtype or None) == found.get("dtype") else None


def sizes(target: str, analysis) -> dict:
    """What 02 sizes the spec from: 01's recorded analysis when it was of the same model folder at the same
    load dtype (its resolution and batch may be other than the defaults), else ``analysis`` (the caller's
    own). VRAM need in GB, network-volume and container-disk sizes in GB, and which notebook they came from."""
    found = analysis_for(target, analysis.path, analysis.dtype)
    if found:
        return {"source": "01_analyze_model", "vram_gb": found["vram_gb"], "volume_gb": found["volume_gb"],
                "container_disk_gb": found["container_disk_gb"]}
    return {"source": "this notebook", "vram_gb": analysis.vram_gb, "volume_gb": analysis.volume_gb,
            "container_disk_gb": analysis.container_disk_gb["network_volume"]}


def monitoring_spec(workers_max: int = 2, idle_timeout_s: float = 2.0, prefetch: bool = True,
                    queue_delay_s: float = 1.0) -> DeploymentSpec:
    """The journey's spec (as 05 left it: its image and its release) tuned for a burst (06) and the billed
    replay (07): at most ``workers_max`` workers, another one started once a job has waited ``queue_delay_s``
    (QUEUE_DELAY scaling, so that RunPod accepts ``idle_timeout_s``: v2 refuses idleTimeout with REQUEST_COUNT),
    each stopped after ``idle_timeout_s`` idle, the next job taken while one runs. 06 and 07 apply the same,
    so the second finds the endpoint unchanged."""
    base = load_spec()
    return base.with_changes(
        workers={"min": 0, "max": workers_max, "idle_timeout_s": max(1, round(idle_timeout_s))},
        scaler={"type": "QUEUE_DELAY", "value": queue_delay_s},
        env={**base.env, "WORKER_PREFETCH": "1" if prefetch else "0"})


CLEAN_UP = ("local", "always", "never")


def teardown(client, clean_up: str = "local") -> janitor.SweepReport:
    """Delete what the journey recorded for the client's target (its endpoint, template and network volume,
    by the ids in ``state``; nothing else, not even another resource of the same name), endpoints first so
    the volume is no longer attached; then forget the target's state, so a rerun starts fresh.

    ``clean_up``: "local" deletes on the local platform only (on RunPod the resources are listed as kept: a
    network volume bills $/GB-month while it exists, so decide there), "always" on either target, "never"
    lists them. Returns each resource with its action: "delete", "keep", or "absent" (recorded, already gone)."""
    from playbook.core.errors import ConfigError

    if clean_up not in CLEAN_UP:
        raise ConfigError(f"clean_up must be one of {list(CLEAN_UP)}, not {str(clean_up)[:40]!r}")
    target = client.target.name
    delete = clean_up == "always" or (clean_up == "local" and target == "local")
    recorded = state(target)
    listed = {"endpoint": client.list_endpoints, "template": client.list_templates,
              "network volume": client.list_network_volumes}
    items = []
    for kind, key in (("endpoint", "endpoint_id"), ("template", "template_id"), ("network volume", "volume_id")):
        resource_id = recorded.get(key)
        if not resource_id:
            continue
        found = next((r for r in listed[kind]() if r["id"] == resource_id), None)
        items.append(janitor.Stale(kind, resource_id, found["name"] if found else "-", None,
                                   "absent" if not found else ("delete" if delete else "keep")))
    if delete:
        janitor.delete_items(client, items)
        forget(target)
    return janitor.SweepReport(tuple(items), delete, title=f"the journey's resources on {target}")


def reset() -> None:
    """Forget the journey (spec and state); the resources themselves are not touched."""
    for path in (spec_path(), state_path()):
        path.unlink(missing_ok=True)


class Journey:
    """What the journey holds for a target, as one readable line (``summary``): the model, its pool, the
    volume, the image (digest shortened), the endpoint and its release; the full record is ``values``
    (and ``state.json``)."""

    def __init__(self, target: str):
        self.target = target
        self.values = state(target)

    def parts(self) -> list[str]:
        """The summary's phrases, in the journey's order, each only once the notebook that makes it has run."""
        v = self.values
        parts = []
        analysis = v.get("analysis") or {}
        model = Path(v.get("model_dir") or analysis.get("model") or "").name
        if model or analysis:
            need = f" ({analysis['vram_gb']:.2f} GB VRAM, {analysis['dtype']})" if "vram_gb" in analysis else ""
            parts.append(f"model {model or DEMO_MODEL_NAME}{need}")
        if v.get("gpu_pool"):
            parts.append(f"pool {v['gpu_pool']}")
        if v.get("volume_id"):
            parts.append(f"volume {v.get('volume_name') or '-'} ({v['volume_id']})")
        if v.get("image"):
            parts.append(f"image {short_image(v['image'])}")
        if v.get("endpoint_id"):
            release = (v.get("release") or {}).get("version")
            parts.append(f"endpoint {v.get('endpoint_name') or '-'} ({v['endpoint_id']})"
                         + (f", release {release}" if release else ""))
        return parts

    def summary(self) -> str:
        return f"journey ({self.target}): " + (" · ".join(self.parts()) or "nothing recorded yet")

    def _repr_html_(self) -> str:
        spec = spec_path() if spec_path().is_file() else DEFAULT_SPEC
        return paragraph(self.summary()) + paragraph("spec: ", code(_relative(spec)), ", state: ",
                                                     code(_relative(state_path())))

    def __repr__(self) -> str:
        return self.summary()


def short_image(reference: str, keep: int = 12) -> str:
    """An image reference without its registry host, its digest cut to ``keep`` hex digits:
    ``127.0.0.1:5000/worker@sha256:0637ef43cb44e7...`` reads ``worker@sha256:0637ef43cb44…``."""
    name, at, digest = reference.partition("@")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):  # a registry host, not a namespace
        name = rest
    if not at:
        return name
    algo, _, hexes = digest.partition(":")
    return f"{name}@{algo}:{hexes[:keep]}…" if len(hexes) > keep else f"{name}@{digest}"


def _relative(path: Path) -> str:
    """``path`` relative to the repository (deploy/demo.toml, build/journey/spec.yaml) or else to the build
    folder's parent: short enough to read, enough to find."""
    for base in (REPO_ROOT, build_dir().parent):
        if Path(path).is_relative_to(base):
            return str(Path(path).relative_to(base))
    return str(path)


def show(target: str) -> Journey:
    """The journey so far for ``target``, as one line (a notebook's last cell shows it)."""
    return Journey(target)


def target_name() -> str:
    """The target a notebook without a client means: PLAYBOOK_TARGET when set (``playbook notebooks --target``),
    else "runpod" when RUNPOD_API_KEY is set, else "local" (``config.target_name``)."""
    from playbook.core.config import target_name as configured

    return configured()


def place_model(volume_folder: Path, model_dir: str | Path | None = None) -> Path:
    """Put a diffusers folder on a local volume under ``models/<folder name>`` (bring your own model), or
    the demo model under ``models/tiny-sd`` when ``model_dir`` is empty; returns where it is now."""
    import shutil

    from playbook.core.errors import ConfigError
    from playbook.weights.demo_model import ensure_demo_model

    if not model_dir:
        return ensure_demo_model(settings.model_dir(Path(volume_folder)))
    source = Path(model_dir).expanduser().resolve()
    if not (source / "model_index.json").is_file():
        raise ConfigError(f"model_dir {str(model_dir)[:200]!r} is not a diffusers pipeline folder (no "
                          "model_index.json): give the folder that `save_pretrained` wrote")
    target = settings.model_dir(Path(volume_folder), source.name)
    if target.resolve() != source and not (target / "model_index.json").is_file():
        shutil.copytree(source, target, dirs_exist_ok=True)
    return target


def model_name(model_dir: str | Path | None = None) -> str:
    """The model's folder name on a volume: the user's folder name, or the demo model's."""
    return Path(model_dir).name if model_dir else DEMO_MODEL_NAME


def model_dest(model_dir: str | Path | None = None) -> str:
    """Where the model goes on the volume, relative to its root (the S3 key prefix): models/<name>."""
    return settings.model_dir("", model_name(model_dir)).lstrip("/")


def model_path_on_volume(model_dir: str | Path | None = None) -> str:
    """Where workers find the model: /runpod-volume/models/<name> (tiny-sd for the demo model)."""
    return settings.model_dir(settings.VOLUME_MOUNT, model_name(model_dir))


def model_env(env: dict, model_dir: str | Path | None, variant: str | None) -> dict:
    """The endpoint's env for the model pushed: MODEL_PATH on the volume and, when the files pushed are a
    variant's, MODEL_VARIANT (an older MODEL_VARIANT is dropped: the worker loads what was pushed)."""
    out = {k: v for k, v in env.items() if k != "MODEL_VARIANT"}
    out["MODEL_PATH"] = model_path_on_volume(model_dir)
    return {**out, "MODEL_VARIANT": variant} if variant else out


def apply(spec: DeploymentSpec, client: ControlClient, progress: bool = True) -> tuple[ApplyResult, bool]:
    """Apply the journey's spec (with a notebook's own changes, e.g. its scaling) and record the endpoint.

    The endpoint an earlier notebook made (05) is found by name and updated in place, a new release, never
    a second endpoint; only when the journey has none (a notebook run alone) is it created, with its volume.
    On the local platform the journey's model is put on the volume when it is not there yet. Returns the
    result and whether the endpoint is the one the journey had already recorded."""
    name = client.target.name
    known = get(name, "endpoint_id")
    result = converge.apply(spec, client, progress=progress)
    if name == "local" and result.volume_id:
        place_model(targets.local_volume_path(client, result.volume_id), get(name, "model_dir"))
    record(name, endpoint_id=result.endpoint_id, endpoint_name=spec.name,
           **({"volume_id": result.volume_id, "volume_name": result.volume["name"]} if result.volume else {}))
    return result, known == result.endpoint_id


def endpoint(client: ControlClient) -> tuple[dict, bool]:
    """The endpoint the journey recorded on this target, as it is (for notebooks that only send it jobs or
    diagnose it); when it has none there, ``apply`` of the journey's spec makes it. Returns the
    endpoint and whether it is the one the journey had."""
    known = get(client.target.name, "endpoint_id")
    if known:
        try:
            return client.get_endpoint(known), True
        except HttpError as exc:  # recorded on an earlier platform, gone with it
            if exc.status != 404:
                raise
    result, _ = apply(load_spec(), client)
    return result.endpoint, False
