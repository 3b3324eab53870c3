from __future__ import annotations

import json

import pytest

from playbook.core import config
from playbook.core.errors import ConfigError
from playbook.core.secrets import Secret, lookup, read_dotenv


def test_secret_never_shows_itself():
    s = Secret("rpa_SUPERSECRET")
    assert "SUPERSECRET" not in repr(s) and "SUPERSECRET" not in str(s) and "SUPERSECRET" not in s._repr_html_()
    assert s.reveal() == "rpa_SUPERSECRET"


def test_dotenv_and_environment_order(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text('# comment\nexport RUNPOD_API_KEY="from-file"\nOTHER=1\n')
    assert read_dotenv(env) == {"RUNPOD_API_KEY": "from-file", "OTHER": "1"}
    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)
    assert lookup("RUNPOD_API_KEY", env).reveal() == "from-file"
    monkeypatch.setenv("RUNPOD_API_KEY", "from-env")
    assert lookup("RUNPOD_API_KEY", env).reveal() == "from-env"


def test_target_is_runpod_with_a_key_and_local_without(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNPOD_API_KEY", "k")
    target = config.resolve_target()
    assert target.name == "runpod" and target.control_api_url == "https://api.runpod.io/v2"
    assert target.job_api_url == "https://api.runpod.ai/v2"
    monkeypatch.delenv("RUNPOD_API_KEY")
    monkeypatch.setenv("PLAYBOOK_STATE_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="playbook local up"):
        config.resolve_target()
    (tmp_path / "local-platform.json").write_text(json.dumps(
        {"job_api_url": "http://127.0.0.1:1/v2", "control_api_url": "http://127.0.0.1:1/v2", "api_key": "x"}))
    assert config.resolve_target().name == "local"
    with pytest.raises(ConfigError, match="RUNPOD_API_KEY"):
        config.resolve_target("runpod")
    with pytest.raises(ConfigError, match="'local', 'runpod'"):
        config.resolve_target("cloud")


def test_runpod_addresses_follow_the_sdk_variables(monkeypatch, tmp_path):
    import inspect
    import re

    import runpod
    import runpod.api.graphql as sdk_graphql

    monkeypatch.chdir(tmp_path)  # no .env here
    for name in config.RUNPOD_ADDRESSES:
        monkeypatch.delenv(name, raising=False)
    target = config.runpod_target(Secret("k"))
    # the variables and their defaults are the runpod SDK's own, read from its source
    sdk = {name: default for name, default in re.findall(r'environ\.get\(\s*"(RUNPOD_\w+_BASE_URL)",\s*"([^"]+)"',
                                                          inspect.getsource(runpod) + inspect.getsource(sdk_graphql))}
    assert sdk == {"RUNPOD_ENDPOINT_BASE_URL": target.job_api_url,
                   "RUNPOD_API_BASE_URL": target.control_api_url.removesuffix("/v2")}
    assert target.s3_endpoint_url("EU-RO-1") == "https://s3api-eu-ro-1.runpod.io/"

    monkeypatch.setenv("RUNPOD_API_BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("RUNPOD_ENDPOINT_BASE_URL", "http://127.0.0.1:9/v2/")
    monkeypatch.setenv("RUNPOD_S3_ENDPOINT_URL", "http://127.0.0.1:9/s3api/{dc}")
    target = config.runpod_target(Secret("k"))
    assert (target.control_api_url, target.job_api_url) == ("http://127.0.0.1:9/v2", "http://127.0.0.1:9/v2")
    assert target.s3_endpoint_url("US-KS-2") == "http://127.0.0.1:9/s3api/us-ks-2"

    monkeypatch.delenv("RUNPOD_ENDPOINT_BASE_URL")
    (tmp_path / ".env").write_text("RUNPOD_ENDPOINT_BASE_URL=https://proxy.example/v2\n")
    assert config.runpod_target(Secret("k")).job_api_url == "https://proxy.example/v2"  # .env too

    monkeypatch.setenv("RUNPOD_API_BASE_URL", "https://api.runpod.io/v2")
    with pytest.raises(ConfigError, match="RUNPOD_API_BASE_URL is the API host without /v2"):
        config.runpod_target(Secret("k"))
    monkeypatch.setenv("RUNPOD_API_BASE_URL", "api.runpod.io")
    with pytest.raises(ConfigError, match="RUNPOD_API_BASE_URL must be an http\\(s\\) URL"):
        config.runpod_target(Secret("k"))


def test_local_target_s3_endpoint_is_beside_its_control_api():
    target = config.Target("local", "http://127.0.0.1:5/v2", "http://127.0.0.1:5/v2", Secret("k"))
    assert target.s3_endpoint_url("EU-RO-1") == "http://127.0.0.1:5/s3api/eu-ro-1"


def test_runpod_addresses_are_listed_in_the_readme():
    readme = (config.REPO_ROOT / "README.md").read_text()
    rows = {name: f"| `{name}` | {default} |" for name, (default, _) in config.RUNPOD_ADDRESSES.items()}
    assert [name for name, row in rows.items() if row not in readme] == []
