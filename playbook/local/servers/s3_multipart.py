"""The multipart set of the local S3 API: Create, UploadPart, ListParts, ListMultipartUploads, Complete,
Abort. Parts wait outside every volume folder (workers never see half a file); Complete joins them into
the object in one rename and answers S3's ETag of a multipart object, the MD5 of the parts' MD5s with
``-N`` (N parts), which the object keeps from then on."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from aiohttp import web

from playbook.core.excerpts import excerpt
from playbook.local.servers.s3_store import Store, stored_headers
from playbook.local.servers.s3_support import S3Error, tag, xml_response
from playbook.local.servers.s3_writes import check_write_conditions, place, receive, stage

CHUNK = 1 << 20


def _staging(state, upload_id: str, bucket: str, key: str) -> Path:
    folder = state.uploads_dir() / upload_id.replace("/", "_").replace("..", "_")
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        meta = None
    if not meta or (meta["bucket"], meta["key"]) != (bucket, key):
        raise S3Error(404, "NoSuchUpload", f"The upload {excerpt(upload_id, 60)} does not exist (completed, aborted "
                      "or never started).")
    return folder


def _parts(staging: Path) -> list[tuple[int, str, int]]:
    return [(int(p.name[5:]), (staging / f"{p.name}.md5").read_text(), p.stat().st_size)
            for p in sorted(staging.glob("part-?????")) if (staging / f"{p.name}.md5").is_file()]


async def create_upload(state, request, store: Store, bucket, key):
    if key.endswith("/"):
        raise S3Error(400, "InvalidArgument", "A key ending in '/' is a folder on a network volume and cannot "
                      "hold bytes.")
    store.check_writable(key)
    upload_id = uuid.uuid4().hex
    staging = state.uploads_dir() / upload_id
    staging.mkdir(parents=True)
    (staging / "meta.json").write_text(json.dumps({"bucket": bucket, "key": key, "initiated": time.time(),
                                                   "headers": stored_headers(request.headers)}))
    return xml_response("InitiateMultipartUploadResult",
                        tag("Bucket", bucket) + tag("Key", key) + tag("UploadId", upload_id))


async def upload_part(state, request, store: Store, bucket, key):
    staging = _staging(state, request.query["uploadId"], bucket, key)
    raw = request.query["partNumber"]
    if not raw.isdigit() or not 1 <= int(raw) <= 10000:
        raise S3Error(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive.")
    part = staging / f"part-{int(raw):05d}"
    tmp = staging / f".tmp-{uuid.uuid4().hex}"
    try:
        md5, _ = await receive(request, tmp, state.max_part_bytes)
        os.replace(tmp, part)
        (staging / f"{part.name}.md5").write_text(md5)
    finally:
        tmp.unlink(missing_ok=True)
    return web.Response(headers={"ETag": f'"{md5}"'})


async def list_parts(state, request, store: Store, bucket, key):
    upload_id = request.query["uploadId"]
    staging = _staging(state, upload_id, bucket, key)
    marker, most = request.query.get("part-number-marker", "0"), request.query.get("max-parts", "1000")
    if not (marker.isdigit() and most.isdigit()):
        raise S3Error(400, "InvalidArgument", "part-number-marker and max-parts must be integers.")
    parts = [p for p in _parts(staging) if p[0] > int(marker)]
    shown, truncated = parts[:min(int(most), 1000)], len(parts) > min(int(most), 1000)
    inner = "".join(f"<Part>{tag('PartNumber', n)}{tag('ETag', chr(34) + md5 + chr(34))}{tag('Size', size)}</Part>"
                    for n, md5, size in shown)
    nxt = tag("NextPartNumberMarker", shown[-1][0]) if truncated and shown else ""
    return xml_response("ListPartsResult", tag("Bucket", bucket) + tag("Key", key) + tag("UploadId", upload_id)
                        + tag("PartNumberMarker", marker) + nxt + tag("MaxParts", most)
                        + tag("IsTruncated", "true" if truncated else "false") + inner)


async def list_uploads(state, request, store: Store, bucket, key):
    q = request.query
    prefix, key_marker, id_marker = q.get("prefix", ""), q.get("key-marker", ""), q.get("upload-id-marker", "")
    root = state.uploads_dir()
    found = []
    for meta_path in root.glob("*/meta.json") if root.is_dir() else []:
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        if meta["bucket"] == bucket and meta["key"].startswith(prefix):
            found.append((meta["key"], meta.get("initiated", 0), meta_path.parent.name))
    found.sort()
    if key_marker:
        found = [u for u in found if u[0] > key_marker or (u[0] == key_marker and id_marker and u[2] > id_marker)]
    uploads = "".join(f"<Upload>{tag('Key', k)}{tag('UploadId', uid)}"
                      f"{tag('Initiated', time.strftime('%Y-%m-%dT%H:%M:%S.000Z', time.gmtime(t)))}"
                      f"{tag('StorageClass', 'STANDARD')}</Upload>" for k, t, uid in found)
    return xml_response("ListMultipartUploadsResult", tag("Bucket", bucket) + tag("KeyMarker", key_marker)
                        + tag("UploadIdMarker", id_marker) + tag("Prefix", prefix) + tag("MaxUploads", 1000)
                        + tag("IsTruncated", "false") + uploads)


def _wanted(body: bytes) -> list[tuple[int, str]]:
    try:
        doc = ET.fromstring(body)
        wanted = [(int(p.findtext("{*}PartNumber") or p.findtext("PartNumber")),
                   (p.findtext("{*}ETag") or p.findtext("ETag") or "").strip('"'))
                  for p in doc.iter() if p.tag.split("}")[-1] == "Part"]
    except (ET.ParseError, TypeError, ValueError):
        raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against "
                      "our published schema.") from None
    if not wanted:
        raise S3Error(400, "MalformedXML", "The CompleteMultipartUpload body names no parts.")
    if [n for n, _ in wanted] != sorted({n for n, _ in wanted}):
        raise S3Error(400, "InvalidPartOrder", "The list of parts was not in ascending order. Parts must be "
                      "ordered by part number.")
    return wanted


async def complete_upload(state, request, store: Store, bucket, key):
    staging = _staging(state, request.query["uploadId"], bucket, key)
    wanted = _wanted(await request.read())
    have = {n: md5 for n, md5, _ in _parts(staging)}
    for number, etag in wanted:
        if have.get(number) != etag:
            raise S3Error(400, "InvalidPart", f"One or more of the specified parts could not be found or its ETag "
                          f"did not match (part {number}).")
    path = store.check_writable(key)
    check_write_conditions(request, store, key)
    staged = stage(state)
    digest = hashlib.md5()

    def concatenate() -> None:
        with staged.open("wb") as out:
            for number, etag in wanted:
                with (staging / f"part-{number:05d}").open("rb") as src:
                    shutil.copyfileobj(src, out, CHUNK)
                digest.update(bytes.fromhex(etag))

    try:
        await asyncio.get_running_loop().run_in_executor(None, concatenate)
        meta = json.loads((staging / "meta.json").read_text())
        etag = f'"{digest.hexdigest()}-{len(wanted)}"'
        place(store, key, path, staged, etag, meta.get("headers", {}))
    finally:
        staged.unlink(missing_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    return xml_response("CompleteMultipartUploadResult", tag("Location", f"/{bucket}/{key}") + tag("Bucket", bucket)
                        + tag("Key", key) + tag("ETag", etag))


async def abort_upload(state, request, store: Store, bucket, key):
    shutil.rmtree(_staging(state, request.query["uploadId"], bucket, key), ignore_errors=True)
    return web.Response(status=204)
