"""The local S3 API against moto's S3 server, driven by the same generated sequences of boto3 calls.

Why: the push and verify code walk one path through S3; a user's own boto3 script may walk any other.
Each step of a hypothesis state machine makes the same call on both servers (keys with spaces, unicode,
``%``, ``+``, slashes and dots; sizes around the part limits; listings with every combination of prefix,
delimiter, page size and token or marker; ranges; conditional reads; copies; deletes; the multipart set)
and the answers must agree: bytes, ETags, content types, listings page by page, and error codes.

The only disagreements allowed are the documented ones, predicted by the test before the call from its
own model of what exists: RunPod's (``s3_rules.RUNPOD_DIFFERENCES``: refused features answer 501
NotImplemented, checked to change nothing) and the file system's (``s3_rules.LOCAL_DIFFERENCES``: a key
where a folder is, or under a file, answers 409 KeyConflict; keys with empty, '.' or '..' segments
answer 400 InvalidArgument). A few thousand calls per run; the sequences are derandomized, so CI
replays the same ones.
"""

from __future__ import annotations

import hashlib
import os
from email.utils import formatdate

import pytest
import s3_helpers
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)
from local_support import platform_with_own_build_dir

from playbook.local.servers import s3_rules

KEY_SEGMENT = st.text(alphabet="ab %+é~&.", min_size=1, max_size=3)
SMALL_SIZES = st.one_of(st.sampled_from([0, 1, 2, 5, 16, 255, 256, 1023, 1024, 2000, 2001]), st.integers(0, 2100))
CONTENT_TYPES = st.sampled_from([None, "text/plain", "application/json"])
METADATA = st.sampled_from([{}, {"origin": "test"}, {"who": "a b+c"}])
# a boto3 call for each feature of RunPod's table that the local API refuses (s3_rules.RUNPOD_DIFFERENCES)
UNSERVED_CALLS = {
    "DeleteObjects": lambda s3, b, k: s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": k}]}),
    "GetBucketLocation": lambda s3, b, k: s3.get_bucket_location(Bucket=b),
    "Versioning": lambda s3, b, k: s3.get_object(Bucket=b, Key=k, VersionId="null"),
    "VersioningDelete": lambda s3, b, k: s3.delete_object(Bucket=b, Key=k, VersionId="null"),
    "VersioningList": lambda s3, b, k: s3.list_object_versions(Bucket=b),
    "ACL": lambda s3, b, k: s3.put_object_acl(Bucket=b, Key=k, ACL="private"),
    "ACLHeader": lambda s3, b, k: s3.put_object(Bucket=b, Key=k, Body=b"x", ACL="public-read"),
    "Tagging": lambda s3, b, k: s3.put_object_tagging(Bucket=b, Key=k, Tagging={"TagSet": []}),
    "TaggingDelete": lambda s3, b, k: s3.delete_object_tagging(Bucket=b, Key=k),
    "TaggingHeader": lambda s3, b, k: s3.put_object(Bucket=b, Key=k, Body=b"x", Tagging="a=b"),
    "Encryption": lambda s3, b, k: s3.put_object(Bucket=b, Key=k, Body=b"x", ServerSideEncryption="AES256"),
    "LegalHold": lambda s3, b, k: s3.put_object_legal_hold(Bucket=b, Key=k, LegalHold={"Status": "ON"}),
    "Restore": lambda s3, b, k: s3.restore_object(Bucket=b, Key=k, RestoreRequest={"Days": 1}),
    "Attributes": lambda s3, b, k: s3.get_object_attributes(Bucket=b, Key=k, ObjectAttributes=["ETag"]),
    "PartNumberRead": lambda s3, b, k: s3.get_object(Bucket=b, Key=k, PartNumber=1),
    "UploadPartCopy": lambda s3, b, k: s3.upload_part_copy(Bucket=b, Key=k, UploadId="x", PartNumber=1,
                                                           CopySource={"Bucket": b, "Key": k}),
    "StorageClass": lambda s3, b, k: s3.put_object(Bucket=b, Key=k, Body=b"x", StorageClass="GLACIER"),
    "ConditionalCopy": lambda s3, b, k: s3.copy_object(Bucket=b, Key=k + "-c", CopySource={"Bucket": b, "Key": k},
                                                       CopySourceIfMatch='"x"'),
}
SCALED_LIMIT = 2000  # RunPod's 500 MB PutObject and part limits, scaled to the sizes generated here
PAST, FUTURE = formatdate(946684800, usegmt=True), formatdate(4102444800, usegmt=True)  # 2000 and 2100


