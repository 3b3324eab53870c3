"""The GPU pool catalog: the dated table of docs/runpod-facts.md §4, name resolution, cheapest-that-fits, user
overrides, and the live catalog parsed from RunPod's /v2/catalog/gpus shape."""

from __future__ import annotations

import pytest

from playbook.api import gpus
from playbook.core.errors import ConfigError


def test_default_table_matches_design_with_provenance():
    cat = gpus.default_catalog()
    expected = {"AMPERE_16": (16, 0.00016), "AMPERE_24": (24, 0.00019), "ADA_24": (24, 0.00031),
                "AMPERE_48": (48, 0.00034), "ADA_48_PRO": (48, 0.00053), "AMPERE_80": (80, 0.00076),
                "ADA_80_PRO": (80, 0.00116), "HOPPER_141": (141, 0.00155)}
    for pool, (vram, price) in expected.items():
        assert (cat[pool].vram_gb, cat[pool].usd_per_s) == (vram, price)
    assert {"ADA_32_PRO", "BLACKWELL_96", "BLACKWELL_180"} <= set(cat.pools)
    assert cat.prices_as_of == "2026-06" and "2026-06-29" in cat.source
    assert "prices as of 2026-06" in cat.table() and "<table>" in cat._repr_html_()


def test_cheapest_pools_that_fit_with_headroom():
    cat = gpus.default_catalog()
    assert cat.cheapest(7) == ["AMPERE_16", "AMPERE_24"]
    assert cat.cheapest(14) == ["AMPERE_24", "ADA_24"]  # 14 GB * 1.2 = 16.8 GB: AMPERE_16 is too small
    assert cat.cheapest(14, headroom=0) == ["AMPERE_16", "AMPERE_24"]
    assert cat.cheapest(60, n=1) == ["AMPERE_80"]
    with pytest.raises(ConfigError, match="largest is 180 GB"):
        cat.cheapest(200)


def test_gpu_names_map_to_pools_and_excluded_types():
    cat = gpus.default_catalog()
    assert cat.pool_of("RTX 4090") == ("ADA_24", "NVIDIA GeForce RTX 4090")
    assert cat.pool_of("ada_24") == ("ADA_24", None)
    pools, excluded = cat.resolve(["L40S", "AMPERE_16"])
    assert pools == ["ADA_48_PRO", "AMPERE_16"]
    assert excluded == ["NVIDIA L40", "NVIDIA RTX 6000 Ada Generation"]  # only the L40S of its pool
    assert cat.pool_of("A100") == ("AMPERE_80", None)  # every A100 type: the whole pool
    assert cat.pool_of("4090") == ("ADA_24", "NVIDIA GeForce RTX 4090")
    with pytest.raises(ConfigError, match="ambiguous"):
        cat.pool_of("RTX")
    with pytest.raises(ConfigError, match="unknown GPU 'RTX 9999'"):
        cat.pool_of("RTX 9999")


def test_user_overrides_prices_and_adds_pools(tmp_path, monkeypatch):
    path = tmp_path / "prices.toml"
    path.write_text('prices_as_of = "2026-11-01"\nsource = "my invoice"\n[pools.ADA_24]\nusd_per_s = 0.0001\n'
                    '[pools.MY_POOL]\nusd_per_s = 0.00001\nvram_gb = 40\ngpu_types = ["Some GPU"]\n')
    monkeypatch.setenv("PLAYBOOK_GPU_CATALOG", str(path))
    cat = gpus.load_catalog()
    assert cat["ADA_24"].usd_per_s == 0.0001 and cat.prices_as_of == "2026-11-01" and cat.source == "my invoice"
    assert cat.cheapest(20) == ["MY_POOL", "ADA_24"]  # ADA_24 now undercuts AMPERE_24
    path.write_text("[pools.ADA_24]\nprice = 1\n")
    with pytest.raises(ConfigError, match="unknown field"):
        gpus.load_catalog(path)


def test_live_catalog_from_the_spec_example():
    # the 200 example of GET /v2/catalog/gpus in rest-v2-beta.openapi.json, plus a second type
    api = [{"id": "NVIDIA GeForce RTX 4090", "name": "RTX 4090", "pool": "ADA_24", "manufacturer": "NVIDIA",
            "memory": 24, "secure": True, "community": True, "price": {"secure": 0.44, "community": 0.31,
                                                                        "serverless": 1.1},
            "maxCount": {"secure": 8, "community": 4}, "availability": "HIGH",
            "dataCenters": [{"id": "US-KS-2", "name": "US Kansas 2", "availability": "HIGH"}],
            "cudaVersions": [{"version": "12.8", "available": True}, {"version": "11.8", "available": False}]},
           {"id": "NVIDIA A40", "name": "A40", "pool": None, "manufacturer": "NVIDIA", "memory": 48,
            "secure": True, "community": False, "price": {"secure": 0.4, "community": 0},
            "maxCount": {"secure": 8, "community": 0}}]
    cat = gpus.from_api(api)
    assert list(cat.pools) == ["ADA_24"] and cat.live
    pool = cat["ADA_24"]
    assert pool.usd_per_s == pytest.approx(1.1 / 3600) and pool.cuda_versions == ("12.8",)
    assert pool.in_stock("US-KS-2") and not pool.in_stock("EU-RO-1")
    assert cat.cheapest(10, data_center="US-KS-2") == ["ADA_24"]
    with pytest.raises(ConfigError, match="with stock in EU-RO-1"):
        cat.cheapest(10, data_center="EU-RO-1")
