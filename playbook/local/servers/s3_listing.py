"""ListObjectsV2 and ListObjects (v1) over a volume's folder, as S3 pages them.

Keys come in UTF-8 byte order (the order of code points); a folder is listed as a ``dir/`` key when it
is empty (RunPod lists empty directories) or was made as a ``dir/`` object. With a delimiter, keys
sharing a prefix up to it roll up into one ``CommonPrefixes`` entry, which counts once toward
``max-keys``. Paging: v2's ``NextContinuationToken`` is opaque (base64 of the last key or prefix
answered, so it is always legal XML); v1 honours ``Marker`` and answers ``NextMarker`` when a delimiter
is given (without one, boto3's paginator continues from the last key, which ``Marker`` also serves).
``encoding-type=url`` (boto3 sends it on every listing) URL-encodes keys, prefixes and markers.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from pathlib import Path
from urllib.parse import quote_plus

from aiohttp import web

from playbook.core.excerpts import excerpt
from playbook.local.servers.s3_store import Store
from playbook.local.servers.s3_support import S3Error, tag, xml_response

MAX_KEYS = 1000


def all_keys(store: Store) -> list[tuple[str, Path]]:
    """Every object of the volume as (key, path), sorted as S3 sorts keys."""
    keys = []
    for root, _dirs, files in os.walk(store.folder):
        rel = Path(root).relative_to(store.folder).as_posix()
        prefix = "" if rel == "." else rel + "/"
        if prefix and _listed_folder(store, prefix):
            keys.append((prefix, Path(root)))
        keys.extend((prefix + f, Path(root) / f) for f in files)
    return sorted(keys)


def _listed_folder(store: Store, key: str) -> bool:
    try:
        return store.exists(key) is not None
    except S3Error:  # a folder a worker made deeper than S3's 1024-byte keys: not an object
        return False


def _token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def _untoken(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise S3Error(400, "InvalidArgument", "The continuation token provided is incorrect.") from None


def _int_param(query, name: str, default: int) -> int:
    raw = query.get(name, str(default))
    if not raw.isdigit():
        raise S3Error(400, "InvalidArgument", f"{name} must be a non-negative integer, not {excerpt(raw, 40)}.")
    return min(int(raw), MAX_KEYS)


def page(store: Store, prefix: str, delimiter: str, after: str, max_keys: int):
    """(objects as (key, path), common prefixes, truncated, last item answered) for one page."""
    objects, prefixes, last = [], [], ""
    for key, path in all_keys(store):
        if not key.startswith(prefix) or key <= after:
            continue
        rest = key[len(prefix):]
        item, rolled = key, bool(delimiter) and delimiter in rest
        if rolled:
            item = prefix + rest[:rest.index(delimiter) + len(delimiter)]
            if item <= after or (prefixes and prefixes[-1] == item):
                continue
        if len(objects) + len(prefixes) >= max_keys:
            return objects, prefixes, True, last
        if rolled:
            prefixes.append(item)
        else:
            objects.append((key, path))
        last = item
    return objects, prefixes, False, last


def _contents(store: Store, objects, encode) -> str:
    out = []
    for key, path in objects:
        size = 0 if key.endswith("/") else path.stat().st_size
        modified = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(store.modified_s(key, path)))
        out.append(f"<Contents>{tag('Key', encode(key))}{tag('LastModified', modified)}"
                   f"{tag('ETag', store.etag(key, path))}{tag('Size', size)}"
                   f"{tag('StorageClass', 'STANDARD')}</Contents>")
    return "".join(out)


def list_objects(store: Store, request: web.Request, bucket: str, v2: bool) -> web.Response:
    q = request.query
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    max_keys = _int_param(q, "max-keys", MAX_KEYS)
    encoding = q.get("encoding-type", "")
    if encoding not in ("", "url"):
        raise S3Error(400, "InvalidArgument", "encoding-type must be url.")

    def encode(value: str) -> str:
        return quote_plus(value, safe="/") if encoding else value

    if v2:
        token = q.get("continuation-token")
        after = _untoken(token) if token is not None else q.get("start-after", "")
    else:
        after = q.get("marker", "")
    objects, prefixes, truncated, last = page(store, prefix, delimiter, after, max_keys)
    inner = tag("Name", bucket) + tag("Prefix", encode(prefix))
    if v2:
        inner += ((tag("StartAfter", encode(q["start-after"])) if "start-after" in q else "")
                  + (tag("ContinuationToken", q["continuation-token"]) if "continuation-token" in q else "")
                  + tag("KeyCount", len(objects) + len(prefixes))
                  + (tag("NextContinuationToken", _token(last)) if truncated else ""))
    else:
        inner += (tag("Marker", encode(after))
                  + (tag("NextMarker", encode(last)) if truncated and delimiter else ""))
    inner += (tag("MaxKeys", max_keys) + (tag("Delimiter", encode(delimiter)) if delimiter else "")
              + (tag("EncodingType", encoding) if encoding else "")
              + tag("IsTruncated", "true" if truncated else "false") + _contents(store, objects, encode)
              + "".join(f"<CommonPrefixes>{tag('Prefix', encode(p))}</CommonPrefixes>" for p in prefixes))
    return xml_response("ListBucketResult", inner)
