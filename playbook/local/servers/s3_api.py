"""RunPod's S3-compatible API for network volumes, served by the local platform on loopback.

Why: ``playbook.storage.volume`` fills a network volume through RunPod's S3 API (``https://s3api-<dc>.runpod.io/``,
bucket = volume id, region = data-center id, key = path under ``/runpod-volume``). To run that code
unchanged without an account, the local platform answers the same subset at
``http://127.0.0.1:<port>/s3api/<dc>/``, backed by each volume's folder: an object written here is the
file a worker of an endpoint using that volume sees under ``/runpod-volume``.

What it serves (RunPod's list, docs/runpod-facts.md §5): ListBuckets, HeadBucket, ListObjectsV2 (empty
directories are listed, as ``dir/`` keys), GetObject (with ranges), HeadObject, PutObject, CopyObject,
DeleteObject and the multipart set (Create, UploadPart, ListParts, ListMultipartUploads, Complete, Abort).
What it refuses as RunPod does: CreateBucket/DeleteBucket, DeleteObjects, presigned URLs, PutObject or
parts above 500 MB (``EntityTooLarge``). Requests are checked with SigV4 (``s3_support``); the key pair is
access key ``user_local`` with the platform's API key as secret. ``platform.s3.faults`` is the fault switch
(502/524 on chosen operations; see ``s3_support.FaultSwitch``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import time
import uuid
import xml.etree.ElementTree as ET
from email.utils import formatdate
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from aiohttp import web

from playbook.core.config import build_dir
from playbook.core.excerpts import excerpt
from playbook.local.servers.control_api.volumes import volume_folder
from playbook.local.servers.s3_support import FaultSwitch, S3Error, check_signature, tag, xml_response

LOCAL_ACCESS_KEY = "user_local"
MAX_OBJECT_BYTES = 500 * 10**6  # RunPod: PutObject below 500 MB; multipart parts at most 500 MB
CHUNK = 1 << 20


class S3State:
    """The local S3 API's settings and multipart staging; ``faults`` is the fault switch."""

    def __init__(self, platform):
        self.platform = platform
        self.faults = FaultSwitch()
        self.max_put_bytes = MAX_OBJECT_BYTES
        self.max_part_bytes = MAX_OBJECT_BYTES

    def keys(self) -> dict[str, str]:
        return {LOCAL_ACCESS_KEY: self.platform.api_key}

    @staticmethod
    def uploads_dir() -> Path:
        """Multipart parts wait here, outside every volume folder, so workers never see half a file."""
        return build_dir() / "s3-uploads"


def endpoint_url(base_url: str, data_center: str) -> str:
    """The local S3 endpoint for a data center: ``<platform url>/s3api/<dc lower case>``."""
    return f"{base_url.rstrip('/')}/s3api/{data_center.lower()}"


def operation(request: web.Request, bucket: str, key: str) -> str:
    q, m = request.query, request.method
    if not bucket:
        return "ListBuckets"
    if not key:
        if "uploads" in q:
            return "ListMultipartUploads"
        if "delete" in q:
            return "DeleteObjects"
        return {"GET": "ListObjectsV2", "HEAD": "HeadBucket", "PUT": "CreateBucket",
                "DELETE": "DeleteBucket"}.get(m, m)
    if m == "POST":
        return "CreateMultipartUpload" if "uploads" in q else "CompleteMultipartUpload"
    if m == "PUT":
        if "partNumber" in q:
            return "UploadPart"
        return "CopyObject" if "x-amz-copy-source" in request.headers else "PutObject"
    if m == "GET":
        return "ListParts" if "uploadId" in q else "GetObject"
    if m == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in q else "DeleteObject"
    return {"HEAD": "HeadObject"}.get(m, m)


def add_routes(app: web.Application, platform) -> None:
    state = S3State(platform)
    platform.s3 = state

    async def handle(request: web.Request) -> web.StreamResponse:
        dc = request.match_info["dc"]
        bucket, _, key = request.match_info.get("tail", "").partition("/")
        resource = f"/{bucket}/{key}" if bucket else "/"
        try:
            check_signature(request, state.keys(), dc)
            op = operation(request, bucket, unquote(key))
            fault = state.faults.take(op)
            if fault:
                return web.Response(status=fault, text=f"error code: {fault} (injected by the fault switch)")
            if op == "ListBuckets":
                return _list_buckets(state, dc)
            handler = HANDLERS.get(op)
            if handler is None:
                raise S3Error(501, "NotImplemented", f"{op} is not supported by RunPod's S3 API."
                              + (" Create a network volume with the REST API (POST /v2/network-volumes) "
                                 "instead." if op == "CreateBucket" else ""))
            folder = _bucket_folder(state, dc, bucket)
            return await handler(state, request, folder, bucket, unquote(key))
        except S3Error as err:
            if request.method == "HEAD":
                return web.Response(status=err.status, headers={"x-amz-error-code": err.code})
            return err.response(resource)

    async def faults(request: web.Request) -> web.Response:
        # /local/s3/faults: the auth middleware (servers/auth.py) already checked the user's key.
        if request.method == "DELETE":
            state.faults.clear()
        else:
            body = await request.json()
            state.faults.inject(int(body["status"]), body.get("op"), int(body.get("times", 1)))
        return web.json_response({"injected": state.faults.injected})

    app.router.add_route("*", "/s3api/{dc}/{tail:.*}", handle)
    app.router.add_route("*", "/s3api/{dc}", handle)
    app.router.add_route("POST", "/local/s3/faults", faults)
    app.router.add_route("DELETE", "/local/s3/faults", faults)


