"""Which S3 requests the local S3 API serves, and RunPod's documented differences from S3, in one table.

Why: a request the local API does not understand must never be served as some other operation (an ACL
``PUT ?acl`` once replaced an object's bytes with the ACL document). ``resolve`` names the operation of
a request from its method, whether it names a bucket and a key, its query parameters and the headers
that change what it means; anything it does not recognise as served is refused with S3's
``NotImplemented`` (501) before a byte is read or written.

``RUNPOD_DIFFERENCES`` is the one list of what RunPod's S3 API documents differently from S3 (source:
RunPod's docs, docs.runpod.io/storage/s3-api, as summarised in docs/runpod-facts.md §5): the local API
refuses what RunPod does not support, and the differential test against moto expects exactly these.
``LOCAL_DIFFERENCES`` lists what the local API does differently because a volume is a file system.
"""

from __future__ import annotations

from dataclasses import dataclass

from playbook.local.servers.s3_support import S3Error

RUNPOD_S3_DOCS = "https://docs.runpod.io/storage/s3-api (docs/runpod-facts.md §5)"
MAX_OBJECT_BYTES = 500 * 10**6  # RunPod: PutObject below 500 MB; multipart parts at most 500 MB
MIN_PART_BYTES = 1  # RunPod does not enforce S3's 5 MiB minimum part size


@dataclass(frozen=True)
class Difference:
    """One documented way RunPod's S3 API differs from S3: what, how the local API answers, and where
    it is written down."""

    what: str
    answer: str
    source: str = RUNPOD_S3_DOCS


RUNPOD_DIFFERENCES = {
    "CreateBucket": Difference("buckets are network volumes", "501 NotImplemented"),
    "DeleteBucket": Difference("buckets are network volumes", "501 NotImplemented"),
    "DeleteObjects": Difference("no batch delete", "501 NotImplemented"),
    "GetBucketLocation": Difference("the region is the data center of the endpoint", "501 NotImplemented"),
    "PresignedURL": Difference("presigned URLs are not supported", "501 NotImplemented"),
    "Versioning": Difference("no versioning (versionId, ?versions, ?versioning)", "501 NotImplemented"),
    "ACL": Difference("no ACLs (?acl, x-amz-acl, x-amz-grant-*)", "501 NotImplemented"),
    "Tagging": Difference("no tagging (?tagging, x-amz-tagging)", "501 NotImplemented"),
    "Encryption": Difference("no server-side encryption (x-amz-server-side-encryption*)", "501 NotImplemented"),
    "PutObjectSize": Difference(f"PutObject below {MAX_OBJECT_BYTES} bytes", "400 EntityTooLarge"),
    "PartSize": Difference(f"parts of at most {MAX_OBJECT_BYTES} bytes; S3's 5 MiB minimum is not enforced",
                           "400 EntityTooLarge above the maximum; small parts accepted"),
    "EmptyDirectories": Difference("empty directories are listed, as dir/ keys", "listed"),
}

LOCAL_DIFFERENCES = {
    "FileFolderCollision": Difference(
        "a key cannot name a file where a folder exists or a folder where a file exists (a/b beside a file a)",
        "409 KeyConflict; RunPod's answer is not documented", "the volume is a file system (POSIX)"),
    "PathKeys": Difference(
        "keys with empty, '.' or '..' segments or a leading '/' would alias other paths",
        "400 InvalidArgument", "the volume is a file system (POSIX)"),
    "LongSegment": Difference("a path segment above 255 bytes", "400 KeyTooLongError", "NAME_MAX of the file system"),
    "FolderWithBytes": Difference("a key ending in '/' is a folder and cannot hold bytes", "400 InvalidArgument",
                                  "the volume is a file system (POSIX)"),
}

# The served operations: (method, level) -> [(operation, query parameters that select it)]; a request
# selects the first operation whose selecting parameters it carries. Every other parameter must be in
# ALLOWED_PARAMS[operation], or the request is refused.
SERVED = {
    ("GET", "service"): [("ListBuckets", set())],
    ("HEAD", "bucket"): [("HeadBucket", set())],
    ("GET", "bucket"): [("ListMultipartUploads", {"uploads"}), ("ListObjectsV2", {"list-type"}),
                        ("ListObjects", set())],
    ("GET", "object"): [("ListParts", {"uploadId"}), ("GetObject", set())],
    ("HEAD", "object"): [("HeadObject", set())],
    ("PUT", "object"): [("UploadPart", {"partNumber", "uploadId"}), ("PutObject", set())],
    ("POST", "object"): [("CreateMultipartUpload", {"uploads"}), ("CompleteMultipartUpload", {"uploadId"})],
    ("DELETE", "object"): [("AbortMultipartUpload", {"uploadId"}), ("DeleteObject", set())],
}
_LIST = {"prefix", "delimiter", "max-keys", "encoding-type"}
_RESPONSE = {"response-content-type", "response-content-disposition", "response-content-encoding",
             "response-content-language", "response-cache-control", "response-expires"}