@st.composite
def keys(draw, folder: bool | None = None) -> str:
    segments = draw(st.lists(KEY_SEGMENT, min_size=1, max_size=3))
    key = "/".join(segments)
    if draw(st.booleans()) if folder is None else folder:
        key += "/"
    return key


def refused_key(key: str) -> bool:
    """Keys the local API refuses as paths (LOCAL_DIFFERENCES PathKeys): empty, '.' or '..' segments."""
    return any(s in ("", ".", "..") for s in key.removesuffix("/").split("/"))


def folders_of(key: str) -> list[str]:
    parts = key.removesuffix("/").split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def conflicts(key: str, existing) -> bool:
    """Whether a file system cannot hold ``key`` beside ``existing`` (LOCAL_DIFFERENCES FileFolderCollision)."""
    if any(f in existing for f in folders_of(key)):
        return True  # a folder on the way is a file
    name = key.removesuffix("/")
    if key.endswith("/"):
        return name in existing
    return any(k.startswith(name + "/") for k in existing)


def outcome(call, **kwargs):
    """(True, value) or (False, HTTP status, S3 error code) of a boto3 call."""
    try:
        return (True, call(**kwargs))
    except ClientError as exc:
        meta = exc.response.get("ResponseMetadata", {})
        return (False, meta.get("HTTPStatusCode"), exc.response.get("Error", {}).get("Code"))


def object_view(answer: dict) -> dict:
    body = answer.pop("Body", None)
    view = {k: answer.get(k) for k in ("ETag", "ContentLength", "ContentRange", "ContentType", "Metadata")}
    if body is not None:
        view["Body"] = body.read()
    return view


