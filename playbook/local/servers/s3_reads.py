"""GetObject and HeadObject as S3 defines them: conditional requests and byte ranges.

Conditions (S3's rules, RFC 7232 with S3's precedence): ``If-Match`` that fails answers 412
``PreconditionFailed``, and when it holds ``If-Unmodified-Since`` is not looked at; otherwise
``If-Unmodified-Since`` earlier than the object's Last-Modified answers 412. ``If-None-Match`` that
matches answers 304, and when present ``If-Modified-Since`` is not looked at; otherwise
``If-Modified-Since`` at or after Last-Modified answers 304. Times compare in whole seconds, as
Last-Modified is written.

Ranges: one ``bytes=a-b``, ``bytes=a-`` or ``bytes=-n`` answers 206 with ``Content-Range``; a range
starting past the end (or ``-0``) answers 416 ``InvalidRange``; a header S3 cannot parse, several ranges,
or ``a > b`` is ignored and the whole object answered, as S3 does.
"""

from __future__ import annotations

import asyncio
import re
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

from aiohttp import web

from playbook.local.servers.s3_store import Store
from playbook.local.servers.s3_support import S3Error

CHUNK = 1 << 20
RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")
RESPONSE_OVERRIDES = {"response-content-type": "Content-Type", "response-content-disposition": "Content-Disposition",
                      "response-content-encoding": "Content-Encoding", "response-content-language": "Content-Language",
                      "response-cache-control": "Cache-Control", "response-expires": "Expires"}


def _etags(header: str) -> list[str]:
    return [t.strip().removeprefix("W/").strip('"') for t in header.split(",")]


def _seconds(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        return None  # S3 ignores a date it cannot read


def check_conditions(headers, etag: str, modified_s: float) -> int | None:
    """304 when the client's copy is current, None to answer the object; raises 412 on a failed precondition."""
    bare, modified = etag.strip('"'), int(modified_s)
    if_match, if_none_match = headers.get("If-Match"), headers.get("If-None-Match")
    if if_match is not None:
        if "*" not in _etags(if_match) and bare not in _etags(if_match):
            raise S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold "
                          "(If-Match).")
    else:
        since = _seconds(headers.get("If-Unmodified-Since"))
        if since is not None and modified > since:
            raise S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not "
                          "hold (If-Unmodified-Since).")
    if if_none_match is not None:
        return 304 if "*" in _etags(if_none_match) or bare in _etags(if_none_match) else None
    since = _seconds(headers.get("If-Modified-Since"))
    return 304 if since is not None and modified <= since else None


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a satisfiable single range; None for the whole object; 416 past the end."""
    match = RANGE_RE.fullmatch((header or "").strip())
    if not match or match.group(1) == match.group(2) == "":
        return None
    first, last = (int(g) if g else None for g in match.groups())
    if first is None:
        if last == 0:
            raise _invalid_range(header, size)
        first, last = max(0, size - last), size - 1
        return (first, last) if first <= last else None
    if first >= size:
        raise _invalid_range(header, size)
    last = size - 1 if last is None else min(last, size - 1)
    return (first, last) if first <= last else None


def _invalid_range(header: str, size: int) -> S3Error:
    return S3Error(416, "InvalidRange", f"The requested range {header[:80]} is not satisfiable: the object has "
                   f"{size} bytes.")


def object_headers(store: Store, key: str, path: Path, size: int) -> dict[str, str]:
    return {"ETag": store.etag(key, path), "Last-Modified": formatdate(store.modified_s(key, path), usegmt=True),
            "Accept-Ranges": "bytes", "Content-Type": "binary/octet-stream", **store.headers(key, path),
            "Content-Length": str(size)}


async def read_object(request: web.Request, store: Store, key: str) -> web.StreamResponse:
    """GetObject or HeadObject of ``key``: conditions, then the range, then the bytes."""
    path = store.exists(key)
    if path is None:
        raise S3Error(404, "NoSuchKey", "The specified key does not exist.")
    size = 0 if key.endswith("/") else path.stat().st_size
    loop = asyncio.get_running_loop()  # in a thread: a file a worker wrote is hashed for its ETag
    headers = await loop.run_in_executor(None, object_headers, store, key, path, size)
    if check_conditions(request.headers, headers["ETag"], store.modified_s(key, path)) == 304:
        return web.Response(status=304, headers={k: headers[k] for k in ("ETag", "Last-Modified")})
    span = byte_range(request.headers.get("Range"), size)
    status, first, last = (200, 0, size - 1) if span is None else (206, *span)
    if span is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        headers["Content-Length"] = str(last - first + 1)
    if request.method == "GET":
        headers.update({h: request.query[q] for q, h in RESPONSE_OVERRIDES.items() if q in request.query})
    response = web.StreamResponse(status=status, headers=headers)
    if request.method == "HEAD" or last < first:
        response.content_length = int(headers["Content-Length"])
        await response.prepare(request)
        return response
    await response.prepare(request)
    try:
        with path.open("rb") as f:
            f.seek(first)
            left = last - first + 1
            while left > 0:
                chunk = await loop.run_in_executor(None, f.read, min(CHUNK, left))
                if not chunk:
                    break  # the file shrank under us (a worker rewrote it): end the body short
                left -= len(chunk)
                await response.write(chunk)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client stopped reading (a HEAD-like use of GET): nothing to answer
    return response
