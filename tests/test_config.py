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
