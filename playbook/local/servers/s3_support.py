"""What the local S3 API needs besides its routes: SigV4 signature checks, S3's XML error bodies, and the
fault switch.

SigV4 (AWS's signature version 4, which RunPod's S3 API requires) is checked here in full: the canonical
request is rebuilt from the method, the raw path, the sorted query, the signed headers and the payload
hash the client declared, and signed with the secret of the access key the request names. A wrong key
gets ``SignatureDoesNotMatch`` (403), an unknown access key ``InvalidAccessKeyId`` (403), as on S3.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

from aiohttp import web

from playbook.core.excerpts import excerpt

MAX_SKEW_S = 3600  # RunPod: clock skew up to 1 h tolerated
AUTH_RE = re.compile(r"AWS4-HMAC-SHA256\s+Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request,\s*"
                     r"SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})")


class S3Error(Exception):
    """An S3 refusal: HTTP status, S3 error code and message, answered as S3's XML error body."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self, resource: str = "") -> web.Response:
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{self.code}</Code>'
                f"<Message>{escape(self.message)}</Message><Resource>{escape(resource)}</Resource></Error>")
        return web.Response(status=self.status, body=body.encode(), content_type="application/xml")


def xml_response(root: str, inner: str, status: int = 200) -> web.Response:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"{inner}</{root}>")
    return web.Response(status=status, body=body.encode(), content_type="application/xml")


def tag(name: str, value) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


def _sign_key(secret: str, date: str, region: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _canonical_query(raw_query: str) -> str:
    pairs = []
    for item in filter(None, raw_query.split("&")):
        k, _, v = item.partition("=")
        pairs.append((quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def check_signature(request: web.Request, keys: dict[str, str], region: str) -> str:
    """The access key id of a correctly signed request; raises S3Error otherwise."""
    if "X-Amz-Signature" in request.query or "X-Amz-Credential" in request.query:
        raise S3Error(501, "NotImplemented", "Presigned URLs are not supported by RunPod's S3 API: sign each "
                      "request with the S3 API key pair instead.")
    match = AUTH_RE.fullmatch(request.headers.get("Authorization", "").strip())
    if not match:
        raise S3Error(403, "AccessDenied", "Requests must be signed with AWS Signature Version 4 using RunPod's "
                      "S3 API key pair.")
    access_key, date, cred_region, signed, signature = match.groups()
    if access_key not in keys:
        raise S3Error(403, "InvalidAccessKeyId", f"The access key {excerpt(access_key, 40)} does not exist: use the "
                      "S3 API key made in RunPod's console (it starts with user_).")
    if cred_region.lower() != region.lower():
        raise S3Error(400, "AuthorizationHeaderMalformed", f"The region {excerpt(cred_region, 40)} is wrong; this "
                      f"endpoint expects the data center id {excerpt(region.upper())}.")
    amz_date = request.headers.get("x-amz-date", "")
    try:
        skew_s = abs(time.time() - calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")))
    except ValueError:
        raise S3Error(403, "AccessDenied", "x-amz-date is missing or not YYYYMMDDTHHMMSSZ.") from None
    if skew_s > MAX_SKEW_S:
        raise S3Error(403, "RequestTimeTooSkewed", f"The request time is {skew_s:.0f} s away from the server's "
                      "(RunPod tolerates up to 1 h): fix the clock.")
    payload = request.headers.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
    if payload.startswith("STREAMING-") or "aws-chunked" in request.headers.get("Content-Encoding", ""):
        raise S3Error(501, "NotImplemented", "aws-chunked uploads (boto3's default CRC32 checksums) are not "
                      "served here: create the client with request_checksum_calculation='when_required'.")
    path, _, query = request.raw_path.partition("?")
    headers = "".join(f"{h}:{' '.join(request.headers.get(h, '').split())}\n" for h in signed.split(";"))
    canonical = "\n".join([request.method, path, _canonical_query(query), headers, signed, payload])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, f"{date}/{cred_region}/s3/aws4_request",
                         hashlib.sha256(canonical.encode()).hexdigest()])
    expected = hmac.new(_sign_key(keys[access_key], date, cred_region), to_sign.encode(), hashlib.sha256)
    if not hmac.compare_digest(expected.hexdigest(), signature):
        raise S3Error(403, "SignatureDoesNotMatch", "The request signature does not match: the secret key is "
                      "wrong for this access key.")
    return access_key


@dataclass
class Fault:
    """Answer ``status`` to the next ``times`` requests of operation ``op`` (None: any operation)."""

    status: int
    op: str | None = None
    times: int = 1


class FaultSwitch:
    """The documented fault switch: ``platform.s3.faults.inject(524, op="UploadPart", times=2)`` makes the
    local S3 API answer 524 to the next two UploadPart requests, as RunPod's does under load; 502 likewise.
    The operations are S3's names (PutObject, UploadPart, CompleteMultipartUpload, HeadObject, ...).
    Over HTTP: ``POST /local/s3/faults`` with ``{"status": 524, "op": "UploadPart", "times": 2}`` (the
    platform's key in ``Authorization``); ``DELETE /local/s3/faults`` clears them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.injected = 0  # how many answers were faults

    def inject(self, status: int, op: str | None = None, times: int = 1) -> None:
        if status not in (500, 502, 503, 504, 524):
            raise ValueError(f"fault status must be one of 500, 502, 503, 504, 524, not {status}")
        with self._lock:
            self._faults.append(Fault(status, op, times))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, op: str) -> int | None:
        with self._lock:
            for fault in self._faults:
                if fault.op in (None, op) and fault.times > 0:
                    fault.times -= 1
                    self.injected += 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault.status
        return None