# -- buckets and keys ---------------------------------------------------------------------------------

def _volumes(state: S3State) -> dict:
    control = state.platform.control_state
    return control.volumes if control else {}


def _list_buckets(state: S3State, dc: str) -> web.Response:
    mine = [v for v in _volumes(state).values() if v["dataCenter"].lower() == dc.lower()]
    buckets = "".join(f"<Bucket>{tag('Name', v['id'])}{tag('CreationDate', '2026-01-01T00:00:00.000Z')}</Bucket>"
                      for v in mine)
    return xml_response("ListAllMyBucketsResult", f"<Buckets>{buckets}</Buckets>")


def _bucket_folder(state: S3State, dc: str, bucket: str) -> Path:
    vol = _volumes(state).get(bucket)
    if vol is None or vol["dataCenter"].lower() != dc.lower():
        raise S3Error(404, "NoSuchBucket", f"No network volume {excerpt(bucket, 60)} in data center {dc.upper()}: "
                      "the bucket is the volume id, and the endpoint must be its data center's.")
    folder = volume_folder(bucket)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _path(folder: Path, key: str) -> Path:
    parts = PurePosixPath(key).parts
    if not key or key.startswith("/") or any(p in ("..", ".") for p in parts) or "\x00" in key:
        raise S3Error(400, "InvalidArgument", f"Invalid object key {excerpt(key, 200)}.")
    return folder.joinpath(*parts)


def _etag_of(path: Path) -> str:
    return f'"{os.path.getsize(path):x}-{int(os.path.getmtime(path) * 1e6):x}"'


def _object_headers(path: Path) -> dict[str, str]:
    st = path.stat()
    return {"ETag": _etag_of(path), "Last-Modified": formatdate(st.st_mtime, usegmt=True),
            "Content-Length": str(st.st_size), "Accept-Ranges": "bytes"}


async def _receive(request: web.Request, target: Path, limit: int) -> tuple[str, int]:
    """Stream the body into ``target`` (md5 hex, size), refusing bodies over ``limit`` and payloads whose
    declared sha256 does not match."""
    length = request.content_length
    if length is not None and length > limit:
        raise S3Error(400, "EntityTooLarge", f"Your proposed upload of {length} bytes exceeds the limit of "
                      f"{limit} bytes: use a multipart upload with parts of at most {limit} bytes.")
    declared = request.headers.get("x-amz-content-sha256", "")
    md5, sha, size = hashlib.md5(), hashlib.sha256(), 0
    target.parent.mkdir(parents=True, exist_ok=True)
    loop = asyncio.get_running_loop()
    with target.open("wb") as out:
        def consume(chunk: bytes) -> None:  # in a thread: hashing and writing never block the event loop
            md5.update(chunk)
            sha.update(chunk)
            out.write(chunk)

        async for chunk in request.content.iter_chunked(CHUNK):
            size += len(chunk)
            if size > limit:
                raise S3Error(400, "EntityTooLarge", f"The upload exceeds the limit of {limit} bytes.")
            await loop.run_in_executor(None, consume, chunk)
    if len(declared) == 64 and declared != sha.hexdigest():
        target.unlink(missing_ok=True)
        raise S3Error(400, "XAmzContentSHA256Mismatch", "The body does not match x-amz-content-sha256.")
    return md5.hexdigest(), size


def _stage(state: S3State) -> Path:
    state.uploads_dir().mkdir(parents=True, exist_ok=True)
    return state.uploads_dir() / f"put-{uuid.uuid4().hex}"


# -- objects ------------------------------------------------------------------------------------------

async def put_object(state, request, folder, bucket, key):
    path = _path(folder, key)
    if key.endswith("/"):  # a directory marker: RunPod's volumes are file systems
        path.mkdir(parents=True, exist_ok=True)
        return web.Response(headers={"ETag": '"d41d8cd98f00b204e9800998ecf8427e"'})
    staged = _stage(state)
    try:
        md5, _ = await _receive(request, staged, state.max_put_bytes)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)
    return web.Response(headers={"ETag": f'"{md5}"'})


