"""The header of a safetensors file, read and checked against the file's size: the one reader that both the
model analysis (``playbook.weights.analyze``) and the worker's fitness check (``worker/imagegen/fitness.py``)
use, so that they agree on what a complete file is.

A safetensors file is an 8-byte little-endian header length, a JSON header (tensor name -> dtype, shape,
data_offsets), then the tensors' bytes. safetensors itself refuses a header longer than 100,000,000 bytes.

This file has no dependencies beyond the standard library, because ``worker/imagegen/safetensors_header.py``
is generated from it by ``playbook contract --write`` (the worker image must not import ``playbook``).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit on the JSON header (MAX_HEADER_SIZE in its source)


class HeaderError(ValueError):
    """Not a complete safetensors file; ``kind`` is short | not_safetensors | not_json | truncated."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def read(path: Path | str) -> tuple[dict, int]:
    """(header, header length in bytes); raises ``HeaderError`` saying what is wrong (OSError, such as a file
    this user may not read, passes through)."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise HeaderError("short", f"{path} is truncated: {size} bytes, too short for a safetensors header")
        (length,) = struct.unpack("<Q", head)
        if length > MAX_HEADER_BYTES or 8 + length > size:
            raise HeaderError("not_safetensors", f"{path} is truncated or not safetensors: its header claims "
                                                 f"{length} bytes but the file has {size}")
        raw = f.read(length)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HeaderError("not_json", f"{path} is corrupt: its safetensors header does not parse ({exc})") from None
    if not isinstance(header, dict):
        raise HeaderError("not_json", f"{path} is corrupt: its safetensors header is not a JSON object")
    needed = 8 + length + max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    if size < needed:
        raise HeaderError("truncated", f"{path} is truncated: {size} bytes on disk, its header needs {needed}")
    return header, length
