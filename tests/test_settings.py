"""playbook.core.settings: every PLAYBOOK_* variable is declared once (default and meaning), read only there,
and listed in the README; model paths and TOML/YAML/JSON files have one helper each."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pytest

from playbook.core import settings
from playbook.core.config import REPO_ROOT, load_mapping
from playbook.core.errors import ConfigError

NAME = re.compile(r"PLAYBOOK_[A-Z][A-Z_]*[A-Z]")
READ = re.compile(r"""(environ\.get|environ\.pop|environ\[|getenv|lookup)\(?\s*["'](PLAYBOOK_[A-Z_]+)""")


def sources():
    for folder in ("playbook", "tests", "scripts", "benchmarks"):
        yield from (p for p in (REPO_ROOT / folder).rglob("*") if p.suffix in (".py", ".sh") and p.is_file()
                    and p.name != "test_settings.py")
    yield REPO_ROOT / "Makefile"


def test_every_variable_is_declared_and_listed_in_the_readme():
    used = {name for path in sources() for name in NAME.findall(path.read_text())}
    assert used - set(settings.VARIABLES) == set(), "declare these in playbook.core.settings.VARIABLES"
    readme = (REPO_ROOT / "README.md").read_text()
    assert [v for v in settings.VARIABLES if f"`{v}`" not in readme] == [], "list these in the README"


def test_only_settings_reads_them():
    readers = {path.relative_to(REPO_ROOT).as_posix() for path in (REPO_ROOT / "playbook").rglob("*.py")
               if READ.search(path.read_text())}
    # launch.py runs in the worker process before playbook is importable (the lifeline protocol)
    assert readers == {"playbook/core/settings.py", "playbook/local/supervision/launch.py"}
    with pytest.raises(KeyError, match="not a playbook setting"):
        settings.env("PLAYBOOK_NOT_DECLARED")


def test_defaults_and_overrides(monkeypatch, tmp_path):
    monkeypatch.delenv("PLAYBOOK_BUILD_DIR", raising=False)
    monkeypatch.delenv("PLAYBOOK_VOLUME_DIR", raising=False)
    monkeypatch.delenv("PLAYBOOK_IMAGE_BUDGET_GB", raising=False)
    assert settings.build_dir() == REPO_ROOT / "build" and settings.image_budget_gb() == 10.0
    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path))
    monkeypatch.setenv("PLAYBOOK_IMAGE_BUDGET_GB", "2.5")
    assert settings.local_volume_dir() == tmp_path / "volume" and settings.image_budget_gb() == 2.5


def test_model_dir_keeps_the_type_of_its_volume():
    assert settings.model_dir() == "/runpod-volume/models/tiny-sd"
    assert settings.model_dir("/runpod-volume/", "sdxl") == "/runpod-volume/models/sdxl"
    assert settings.model_dir(Path("/tmp/vol")) == Path("/tmp/vol/models/tiny-sd")
    assert settings.model_dir(PurePosixPath("/v"), "x") == PurePosixPath("/v/models/x")


def test_load_mapping(tmp_path):
    for name, text in (("a.toml", 'x = 1\n[t]\ny = "z"\n'), ("a.yaml", "x: 1\nt: {y: z}\n"),
                       ("a.json", '{"x": 1, "t": {"y": "z"}}')):
        (tmp_path / name).write_text(text)
        assert load_mapping(tmp_path / name) == {"x": 1, "t": {"y": "z"}}
    (tmp_path / "bad.yml").write_text("x: [1,\n")
    (tmp_path / "list.yaml").write_text("- 1\n")
    (tmp_path / "a.ini").write_text("x=1")
    cases = (("bad.yml", "thing .*bad.yml is not valid YML"), ("list.yaml", "must hold a table"),
             ("a.ini", "use a .toml, .yaml, .yml or .json file"), ("none.toml", "does not exist; make one"))
    for name, message in cases:
        with pytest.raises(ConfigError, match=message):
            load_mapping(tmp_path / name, "thing", fix="make one")