async def copy_object(state, request, folder, bucket, key):
    src_bucket, _, src_key = unquote(request.headers["x-amz-copy-source"]).lstrip("/").partition("/")
    src_vol = _volumes(state).get(src_bucket)
    if src_vol is None:
        raise S3Error(404, "NoSuchBucket", f"No network volume {excerpt(src_bucket, 60)}.")
    src = _path(volume_folder(src_bucket), src_key.split("?")[0])
    if not src.is_file():
        raise S3Error(404, "NoSuchKey", f"The source key {excerpt(src_key, 200)} does not exist.")
    dst = _path(folder, key)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    inner = tag("ETag", _etag_of(dst)) + tag("LastModified", time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()))
    return xml_response("CopyObjectResult", inner)


def _existing(folder: Path, key: str) -> Path:
    path = _path(folder, key)
    if not path.is_file():
        raise S3Error(404, "NoSuchKey", f"The key {excerpt(key, 200)} does not exist.")
    return path


async def head_object(state, request, folder, bucket, key):
    path = _path(folder, key)
    if key.endswith("/") and path.is_dir():
        return web.Response(headers={"Content-Length": "0", "ETag": '"d41d8cd98f00b204e9800998ecf8427e"'})
    return web.Response(headers=_object_headers(_existing(folder, key)))


async def get_object(state, request, folder, bucket, key):
    path = _existing(folder, key)
    response = web.FileResponse(path, chunk_size=CHUNK)
    response.headers["ETag"] = _etag_of(path)
    return response


async def delete_object(state, request, folder, bucket, key):
    path = _path(folder, key)
    if path.is_file():
        path.unlink()
    elif path.is_dir() and not any(path.iterdir()):
        path.rmdir()
    return web.Response(status=204)


# -- listing ------------------------------------------------------------------------------------------

def _all_keys(folder: Path) -> list[tuple[str, Path]]:
    """Every file as its key, and every empty directory as ``dir/`` (RunPod lists empty directories)."""
    keys = []
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder).as_posix()
        prefix = "" if rel == "." else rel + "/"
        if prefix and not dirs and not files:
            keys.append((prefix, Path(root)))
        keys.extend((prefix + f, Path(root) / f) for f in files)
    return sorted(keys)


async def list_objects(state, request, folder, bucket, key):
    q = request.query
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    max_keys = min(int(q.get("max-keys", 1000)), 1000)
    after = q.get("continuation-token") or q.get("start-after") or ""
    contents, prefixes, truncated, last = [], [], False, ""
    for k, path in _all_keys(folder):
        if not k.startswith(prefix) or k <= after:
            continue
        if delimiter and delimiter in k[len(prefix):]:
            common = k[:len(prefix) + k[len(prefix):].index(delimiter) + len(delimiter)]
            if common in prefixes or common <= after:
                continue
            entry = ("p", common)
        else:
            entry = ("k", k)
        if len(contents) + len(prefixes) >= max_keys:
            truncated = True
            break
        if entry[0] == "p":
            prefixes.append(entry[1])
            last = entry[1] + "\uffff"
        else:
            st = path.stat()
            size = 0 if k.endswith("/") else st.st_size
            modified = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(st.st_mtime))
            contents.append(f"<Contents>{tag('Key', k)}{tag('Size', size)}{tag('ETag', '')}"
                            f"{tag('LastModified', modified)}"
                            f"{tag('StorageClass', 'STANDARD')}</Contents>")
            last = k
    inner = (tag("Name", bucket) + tag("Prefix", prefix) + tag("KeyCount", len(contents) + len(prefixes))
             + tag("MaxKeys", max_keys) + (tag("Delimiter", delimiter) if delimiter else "")
             + tag("IsTruncated", "true" if truncated else "false")
             + (tag("NextContinuationToken", last) if truncated else "")
             + "".join(contents) + "".join(f"<CommonPrefixes>{tag('Prefix', p)}</CommonPrefixes>" for p in prefixes))
    return xml_response("ListBucketResult", inner)


# -- multipart ----------------------------------------------------------------------------------------

def _upload(state: S3State, upload_id: str, bucket: str, key: str) -> Path:
    folder = state.uploads_dir() / upload_id.replace("/", "_").replace("..", "_")
    meta = folder / "meta.json"
    if not meta.is_file() or json.loads(meta.read_text()) != {"bucket": bucket, "key": key}:
        raise S3Error(404, "NoSuchUpload", f"The upload {excerpt(upload_id, 60)} does not exist (completed, aborted "
                      "or never started).")
    return folder


async def create_upload(state, request, folder, bucket, key):
    _path(folder, key)
    upload_id = uuid.uuid4().hex
    staging = state.uploads_dir() / upload_id
    staging.mkdir(parents=True)
    (staging / "meta.json").write_text(json.dumps({"bucket": bucket, "key": key}))
    return xml_response("InitiateMultipartUploadResult",
                        tag("Bucket", bucket) + tag("Key", key) + tag("UploadId", upload_id))