def listing_view(page: dict, v1: bool = False) -> dict:
    contents = [(o["Key"], o["Size"], o["ETag"]) for o in page.get("Contents", [])]
    prefixes = [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    count = len(contents) + len(prefixes) if v1 else page.get("KeyCount")  # v1 answers no KeyCount
    return {"Contents": contents, "CommonPrefixes": prefixes, "IsTruncated": page.get("IsTruncated"),
            "KeyCount": count}


def raw_listings(s3):
    """Stop boto3 from asking for url-encoded listings (it sends encoding-type=url on every listing and
    decodes the answer): moto 5.2.5 leaves v1's CommonPrefixes unencoded, so '+' comes back as a space."""
    from botocore import handlers

    for op in ("ListObjects", "ListObjectsV2"):
        s3.meta.events.unregister(f"before-parameter-build.s3.{op}", handlers.set_list_objects_encoding_type_url)
    return s3


class Servers:
    """The two servers and a bucket on each: the local API (a new network volume) and moto."""

    def __init__(self, platform, moto_url: str):
        self.local, self.moto = s3_helpers.local_client(platform), s3_helpers.client(moto_url, "user_x", "rps_y")
        for s3 in (self.local, self.moto):  # listings as S3 writes them (moto's url-encoding is incomplete)
            raw_listings(s3)
        self.local_bucket, self.moto_bucket = s3_helpers.local_volume(platform), s3_helpers.moto_bucket(moto_url)
        self.calls = 0

    def both(self, op: str, local_args: dict | None = None, moto_args: dict | None = None, view=None, **kwargs):
        """Make the call on both sides; each answer as ``outcome`` gives it, passed through ``view``."""
        answers = []
        for s3, bucket, extra in ((self.local, self.local_bucket, local_args), (self.moto, self.moto_bucket,
                                                                                moto_args)):
            got = outcome(getattr(s3, op), Bucket=bucket, **kwargs, **(extra or {}))
            answers.append((True, view(got[1])) if got[0] and view else got)
            self.calls += 1
        return answers


class Differential(RuleBasedStateMachine):
    platform = moto_url = None  # set by the test

    calls = 0  # boto3 calls made, all runs together

    @initialize()
    def start(self):
        self.s = Servers(self.platform, self.moto_url)
        self.existing: dict[str, str] = {}  # key -> ETag, as both servers hold it
        self.uploads: list[dict] = []  # multipart uploads in progress on both

    # -- what a generated key must get instead of S3's answer ------------------------------------------

    def expected_refusal(self, key: str, write: bool, size: int = 0) -> tuple[int, str] | None:
        if refused_key(key):
            return (400, "InvalidArgument")
        if write and conflicts(key, self.existing):
            return (409, "KeyConflict")
        if size > SCALED_LIMIT:  # RUNPOD_DIFFERENCES PutObjectSize and PartSize, scaled down
            return (400, "EntityTooLarge")
        return None

    def local_only(self, key: str, write: bool, call, size: int = 0) -> bool:
        """When the local API must refuse ``key`` (or a body of ``size``), check that it does (and moto is
        not asked)."""
        refusal = self.expected_refusal(key, write, size)
        if refusal is None:
            return False
        got = outcome(lambda: call(self.s.local, self.s.local_bucket))
        self.s.calls += 1
        if got[0] is False and got[2] == str(got[1]):  # HEAD: the status alone (no body carries the code)
            refusal = (refusal[0], str(refusal[0]))
        assert got[0] is False and got[1:] == refusal, (key, got, refusal)
        return True

    def teardown(self):
        Differential.calls += self.s.calls

    def agree(self, answers, what):
        local, moto = answers
        assert local == moto, f"{what}: local {local!r} != moto {moto!r}"
        return local

    # -- objects --------------------------------------------------------------------------------------

    @rule(key=keys(), size=SMALL_SIZES, content_type=CONTENT_TYPES, metadata=METADATA,
          condition=st.sampled_from([None, None, "IfNoneMatch", "IfMatch"]))
    def put(self, key, size, content_type, metadata, condition):
        body = b"" if key.endswith("/") else os.urandom(size)
        extra = {"ContentType": content_type} if content_type else {}
        extra.update({"Metadata": metadata} if metadata else {})
        if condition == "IfNoneMatch":
            extra["IfNoneMatch"] = "*"
        elif condition == "IfMatch":
            extra["IfMatch"] = self.existing.get(key, '"0123456789abcdef0123456789abcdef"')
        if self.local_only(key, True, lambda s3, b: s3.put_object(Bucket=b, Key=key, Body=body, **extra), len(body)):
            return
        answer = self.agree(self.s.both("put_object", Key=key, Body=body, view=lambda a: a["ETag"], **extra),
                            f"PutObject {key!r}")
        if answer[0]:
            self.existing[key] = answer[1]

    @rule(key=keys(), span=st.one_of(st.none(), st.tuples(st.integers(0, 2100), st.integers(0, 2100)),
                                     st.sampled_from(["bytes=0-", "bytes=-1", "bytes=-0", "bytes=-5000", "bytes=x-y",
                                                      "bytes=0-1,3-4", "bytes=3-1", "bytes=1024-"])),
          condition=st.sampled_from([None, "IfMatch", "IfMatchOther", "IfNoneMatch", "IfNoneMatchOther",
                                     "IfModifiedSincePast", "IfModifiedSinceFuture", "IfUnmodifiedSincePast",
                                     "IfUnmodifiedSinceFuture"]),
          head=st.booleans())
    def read(self, key, span, condition, head):
        extra = {}
        if span is not None:
            extra["Range"] = span if isinstance(span, str) else f"bytes={span[0]}-{span[1]}"
        etag = self.existing.get(key, '"00000000000000000000000000000000"')
        other = '"ffffffffffffffffffffffffffffffff"'
        extra.update({"IfMatch": {"IfMatch": etag}, "IfMatchOther": {"IfMatch": other},
                      "IfNoneMatch": {"IfNoneMatch": etag}, "IfNoneMatchOther": {"IfNoneMatch": other},
                      "IfModifiedSincePast": {"IfModifiedSince": PAST},
                      "IfModifiedSinceFuture": {"IfModifiedSince": FUTURE},
                      "IfUnmodifiedSincePast": {"IfUnmodifiedSince": PAST},
                      "IfUnmodifiedSinceFuture": {"IfUnmodifiedSince": FUTURE}}.get(condition, {}))
        op = "head_object" if head else "get_object"
        if self.local_only(key, False, lambda s3, b: getattr(s3, op)(Bucket=b, Key=key, **extra)):
            return
        self.agree(self.s.both(op, Key=key, view=object_view, **extra), f"{op} {key!r} {extra}")

    @rule(data=st.data(), dest=keys(folder=False), replace=st.booleans(), content_type=CONTENT_TYPES)
    def copy(self, data, dest, replace, content_type):
        files = sorted(k for k in self.existing if not k.endswith("/"))
        source = data.draw(st.sampled_from(files)) if files and data.draw(st.booleans()) else dest + "-missing"
        extra = {"MetadataDirective": "REPLACE"} if replace else {}
        extra.update({"ContentType": content_type} if replace and content_type else {})
        if self.local_only(dest, True, lambda s3, b: s3.copy_object(Bucket=b, Key=dest, CopySource={
                "Bucket": b, "Key": source}, **extra)):
            return
        answer = self.agree(self.s.both("copy_object", Key=dest, view=lambda a: a["CopyObjectResult"]["ETag"],
                                        local_args={"CopySource": {"Bucket": self.s.local_bucket, "Key": source}},
                                        moto_args={"CopySource": {"Bucket": self.s.moto_bucket, "Key": source}},
                                        **extra), f"CopyObject {source!r} -> {dest!r}")
        if answer[0]:
            self.existing[dest] = answer[1]

    @rule(data=st.data(), fresh=keys())
    def delete(self, data, fresh):
        key = data.draw(st.sampled_from(sorted(self.existing))) if self.existing and data.draw(st.booleans()) \
            else fresh
        if self.local_only(key, False, lambda s3, b: s3.delete_object(Bucket=b, Key=key)):
            return
        answer = self.agree(self.s.both("delete_object", Key=key, view=lambda a: a["ResponseMetadata"][
            "HTTPStatusCode"]), f"DeleteObject {key!r}")
        if answer[0]:
            self.existing.pop(key, None)

    # -- listings -------------------------------------------------------------------------------------

    @rule(prefix=st.one_of(st.just(""), KEY_SEGMENT, keys()), delimiter=st.sampled_from(["", "/", "a", "%"]),
          page_size=st.sampled_from([1, 2, 3, 1000]), start=st.one_of(st.none(), KEY_SEGMENT),
          v1=st.booleans())
    def list_all(self, prefix, delimiter, page_size, start, v1):
        """Follow the pages to the end on both sides, comparing each page. The local side lists with v2
        or v1 (following NextMarker, else the last key, as boto3's paginator does); moto always lists
        with v2, because moto 5.2.5's v1 leaves CommonPrefixes out of MaxKeys and Marker (S3 pages v1 and
        v2 alike: KeyCount, keys plus prefixes, never exceeds MaxKeys)."""
        args = {"Prefix": prefix, "MaxKeys": page_size, **({"Delimiter": delimiter} if delimiter else {})}
        local_token = moto_token = None
        for _ in range(60):
            local_more = ({"Marker": local_token or start} if local_token or start is not None else {}) if v1 else \
                ({"ContinuationToken": local_token} if local_token else {"StartAfter": start} if start else {})
            moto_more = {"ContinuationToken": moto_token} if moto_token else {"StartAfter": start} if start else {}
            local = outcome(self.s.local.list_objects if v1 else self.s.local.list_objects_v2,
                            Bucket=self.s.local_bucket, **args, **local_more)
            moto = outcome(self.s.moto.list_objects_v2, Bucket=self.s.moto_bucket, **args, **moto_more)
            self.s.calls += 2
            views = [(got[0], listing_view(got[1], v1=v1)) if got[0] else got for got in (local, moto)]
            self.agree(views, f"{'ListObjects' if v1 else 'ListObjectsV2'} {args} {local_more}")
            if not local[0]:
                return
            if v1:  # S3 answers NextMarker only with a delimiter; boto3 then continues from the last key
                assert ("NextMarker" in local[1]) == bool(local[1]["IsTruncated"] and delimiter), local[1]
            if not local[1]["IsTruncated"]:
                return
            moto_token = moto[1]["NextContinuationToken"]
            local_token = (local[1].get("NextMarker") or local[1]["Contents"][-1]["Key"]) if v1 else \
                local[1]["NextContinuationToken"]
        raise AssertionError(f"listing {args} did not end after 60 pages")

    # -- multipart ------------------------------------------------------------------------------------

    @rule(key=keys(folder=False), content_type=CONTENT_TYPES)
    def create_upload(self, key, content_type):
        extra = {"ContentType": content_type} if content_type else {}
        if self.local_only(key, True, lambda s3, b: s3.create_multipart_upload(Bucket=b, Key=key, **extra)):
            return
        local, moto = self.s.both("create_multipart_upload", Key=key, view=lambda a: a["UploadId"], **extra)
        assert local[0] and moto[0], (local, moto)
        self.uploads.append({"key": key, "ids": (local[1], moto[1]), "parts": {}})

    def upload_args(self, upload):
        return {"local_args": {"UploadId": upload["ids"][0]}, "moto_args": {"UploadId": upload["ids"][1]},
                "Key": upload["key"]}

    @precondition(lambda self: self.uploads)
    @rule(data=st.data(), number=st.integers(1, 4), size=st.integers(1, 3000))
    def upload_part(self, data, number, size):
        upload = data.draw(st.sampled_from(self.uploads))
        body = os.urandom(size)
        if self.local_only(upload["key"], False, lambda s3, b: s3.upload_part(
                Bucket=b, Key=upload["key"], UploadId=upload["ids"][0], PartNumber=number, Body=body), size):
            return
        answer = self.agree(self.s.both("upload_part", PartNumber=number, Body=body, view=lambda a: a["ETag"],
                                        **self.upload_args(upload)), f"UploadPart {number}")
        assert answer[0] and answer[1] == f'"{hashlib.md5(body).hexdigest()}"'
        upload["parts"][number] = answer[1]

    @precondition(lambda self: self.uploads)
    @rule(data=st.data())
    def list_parts(self, data):
        upload = data.draw(st.sampled_from(self.uploads))
        self.agree(self.s.both("list_parts", **self.upload_args(upload), view=lambda a: [
            (p["PartNumber"], p["ETag"], p["Size"]) for p in a.get("Parts", [])]), "ListParts")

    @rule(prefix=st.one_of(st.just(""), KEY_SEGMENT))
    def list_uploads(self, prefix):
        ids = {u["ids"][0]: u["ids"][1] for u in self.uploads}
        local, moto = self.s.both("list_multipart_uploads", Prefix=prefix, view=lambda a: sorted(
            (u["Key"], u["UploadId"]) for u in a.get("Uploads", [])))
        assert local[0] and moto[0]
        assert sorted((k, ids.get(i, i)) for k, i in local[1]) == moto[1]

    @precondition(lambda self: self.uploads)
    @rule(data=st.data(), how=st.sampled_from(["all", "all", "some", "unordered", "wrong-etag", "missing"]))
    def complete(self, data, how):
        upload = data.draw(st.sampled_from(self.uploads))
        numbers = sorted(upload["parts"])
        if how == "some" and numbers:
            numbers = sorted(data.draw(st.sets(st.sampled_from(numbers), min_size=1)))
        parts = [{"PartNumber": n, "ETag": upload["parts"][n]} for n in numbers]
        if how == "unordered" and len(parts) > 1:
            parts.reverse()
        elif how == "wrong-etag" and parts:
            parts[0]["ETag"] = '"00000000000000000000000000000000"'
        elif how == "missing":
            parts.append({"PartNumber": 9, "ETag": '"00000000000000000000000000000000"'})
        if not parts:
            return  # S3 and moto disagree on an empty part list; boto3 users never send one
        key = upload["key"]
        call = {"MultipartUpload": {"Parts": parts}}
        if self.local_only(key, True, lambda s3, b: s3.complete_multipart_upload(
                Bucket=b, Key=key, UploadId=upload["ids"][0], **call)):
            return
        answer = self.agree(self.s.both("complete_multipart_upload", **self.upload_args(upload),
                                        view=lambda a: a["ETag"], **call), f"CompleteMultipartUpload {how}")
        if answer[0]:
            self.existing[key] = answer[1]
            self.uploads.remove(upload)

    @precondition(lambda self: self.uploads)
    @rule(data=st.data())
    def abort(self, data):
        upload = data.draw(st.sampled_from(self.uploads))
        self.agree(self.s.both("abort_multipart_upload", **self.upload_args(upload),
                               view=lambda a: a["ResponseMetadata"]["HTTPStatusCode"]), "AbortMultipartUpload")
        self.uploads.remove(upload)

    # -- what RunPod does not serve: refused, and nothing changes ----------------------------------------

    @rule(data=st.data(), which=st.sampled_from(sorted(UNSERVED_CALLS)))
    def unserved(self, data, which):
        key = data.draw(st.sampled_from(sorted(self.existing))) if self.existing else "absent"
        before = self.snapshot()
        got = outcome(lambda: UNSERVED_CALLS[which](self.s.local, self.s.local_bucket, key))
        self.s.calls += 1
        assert got[0] is False and got[1:] == (501, "NotImplemented"), (which, got)
        assert self.snapshot() == before, f"{which} changed the volume"

    def snapshot(self):
        objects = self.s.local.list_objects_v2(Bucket=self.s.local_bucket).get("Contents", [])
        return [(o["Key"], o["ETag"], self.s.local.get_object(Bucket=self.s.local_bucket, Key=o["Key"])["Body"].read())
                for o in objects]


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with platform_with_own_build_dir(tmp_path_factory.mktemp("s3diff"), record=False) as plat:
        yield plat


@pytest.fixture(scope="module")
def moto_url():
    with s3_helpers.moto_server() as url:
        yield url


def test_local_s3_answers_as_moto_does(platform, moto_url):
    Differential.platform, Differential.moto_url = platform, moto_url
    platform.s3.max_put_bytes = platform.s3.max_part_bytes = SCALED_LIMIT
    try:
        run_state_machine_as_test(Differential, settings=settings(
            max_examples=60, stateful_step_count=40, deadline=None, derandomize=True, database=None,
            suppress_health_check=list(HealthCheck)))
    finally:
        platform.s3.max_put_bytes = platform.s3.max_part_bytes = s3_rules.MAX_OBJECT_BYTES
    print(f"{Differential.calls} boto3 calls")
    assert Differential.calls >= 2000  # "a few thousand" per run: the generated sequences are not trivial


def test_unserved_calls_cover_runpods_table():
    """Every operation RunPod's table lists as refused has a boto3 call the state machine sends."""
    refused = {name for name, diff in s3_rules.RUNPOD_DIFFERENCES.items() if diff.answer.startswith("501")}
    assert refused - {"CreateBucket", "DeleteBucket", "PresignedURL"} <= set(UNSERVED_CALLS)  # those: test_volume


# -- boto3's transfer manager with its defaults (8 MiB threshold and parts, ranged parallel downloads) ----

MIB = 1 << 20


def transfer_etag(path, part_bytes: int = 8 * MIB) -> str:
    """S3's ETag of what boto3's transfer manager uploads: a plain MD5 below its 8 MiB threshold, else a
    multipart upload in 8 MiB parts: the MD5 of the parts' MD5s, then -N."""
    data = path.read_bytes()
    if len(data) < part_bytes:
        return f'"{hashlib.md5(data).hexdigest()}"'
    digests = b"".join(hashlib.md5(data[i:i + part_bytes]).digest() for i in range(0, len(data), part_bytes))
    return f'"{hashlib.md5(digests).hexdigest()}-{len(digests) // 16}"'


def round_trip(s3, bucket: str, source, tmp_path) -> str:
    """upload_file then download_file with boto3's defaults; the ETag after checking the bytes."""
    key = f"models/{source.name} +%.bin"
    s3.upload_file(str(source), bucket, key)
    back = tmp_path / f"back-{source.name}"
    s3.download_file(bucket, key, str(back))
    assert back.read_bytes() == source.read_bytes()
    back.unlink()
    return s3.head_object(Bucket=bucket, Key=key)["ETag"]


@pytest.mark.parametrize("size", [8 * MIB - 1, 8 * MIB, 8 * MIB + 1, 16 * MIB + 5])
def test_upload_file_and_download_file_with_boto3_defaults_as_on_moto(platform, moto_url, tmp_path, size):
    source = tmp_path / f"weights-{size}"
    source.write_bytes(os.urandom(size))
    local = round_trip(s3_helpers.local_client(platform), s3_helpers.local_volume(platform), source, tmp_path)
    moto = round_trip(s3_helpers.client(moto_url, "user_x", "rps_y"), s3_helpers.moto_bucket(moto_url), source,
                      tmp_path)
    assert local == moto == transfer_etag(source)


def test_a_200_mb_file_round_trips_with_boto3_defaults(platform, tmp_path):
    """The issue's bar: 200 MB up and down with upload_file/download_file and no settings of ours, the
    client as boto3 makes it (default checksums included), the ETag as S3 defines it for 8 MiB parts."""
    import boto3

    from playbook.storage import volume

    source = tmp_path / "unet.safetensors"
    with source.open("wb") as f:
        for _ in range(200):
            f.write(os.urandom(10**6))
    s3 = boto3.client("s3", endpoint_url=volume.s3_endpoint_url(platform.target, s3_helpers.REGION),
                      region_name=s3_helpers.REGION, aws_access_key_id=volume.LOCAL_ACCESS_KEY,
                      aws_secret_access_key=platform.api_key)
    assert round_trip(s3, s3_helpers.local_volume(platform), source, tmp_path) == transfer_etag(source)
