"""Objects of the local S3 API as files of a volume's folder, with one ETag and the stored headers of each.

Why: a network volume is a file system that workers mount at ``/runpod-volume``; S3 sees the same
files as objects. Three things S3 has and a file system does not are kept here, outside the volume
(workers never see them): each object's ETag (MD5 for a single PUT, S3's ``md5-of-md5s-N`` for a
multipart upload, as it was answered when written), the headers S3 stores with an object
(``Content-Type``, ``x-amz-meta-*`` and the other presentation headers), and which folders were made as
``dir/`` objects. A record holds only while the file's size and modification time are those it was
written with; a file a worker changed gets the MD5 of its bytes and no stored headers.

What a file system cannot store is refused with a clear S3 error instead of answering 500: a key
naming a folder where a file is, or a file where a folder is (``KeyConflict``, 409), and keys whose
segments would alias other paths (``InvalidArgument``) or exceed the file system's 255-byte names.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from playbook.core.config import build_dir
from playbook.core.excerpts import excerpt
from playbook.local.servers.s3_support import S3Error

EMPTY_ETAG = '"d41d8cd98f00b204e9800998ecf8427e"'  # MD5 of no bytes: S3's ETag of a dir/ object
STORED_HEADERS = ("Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language", "Cache-Control",
                  "Expires")
MAX_KEY_BYTES, MAX_NAME_BYTES = 1024, 255  # S3's key limit; the file system's name limit


def records_dir(volume_id: str) -> Path:
    """Where a volume's object records (ETags, stored headers, dir/ objects) are kept, outside the volume."""
    return build_dir() / "s3-objects" / volume_id


def md5_etag(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return f'"{digest.hexdigest()}"'


def stored_headers(headers) -> dict[str, str]:
    """The request headers S3 keeps with an object and answers on GET and HEAD."""
    kept = {h: headers[h] for h in STORED_HEADERS if h in headers}
    kept.update({h.lower(): v for h, v in headers.items() if h.lower().startswith("x-amz-meta-")})
    return kept


class Store:
    """One volume's objects: ``folder`` holds the files, ``records`` (outside it) ETags and headers."""

    def __init__(self, volume_id: str, folder: Path):
        self.folder = folder
        self.records = records_dir(volume_id)

    # -- keys ---------------------------------------------------------------------------------------

    def path(self, key: str) -> Path:
        """The file (or, for ``dir/`` keys, the folder) a key names; refuses keys a file system would alias."""
        if len(key.encode()) > MAX_KEY_BYTES:
            raise S3Error(400, "KeyTooLongError", f"Your key is longer than {MAX_KEY_BYTES} bytes.")
        segments = key.removesuffix("/").split("/")
        if not key or "\x00" in key or any(s in ("", ".", "..") for s in segments):
            raise S3Error(400, "InvalidArgument", f"The key {excerpt(key, 200)} cannot name a file on a network "
                          "volume: keys are paths there, so empty, '.' and '..' segments and a leading '/' are "
                          "refused.")
        long = [s for s in segments if len(s.encode()) > MAX_NAME_BYTES]
        if long:
            raise S3Error(400, "KeyTooLongError", f"The key segment {excerpt(long[0], 60)} is longer than "
                          f"{MAX_NAME_BYTES} bytes, the longest file name a network volume can store.")
        return self.folder.joinpath(*segments)

    def check_writable(self, key: str) -> Path:
        """The path for a new object at ``key``; KeyConflict when a file or folder stands in the way."""
        path = self.path(key)
        for parent in reversed(path.relative_to(self.folder).parents):
            where = self.folder / parent
            if where != self.folder and where.exists() and not where.is_dir():
                raise self._conflict(key, f"{parent.as_posix()} is a file, so it cannot be a folder")
        if key.endswith("/") and path.exists() and not path.is_dir():
            raise self._conflict(key, f"{key[:-1]} is a file")
        if not key.endswith("/") and path.is_dir():
            raise self._conflict(key, f"{key} is a folder (delete what is under {key}/ first)")
        return path

    @staticmethod
    def _conflict(key: str, why: str) -> S3Error:
        return S3Error(409, "KeyConflict", f"The key {excerpt(key, 200)} cannot be stored: {why}. A network "
                       "volume is a file system, where a path is either a file or a folder.")

    def exists(self, key: str) -> Path | None:
        """The object's path if ``key`` names an object: a file, or a folder listed as ``dir/`` (empty, or
        made as a ``dir/`` object)."""
        path = self.path(key)
        if key.endswith("/"):
            return path if path.is_dir() and (self._record(key) or not any(path.iterdir())) else None
        return path if path.is_file() else None

    # -- records ------------------------------------------------------------------------------------

    def _record_path(self, key: str) -> Path:
        return self.records / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

    def _record(self, key: str) -> dict | None:
        try:
            return json.loads(self._record_path(key).read_text())
        except (OSError, ValueError):
            return None

    def _current(self, key: str, path: Path) -> dict | None:
        record = self._record(key)
        if record is None or key.endswith("/"):
            return record
        st = path.stat()
        return record if (record.get("size"), record.get("mtime_ns")) == (st.st_size, st.st_mtime_ns) else None

    def remember(self, key: str, path: Path, etag: str, headers: dict[str, str]) -> None:
        st = path.stat()
        record = {"key": key, "etag": etag, "size": 0 if key.endswith("/") else st.st_size,
                  "mtime_ns": st.st_mtime_ns, "headers": headers}
        self.records.mkdir(parents=True, exist_ok=True)
        tmp = self._record_path(key).with_suffix(f".tmp{os.getpid()}-{time.monotonic_ns()}")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, self._record_path(key))

    def forget(self, key: str) -> None:
        self._record_path(key).unlink(missing_ok=True)

    def etag(self, key: str, path: Path) -> str:
        """The object's one ETag: as answered when it was written, or the MD5 of a file changed since."""
        if key.endswith("/"):
            return EMPTY_ETAG
        record = self._current(key, path)
        if record is None:
            etag = md5_etag(path)
            self.remember(key, path, etag, {})
            return etag
        return record["etag"]

    def headers(self, key: str, path: Path) -> dict[str, str]:
        record = self._current(key, path)
        return dict(record["headers"]) if record else {}

    def modified_s(self, key: str, path: Path) -> float:
        record = self._record(key) if key.endswith("/") else None
        return record["mtime_ns"] / 1e9 if record else path.stat().st_mtime

    # -- removal ------------------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        """Delete the object ``key`` (a missing one is no error, as on S3), then the folders above it that
        only held it and were not made as ``dir/`` objects."""
        path = self.exists(key)
        if path is None:
            return
        self.forget(key)
        if key.endswith("/"):
            if not any(path.iterdir()):
                path.rmdir()
        else:
            path.unlink()
        self.prune(path.parent)

    def prune(self, folder: Path) -> None:
        while folder != self.folder and self.folder in folder.parents:
            rel = folder.relative_to(self.folder).as_posix() + "/"
            if self._record(rel) is not None or any(folder.iterdir()):
                return
            folder.rmdir()
            folder = folder.parent
