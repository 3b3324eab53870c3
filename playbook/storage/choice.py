"""Whether notebook 02 follows notebook 01's placement of the weights, and what overriding it costs.

Why: 01 ranks where the weights should live from the model's bytes (``playbook.weights.placement``) and, for a
small model, recommends baking them into the image; the journey itself fills a network volume (02) that the
endpoint mounts (05), one path that serves every model size. A reader must see, in the model's own numbers,
whether 02 follows 01 or overrides it, why, and how to follow 01 instead.

How: ``volume_choice(analysis.placements())`` with the placement table of the model 02 pushes;
``choice.sentence`` says it and ``choice.to_dict()`` holds the figures the sentence is made of.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from playbook.core import html
from playbook.weights.placement import BAKE, BAKE_LIMIT_GB, VOLUME, PlacementTable

BAKE_INSTEAD = ("to follow 01 instead, build the image with `playbook build --bake-model PATH` and deploy it "
                "without the spec's [model] and [volume]")


@dataclass(frozen=True)
class VolumeChoice:
    """02's placement (always the network volume) against 01's recommendation for the same bytes."""

    recommended: str  # 01's recommendation
    follows: bool  # 02 does what 01 recommends
    size_gb: float
    volume_billed_s: float  # billed seconds per cold start, weights on the volume
    volume_usd_per_month: float
    recommended_billed_s: float
    recommended_usd_per_month: float
    sentence: str

    def to_dict(self) -> dict:
        return asdict(self)

    def _repr_html_(self) -> str:
        return html.paragraph(self.sentence)


def volume_choice(table: PlacementTable) -> VolumeChoice:
    rows = {r.placement: r for r in table.rows}
    vol, rec = rows[VOLUME], rows[table.recommended]
    size_gb = round(table.size_bytes / 1e9, 4)
    if table.recommended == VOLUME:
        sentence = (f"01 recommends a network volume for these {size_gb:g} GB ({table.why.rstrip('.')}) and 02 "
                    "follows it: "
                    f"{vol.billed_s:g} s of each cold start are billed reading the weights, and the volume "
                    f"costs ${vol.standing_usd_per_month:g}/month.")
        return VolumeChoice(VOLUME, True, size_gb, vol.billed_s, vol.standing_usd_per_month, vol.billed_s,
                            vol.standing_usd_per_month, sentence)
    extra_s = round(vol.billed_s - rec.billed_s, 2)
    sentence = (f"01 recommends {rec.placement} for these {size_gb:g} GB: {rec.billed_s:g} s billed per cold start "
                f"and ${rec.standing_usd_per_month:g}/month standing, against {vol.billed_s:g} s and "
                f"${vol.standing_usd_per_month:g}/month with a network volume. 02 fills a network volume anyway: "
                f"it is the journey's one path (02 fills it, 05 mounts it), the one that also serves models over "
                f"{BAKE_LIMIT_GB} GB, where 01 recommends the volume itself, and it keeps the image free of "
                f"weights, so a new model needs no rebuild. Here the override costs "
                f"{'no' if extra_s <= 0 else f'{extra_s:g} s more'} billed time per cold start and "
                f"${vol.standing_usd_per_month:g}/month; " + BAKE_INSTEAD
                + (" (cached models are set in RunPod's console)." if table.recommended != BAKE else "."))
    return VolumeChoice(table.recommended, False, size_gb, vol.billed_s, vol.standing_usd_per_month,
                        rec.billed_s, rec.standing_usd_per_month, sentence)