async def upload_part(state, request, folder, bucket, key):
    staging = _upload(state, request.query["uploadId"], bucket, key)
    number = int(request.query["partNumber"])
    if not 1 <= number <= 10000:
        raise S3Error(400, "InvalidArgument", "partNumber must be between 1 and 10000.")
    part = staging / f"part-{number:05d}"
    tmp = staging / f".tmp-{uuid.uuid4().hex}"
    try:
        md5, _ = await _receive(request, tmp, state.max_part_bytes)
        os.replace(tmp, part)
        (staging / f"part-{number:05d}.md5").write_text(md5)
    finally:
        tmp.unlink(missing_ok=True)
    return web.Response(headers={"ETag": f'"{md5}"'})


def _parts(staging: Path) -> list[tuple[int, str, int]]:
    return [(int(p.name[5:]), (staging / f"{p.name}.md5").read_text(), p.stat().st_size)
            for p in sorted(staging.glob("part-?????")) if (staging / f"{p.name}.md5").is_file()]


async def list_parts(state, request, folder, bucket, key):
    staging = _upload(state, request.query["uploadId"], bucket, key)
    parts = "".join(f"<Part>{tag('PartNumber', n)}{tag('ETag', chr(34) + md5 + chr(34))}{tag('Size', size)}</Part>"
                    for n, md5, size in _parts(staging))
    return xml_response("ListPartsResult", tag("Bucket", bucket) + tag("Key", key)
                        + tag("UploadId", request.query["uploadId"]) + tag("IsTruncated", "false") + parts)


async def list_uploads(state, request, folder, bucket, key):
    prefix = request.query.get("prefix", "")
    uploads = ""
    root = state.uploads_dir()
    for meta in sorted(root.glob("*/meta.json")) if root.is_dir() else []:
        info = json.loads(meta.read_text())
        if info["bucket"] == bucket and info["key"].startswith(prefix):
            uploads += f"<Upload>{tag('Key', info['key'])}{tag('UploadId', meta.parent.name)}</Upload>"
    return xml_response("ListMultipartUploadsResult", tag("Bucket", bucket) + tag("IsTruncated", "false") + uploads)


async def complete_upload(state, request, folder, bucket, key):
    staging = _upload(state, request.query["uploadId"], bucket, key)
    try:
        doc = ET.fromstring(await request.read())
    except ET.ParseError:
        raise S3Error(400, "MalformedXML", "The CompleteMultipartUpload body is not valid XML.") from None
    wanted = [(int(p.findtext("{*}PartNumber") or p.findtext("PartNumber")),
               (p.findtext("{*}ETag") or p.findtext("ETag") or "").strip('"')) for p in doc.iter()
              if p.tag.split("}")[-1] == "Part"]
    have = {n: md5 for n, md5, _ in _parts(staging)}
    if not wanted or [n for n, _ in wanted] != sorted({n for n, _ in wanted}):
        raise S3Error(400, "InvalidPartOrder", "Parts must be listed once each, in ascending order.")
    for number, etag in wanted:
        if have.get(number) != etag:
            raise S3Error(400, "InvalidPart", f"Part {number} was not uploaded or its ETag does not match.")
    staged = _stage(state)
    digest = hashlib.md5()

    def concatenate() -> None:
        with staged.open("wb") as out:
            for number, etag in wanted:
                with (staging / f"part-{number:05d}").open("rb") as src:
                    shutil.copyfileobj(src, out, CHUNK)
                digest.update(bytes.fromhex(etag))

    await asyncio.get_running_loop().run_in_executor(None, concatenate)
    path = _path(folder, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, path)
    shutil.rmtree(staging, ignore_errors=True)
    etag = f'"{digest.hexdigest()}-{len(wanted)}"'
    return xml_response("CompleteMultipartUploadResult", tag("Bucket", bucket) + tag("Key", key) + tag("ETag", etag))


async def abort_upload(state, request, folder, bucket, key):
    shutil.rmtree(_upload(state, request.query["uploadId"], bucket, key), ignore_errors=True)
    return web.Response(status=204)


async def head_bucket(state, request, folder, bucket, key):
    return web.Response()


HANDLERS = {
    "HeadBucket": head_bucket, "ListObjectsV2": list_objects, "GetObject": get_object,
    "HeadObject": head_object, "PutObject": put_object, "CopyObject": copy_object, "DeleteObject": delete_object,
    "CreateMultipartUpload": create_upload, "UploadPart": upload_part, "ListParts": list_parts,
    "ListMultipartUploads": list_uploads, "CompleteMultipartUpload": complete_upload,
    "AbortMultipartUpload": abort_upload,
}
