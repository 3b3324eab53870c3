"""PutObject, CopyObject and DeleteObject of the local S3 API, and the body handling they share with
UploadPart: bodies stream to a staging file outside the volume, are checked (size limit, declared
SHA-256, Content-MD5, ``x-amz-checksum-*``), and land in one rename, so a refused or broken upload changes nothing.

Conditional writes are served as S3 serves them: ``If-None-Match: *`` refuses to overwrite (412), and
``If-Match: <etag>`` writes only over that version (412 on another ETag, 404 when there is no object).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import shutil
import time
import uuid
import zlib
from pathlib import Path
from urllib.parse import unquote

from aiohttp import web

from playbook.core.excerpts import excerpt
from playbook.local.servers.control_api.volumes import volume_folder
from playbook.local.servers.s3_store import EMPTY_ETAG, Store, md5_etag, stored_headers
from playbook.local.servers.s3_support import S3Error, tag, xml_response

CHUNK = 1 << 20
UNSERVED_CHECKSUMS = ("crc32c", "crc64nvme")


def stage(state) -> Path:
    state.uploads_dir().mkdir(parents=True, exist_ok=True)
    return state.uploads_dir() / f"put-{uuid.uuid4().hex}"


class _Checksum:
    """The ``x-amz-checksum-<algorithm>`` a request declares, checked against the bytes received."""

    def __init__(self, headers):
        declared = [(h.lower().removeprefix("x-amz-checksum-"), v) for h, v in headers.items()
                    if h.lower().startswith("x-amz-checksum-") and h.lower() not in ("x-amz-checksum-algorithm",
                                                                                      "x-amz-checksum-type")]
        self.name, self.value = declared[0] if declared else ("", "")
        if self.name in UNSERVED_CHECKSUMS:
            raise S3Error(501, "NotImplemented", f"x-amz-checksum-{self.name} is not served here: create the "
                          "client with request_checksum_calculation='when_required' (RunPod's support for boto3's "
                          "new default checksums is unknown).")
        if self.name and self.name not in ("crc32", "sha1", "sha256"):
            raise S3Error(400, "InvalidRequest", f"Unknown checksum x-amz-checksum-{self.name[:40]}.")
        self.crc, self.hash = 0, hashlib.new(self.name) if self.name in ("sha1", "sha256") else None

    def update(self, chunk: bytes) -> None:
        if self.hash is not None:
            self.hash.update(chunk)
        elif self.name == "crc32":
            self.crc = zlib.crc32(chunk, self.crc)

    def check(self) -> None:
        if not self.name:
            return
        digest = self.hash.digest() if self.hash is not None else self.crc.to_bytes(4, "big")
        if base64.b64encode(digest).decode() != self.value.strip():
            raise S3Error(400, "BadDigest", f"The {self.name.upper()} you specified did not match the calculated "
                          "checksum.")


async def receive(request: web.Request, target: Path, limit: int) -> tuple[str, int]:
    """Stream the body into ``target`` (md5 hex, size), refusing bodies over ``limit`` and bodies whose
    declared sha256 or checksum does not match."""
    length = request.content_length
    if length is not None and length > limit:
        raise S3Error(400, "EntityTooLarge", f"Your proposed upload of {length} bytes exceeds the limit of "
                      f"{limit} bytes: use a multipart upload with parts of at most {limit} bytes.")
    declared = request.headers.get("x-amz-content-sha256", "")
    checksum = _Checksum(request.headers)
    md5, sha, size = hashlib.md5(), hashlib.sha256(), 0
    target.parent.mkdir(parents=True, exist_ok=True)
    loop = asyncio.get_running_loop()
    try:
        with target.open("wb") as out:
            def consume(chunk: bytes) -> None:  # in a thread: hashing and writing never block the event loop
                md5.update(chunk)
                sha.update(chunk)
                checksum.update(chunk)
                out.write(chunk)

            async for chunk in request.content.iter_chunked(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise S3Error(400, "EntityTooLarge", f"The upload exceeds the limit of {limit} bytes.")
                await loop.run_in_executor(None, consume, chunk)
        if len(declared) == 64 and declared != sha.hexdigest():
            raise S3Error(400, "XAmzContentSHA256Mismatch", "The body does not match x-amz-content-sha256.")
        _check_content_md5(request.headers.get("Content-MD5"), md5.digest())
        checksum.check()
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return md5.hexdigest(), size


def _check_content_md5(header: str | None, digest: bytes) -> None:
    """S3 checks Content-MD5 when a client sends it: InvalidDigest when it is not a base64 MD5, BadDigest
    when the body's differs."""
    if header is None:
        return
    try:
        declared = base64.b64decode(header.strip(), validate=True)
    except ValueError:
        declared = b""
    if len(declared) != 16:
        raise S3Error(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
    if declared != digest:
        raise S3Error(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")


def place(store: Store, key: str, path: Path, staged: Path, etag: str, headers: dict[str, str]) -> None:
    """Move a staged file into the volume as ``key``, in one rename, and remember its ETag and headers."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, path)
    except (FileExistsError, NotADirectoryError, IsADirectoryError):  # a file or folder appeared meanwhile
        store.check_writable(key)
        raise
    store.remember(key, path, etag, headers)


def check_write_conditions(request: web.Request, store: Store, key: str) -> None:
    if_none_match, if_match = request.headers.get("If-None-Match"), request.headers.get("If-Match")
    if if_none_match is not None and if_none_match.strip() != "*":
        raise S3Error(501, "NotImplemented", "If-None-Match on a write takes only '*' (do not overwrite).")
    current = store.exists(key)
    if if_none_match is not None and current is not None:
        raise S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold "
                      "(If-None-Match: the object exists).")
    if if_match is not None:
        if current is None:
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.")
        if if_match.strip().strip('"') != store.etag(key, current).strip('"'):
            raise S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not "
                          "hold (If-Match).")


async def put_object(state, request, store: Store, bucket, key):
    path = store.check_writable(key)
    check_write_conditions(request, store, key)
    if key.endswith("/"):  # a folder: RunPod's volumes are file systems
        if (request.content_length or 0) > 0:
            raise S3Error(400, "InvalidArgument", f"The key {excerpt(key, 200)} ends in '/', which names a folder "
                          "on a network volume; a folder cannot hold bytes.")
        path.mkdir(parents=True, exist_ok=True)
        store.remember(key, path, EMPTY_ETAG, stored_headers(request.headers))
        return web.Response(headers={"ETag": EMPTY_ETAG})
    staged = stage(state)
    try:
        md5, _ = await receive(request, staged, state.max_put_bytes)
        check_write_conditions(request, store, key)  # again: the body took time
        place(store, key, path, staged, f'"{md5}"', stored_headers(request.headers))
    finally:
        staged.unlink(missing_ok=True)
    return web.Response(headers={"ETag": f'"{md5}"'})


def _copy_source(request: web.Request, stores) -> tuple[Store, str, Path]:
    raw = request.headers["x-amz-copy-source"]
    source, _, query = raw.partition("?")
    if query:
        raise S3Error(501, "NotImplemented", "Copying a version (x-amz-copy-source with ?versionId) is not "
                      "supported by RunPod's S3 API (no versioning).")
    src_bucket, _, src_key = unquote(source).lstrip("/").partition("/")
    src_store = stores(src_bucket)
    path = src_store.exists(src_key)
    if path is None:
        raise S3Error(404, "NoSuchKey", "The specified key does not exist.")
    return src_store, src_key, path


async def copy_object(state, request, store: Store, bucket, key, stores):
    path = store.check_writable(key)
    src_store, src_key, src = _copy_source(request, stores)
    directive = request.headers.get("x-amz-metadata-directive", "COPY")
    if directive not in ("COPY", "REPLACE"):
        raise S3Error(400, "InvalidArgument", "x-amz-metadata-directive must be COPY or REPLACE.")
    if (src_store.folder, src_key) == (store.folder, key) and directive == "COPY":
        raise S3Error(400, "InvalidRequest", "This copy request is illegal because it is trying to copy an object to "
                      "itself without changing the object's metadata, storage class, website redirect location or "
                      "encryption attributes.")
    if key.endswith("/") != src_key.endswith("/"):
        raise S3Error(400, "InvalidArgument", "A folder (key ending in '/') and a file cannot be copied onto each "
                      "other on a network volume.")
    etag = src_store.etag(src_key, src)  # a copy is one new object: a multipart source's ETag becomes an MD5
    headers = src_store.headers(src_key, src) if directive == "COPY" else stored_headers(request.headers)
    if key.endswith("/"):
        path.mkdir(parents=True, exist_ok=True)
        store.remember(key, path, EMPTY_ETAG, headers)
    else:
        staged = stage(state)
        try:
            await asyncio.get_running_loop().run_in_executor(None, shutil.copyfile, src, staged)
            etag = etag if "-" not in etag else md5_etag(staged)
            place(store, key, path, staged, etag, headers)
        finally:
            staged.unlink(missing_ok=True)
    modified = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(store.modified_s(key, path)))
    return xml_response("CopyObjectResult", tag("ETag", etag) + tag("LastModified", modified))


async def delete_object(state, request, store: Store, bucket, key):
    store.delete(key)
    return web.Response(status=204)


def store_of(volumes: dict, bucket: str) -> Store:
    if bucket not in volumes:
        raise S3Error(404, "NoSuchBucket", f"The specified bucket does not exist: no network volume "
                      f"{excerpt(bucket, 60)}.")
    folder = volume_folder(bucket)
    folder.mkdir(parents=True, exist_ok=True)
    return Store(bucket, folder)
