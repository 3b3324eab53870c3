"""Placement checks made before any write: pools the target offers, stock where the volume is, and hosts
whose driver offers the image's CUDA version. A placement that can never run raises ``PlacementError``."""

from __future__ import annotations

from playbook.api.gpus import Catalog
from playbook.core.errors import ConfigError
from playbook.deploy.spec import DeploymentSpec


class PlacementError(ConfigError):
    """The spec would place workers where they can never run or never reach their volume."""


def check_placement(spec: DeploymentSpec, catalog: Catalog) -> tuple[list[str], list[str], list[str]]:
    """Pools, excludedTypes and notes; raises PlacementError for a placement that can never run."""
    pools, excluded = catalog.resolve(spec.gpus)
    notes: list[str] = []
    unknown = [p for p in pools if p not in catalog.pools]
    if unknown:
        raise PlacementError(f"gpus: pool(s) {unknown} are not offered by this target; "
                             f"known pools: {', '.join(catalog.pools)}")
    data_centers = spec.endpoint_data_centers()
    if spec.volume and spec.volume.data_center not in data_centers:  # spec validation also checks this
        raise PlacementError(f"data_centers {data_centers} exclude the volume's data center "
                             f"{spec.volume.data_center}")
    if catalog.live and data_centers:
        where = [spec.volume.data_center] if spec.volume else data_centers
        stocked = [p for p in pools if any(catalog[p].in_stock(dc) for dc in where)]
        if not stocked:
            alternatives = [p.pool_id for p in catalog.fitting(0) if any(p.in_stock(dc) for dc in where)
                            and p.vram_gb >= min(catalog[q].vram_gb for q in pools)]
            raise PlacementError(
                f"gpus: none of the pools {pools} has stock in {', '.join(where)}, so jobs would stay "
                f"IN_QUEUE forever. Pick pools with stock there ({', '.join(alternatives) or 'none'}), or "
                f"put the volume in a data center that has them (see `playbook gpus --live`).")
        empty = [p for p in pools if p not in stocked]
        if empty:
            notes.append(f"pools {empty} have no stock in {', '.join(where)}; workers will use {stocked}")
    if catalog.live and spec.min_cuda_version:
        notes += _check_cuda(pools, catalog, spec.min_cuda_version)
    return pools, excluded, notes


def _check_cuda(pools: list[str], catalog: Catalog, min_cuda: str) -> list[str]:
    """Refuse when no pool has a host offering CUDA >= ``min_cuda`` (the image's torch build): RunPod would
    never place a worker and jobs would stay IN_QUEUE. Pools the catalog reports no versions for pass."""
    def version(text: str) -> tuple[int, ...]:
        return tuple(int(x) for x in text.split("."))

    lacking = [p for p in pools if catalog[p].cuda_versions
               and not any(version(v) >= version(min_cuda) for v in catalog[p].cuda_versions)]
    if len(lacking) == len(pools):
        offered = sorted({v for p in pools for v in catalog[p].cuda_versions}, key=version)
        raise PlacementError(
            f"gpus: the image needs CUDA {min_cuda} (min_cuda_version, from its torch build), and the hosts "
            f"of pools {pools} offer only CUDA {', '.join(offered)}, so jobs would stay IN_QUEUE forever. "
            "Pick pools whose hosts have a newer driver (see `playbook gpus --live`), or build the image "
            "with a torch for an older CUDA.")
    return [f"pools {lacking} have no host with CUDA {min_cuda}; workers will use the others"] if lacking else []
