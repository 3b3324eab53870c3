"""RunPod's S3-compatible API for network volumes, served by the local platform on loopback.

Why: ``playbook.storage.volume`` fills a network volume through RunPod's S3 API (``https://s3api-<dc>.runpod.io/``,
bucket = volume id, region = data-center id, key = path under ``/runpod-volume``). To run that code
unchanged without an account, the local platform answers the same subset at
``http://127.0.0.1:<port>/s3api/<dc>/``, backed by each volume's folder: an object written here is the
file a worker of an endpoint using that volume sees under ``/runpod-volume``.

What it serves (RunPod's list, docs/runpod-facts.md §5): ListBuckets, HeadBucket, ListObjectsV2 and ListObjects (empty
directories are listed, as ``dir/`` keys), GetObject (with ranges), HeadObject, PutObject, CopyObject,
DeleteObject and the multipart set (Create, UploadPart, ListParts, ListMultipartUploads, Complete, Abort).
Every other request is refused with ``NotImplemented`` (501) before it touches anything
(``s3_rules``, which also holds the table of RunPod's documented differences); requests are checked with
SigV4 (``s3_support``); the key pair is access key ``user_local`` with the platform's API key as secret
(``playbook local env`` prints both as RUNPOD_S3_ACCESS_KEY_ID / RUNPOD_S3_SECRET_ACCESS_KEY). Objects
keep one ETag each (``s3_store``); reads follow S3's conditions and ranges (``s3_reads``).
``platform.s3.faults`` is the fault switch for RunPod's field troubles (``s3_support.FaultSwitch``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import unquote

from aiohttp import web

from playbook.core.config import build_dir
from playbook.core.excerpts import excerpt
from playbook.local.servers import s3_listing, s3_multipart, s3_writes
from playbook.local.servers.s3_reads import read_object
from playbook.local.servers.s3_rules import MAX_OBJECT_BYTES, resolve
from playbook.local.servers.s3_store import Store
from playbook.local.servers.s3_support import FaultSwitch, S3Error, check_signature, tag, xml_response

LOCAL_ACCESS_KEY = "user_local"
PREFIX = "/s3api/"


class S3State:
    """The local S3 API's settings and multipart staging; ``faults`` is the fault switch."""

    def __init__(self, platform):
        self.platform = platform
        self.faults = FaultSwitch()
        self.max_put_bytes = MAX_OBJECT_BYTES
        self.max_part_bytes = MAX_OBJECT_BYTES

    def keys(self) -> dict[str, str]:
        return {LOCAL_ACCESS_KEY: self.platform.api_key}

    def volumes(self) -> dict:
        control = self.platform.control_state
        return control.volumes if control else {}

    @staticmethod
    def uploads_dir() -> Path:
        """Multipart parts wait here, outside every volume folder, so workers never see half a file."""
        return build_dir() / "s3-uploads"


def endpoint_url(base_url: str, data_center: str) -> str:
    """The local S3 endpoint for a data center: ``<platform url>/s3api/<dc lower case>``."""
    return f"{base_url.rstrip('/')}/s3api/{data_center.lower()}"


def split_path(raw_path: str) -> tuple[str, str, str]:
    """(data center, bucket, key) from the raw request path, each percent-decoded exactly once."""
    path = raw_path.partition("?")[0].removeprefix(PREFIX)
    dc, _, rest = path.partition("/")
    bucket, _, key = rest.partition("/")
    return unquote(dc), unquote(bucket), unquote(key)


def add_routes(app: web.Application, platform) -> None:
    state = S3State(platform)
    platform.s3 = state

    async def handle(request: web.Request) -> web.StreamResponse:
        dc, bucket, key = split_path(request.raw_path)
        resource = f"/{bucket}/{key}" if bucket else "/"
        try:
            op = resolve(request.method, bucket, key, request.query, request.headers)
            check_signature(request, state.keys(), dc)
            return await state.faults.around(op, lambda: _serve(state, request, op, dc, bucket, key),
                                             lambda: _forget(state, dc, bucket, key))
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
            state.faults.inject(int(body.get("status", 200)), body.get("op"), int(body.get("times", 1)),
                                body.get("when", "instead"))
        return web.json_response({"injected": state.faults.injected})

    app.router.add_route("*", "/s3api/{dc}/{tail:.*}", handle)
    app.router.add_route("*", "/s3api/{dc}", handle)
    app.router.add_route("POST", "/local/s3/faults", faults)
    app.router.add_route("DELETE", "/local/s3/faults", faults)


async def _serve(state: S3State, request: web.Request, op: str, dc: str, bucket: str, key: str):
    if op == "ListBuckets":
        return _list_buckets(state, dc)
    store = _store(state, dc, bucket)
    if op in ("GetObject", "HeadObject"):
        return await read_object(request, store, key)
    if op in ("ListObjectsV2", "ListObjects"):  # in a thread: a file a worker wrote is hashed for its ETag
        return await asyncio.get_running_loop().run_in_executor(None, s3_listing.list_objects, store, request,
                                                                bucket, op == "ListObjectsV2")
    if op == "CopyObject":
        return await s3_writes.copy_object(state, request, store, bucket, key,
                                           lambda name: s3_writes.store_of(state.volumes(), name))
    return await HANDLERS[op](state, request, store, bucket, key)


def _forget(state: S3State, dc: str, bucket: str, key: str) -> None:
    """What the ``lost`` fault does after a successful upload: the object is gone (RunPod's 404 after a
    reported success)."""
    _store(state, dc, bucket).delete(key)


def _list_buckets(state: S3State, dc: str) -> web.Response:
    mine = [v for v in state.volumes().values() if v["dataCenter"].lower() == dc.lower()]
    buckets = "".join(f"<Bucket>{tag('Name', v['id'])}{tag('CreationDate', '2026-01-01T00:00:00.000Z')}</Bucket>"
                      for v in mine)
    return xml_response("ListAllMyBucketsResult", f"<Buckets>{buckets}</Buckets>")


def _store(state: S3State, dc: str, bucket: str) -> Store:
    vol = state.volumes().get(bucket)
    if vol is None or vol["dataCenter"].lower() != dc.lower():
        raise S3Error(404, "NoSuchBucket", f"No network volume {excerpt(bucket, 60)} in data center {dc.upper()}: "
                      "the bucket is the volume id, and the endpoint must be its data center's.")
    return s3_writes.store_of(state.volumes(), bucket)


async def head_bucket(state, request, store, bucket, key):
    return web.Response()


HANDLERS = {
    "HeadBucket": head_bucket, "PutObject": s3_writes.put_object, "DeleteObject": s3_writes.delete_object,
    "CreateMultipartUpload": s3_multipart.create_upload, "UploadPart": s3_multipart.upload_part,
    "ListParts": s3_multipart.list_parts, "ListMultipartUploads": s3_multipart.list_uploads,
    "CompleteMultipartUpload": s3_multipart.complete_upload, "AbortMultipartUpload": s3_multipart.abort_upload,
}