ALLOWED_PARAMS = {
    "ListObjectsV2": _LIST | {"list-type", "continuation-token", "start-after", "fetch-owner"},
    "ListObjects": _LIST | {"marker"},
    "ListMultipartUploads": {"uploads", "prefix", "delimiter", "max-uploads", "key-marker", "upload-id-marker",
                             "encoding-type"},
    "ListParts": {"uploadId", "max-parts", "part-number-marker"},
    "GetObject": _RESPONSE,
    "UploadPart": {"partNumber", "uploadId"},
    "CreateMultipartUpload": {"uploads"},
    "CompleteMultipartUpload": {"uploadId"},
    "AbortMultipartUpload": {"uploadId"},
}
# query parameters (subresources) that name a feature RunPod does not have: the refusal says which
SUBRESOURCE_FEATURES = {"acl": "ACL", "tagging": "Tagging", "versionId": "Versioning", "versions": "Versioning",
                        "versioning": "Versioning", "location": "GetBucketLocation", "delete": "DeleteObjects",
                        "encryption": "Encryption"}
# headers that change what a request means; unserved ones are refused rather than ignored
REFUSED_HEADER_PREFIXES = {"x-amz-acl": "ACL", "x-amz-grant-": "ACL", "x-amz-tagging": "Tagging",
                           "x-amz-server-side-encryption": "Encryption", "x-amz-object-lock-": "object lock",
                           "x-amz-website-redirect-location": "website redirects",
                           "x-amz-copy-source-if-": "conditional copies", "x-amz-copy-source-range": "UploadPartCopy",
                           "x-amz-copy-source-server-side-encryption": "Encryption",
                           "x-amz-expected-bucket-owner": "bucket owners", "x-amz-bypass-governance": "object lock",
                           "x-amz-write-offset-bytes": "appends", "x-amz-mp-object-size": "multipart object sizes"}
CONDITIONAL_HEADERS = ("If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since")
CONDITIONAL_OPERATIONS = {"If-Match": ("GetObject", "HeadObject", "PutObject", "CompleteMultipartUpload"),
                          "If-None-Match": ("GetObject", "HeadObject", "PutObject", "CompleteMultipartUpload"),
                          "If-Modified-Since": ("GetObject", "HeadObject"),
                          "If-Unmodified-Since": ("GetObject", "HeadObject")}


def _not_implemented(what: str, hint: str = "") -> S3Error:
    return S3Error(501, "NotImplemented", f"{what} is not supported by RunPod's S3 API, so the local S3 API "
                   f"refuses it and changes nothing.{(' ' + hint) if hint else ''}")


def _refuse_headers(headers, op: str) -> None:
    for name in headers:
        low = name.lower()
        for prefix, feature in REFUSED_HEADER_PREFIXES.items():
            if low.startswith(prefix):
                raise _not_implemented(f"The header {name} ({feature})")
    storage = headers.get("x-amz-storage-class", "STANDARD")
    if storage != "STANDARD":
        raise _not_implemented(f"Storage class {storage[:40]}")
    for header in CONDITIONAL_HEADERS:
        if header in headers and op not in CONDITIONAL_OPERATIONS[header]:
            raise _not_implemented(f"The header {header} on {op}")
    if op == "CopyObject" and headers.get("x-amz-tagging-directive", "COPY") != "COPY":
        raise _not_implemented("x-amz-tagging-directive REPLACE (Tagging)")


def resolve(method: str, bucket: str, key: str, query, headers) -> str:
    """The S3 operation a request asks for, or S3Error(501 NotImplemented) when it is not served."""
    level = "object" if key else "bucket" if bucket else "service"
    if "X-Amz-Signature" in query or "X-Amz-Credential" in query:
        raise _not_implemented("A presigned URL", "Sign each request with the S3 API key pair instead.")
    for param in query:
        if param in SUBRESOURCE_FEATURES:
            feature = SUBRESOURCE_FEATURES[param]
            hint = ("Delete each object with DeleteObject." if feature == "DeleteObjects" else
                    "The region is the volume's data center (the endpoint's)." if feature == "GetBucketLocation"
                    else "")
            raise _not_implemented(f"?{param} ({feature})", hint)
    if (method, level) in (("PUT", "bucket"), ("DELETE", "bucket")):
        name = "CreateBucket" if method == "PUT" else "DeleteBucket"
        raise _not_implemented(name, "Create or delete a network volume with the REST API (/v2/network-volumes).")
    choices = SERVED.get((method, level))
    where = f"{method} on {'an' if level == 'object' else 'a'} {level}"
    if choices is None:
        raise _not_implemented(where)
    op = next((name for name, selecting in choices if selecting <= set(query)), None)
    if op is None:
        unknown = sorted(set(query) - {"x-id"})
        raise _not_implemented(f"{where} with ?{unknown[0]}" if unknown else
                               f"{where} without ?{' or ?'.join(sorted(choices[0][1]))}")
    if op == "PutObject" and "x-amz-copy-source" in headers:
        op = "CopyObject"
    if op == "UploadPart" and "x-amz-copy-source" in headers:
        raise _not_implemented("UploadPartCopy", "Copy the object with CopyObject, or upload the part's bytes.")
    if query.get("x-id", op) != op:  # other SDKs name the operation; it must be the one the shape selects
        raise _not_implemented(f"?x-id={query['x-id'][:40]} on {method} {level}")
    extra = sorted(set(query) - ALLOWED_PARAMS.get(op, set()) - {"x-id"})
    if extra:
        raise _not_implemented(f"{op} with ?{extra[0]}")
    _refuse_headers(headers, op)
    return op
