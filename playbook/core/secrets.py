"""Secrets that never show themselves.

Keys come from the environment or a ``.env`` file in the working directory (environment wins), never
from notebook parameters. ``Secret`` masks itself in repr, str and rich displays so that printing a
settings object, a notebook cell or a log line cannot leak it.
"""

from __future__ import annotations

import os
from pathlib import Path

# Every secret the playbook reads. The notebook runner refuses an executed notebook that shows one of
# their values, and local worker processes never inherit them.
KNOWN_SECRETS = ("RUNPOD_API_KEY", "REGISTRY_PASSWORD", "DOCKER_PASSWORD", "RUNPOD_S3_ACCESS_KEY_ID",
                 "RUNPOD_S3_SECRET_ACCESS_KEY")


class Secret:
    """A string that hides its value unless asked with ``reveal()``."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__

    def _repr_html_(self) -> str:
        from playbook.core.html import code

        return code("**********")


def read_dotenv(path: Path | str = ".env") -> dict[str, str]:
    """Parse KEY=VALUE lines of a .env file (comments, blank lines, `export` and quotes allowed)."""
    values: dict[str, str] = {}
    path = Path(path)
    if not path.is_file():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def lookup(name: str, dotenv: Path | str = ".env") -> Secret | None:
    """The secret called ``name``: from the environment first, then from the .env file; None if absent."""
    value = os.environ.get(name) or read_dotenv(dotenv).get(name)
    return Secret(value) if value else None
