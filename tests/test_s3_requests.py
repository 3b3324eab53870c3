"""No request shape makes the local S3 API answer 5xx (other than 501 NotImplemented) or change data it
should not: generated SigV4-signed requests with any method, S3 subresource or unknown query parameter,
headers that change what a request means, and bodies, against a volume holding a few objects. Also what
a boto3 user meets beside moto's path: listings url-encoded as boto3 asks, files a worker wrote, and
the key pair's refusal message."""

from __future__ import annotations

import base64
import hashlib
import zlib
from urllib.parse import quote

import pytest
import requests
import s3_helpers
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local_support import platform_with_own_build_dir

from playbook.storage import volume

SUBRESOURCES = ["acl", "tagging", "versioning", "versions", "versionId", "location", "delete", "uploads", "uploadId",
                "partNumber", "restore", "select", "attributes", "torrent", "policy", "cors", "lifecycle", "website",
                "encryption", "legal-hold", "retention", "list-type", "prefix", "marker", "max-keys", "x-id",
                "response-content-type", "continuation-token", "bogus"]
HEADERS = {"x-amz-acl": "public-read", "x-amz-tagging": "a=b", "x-amz-server-side-encryption": "AES256",
           "x-amz-storage-class": "GLACIER", "x-amz-copy-source": "{bucket}/a.txt",
           "x-amz-metadata-directive": "REPLACE", "If-Match": '"nope"', "If-None-Match": "*", "Range": "bytes=1-2",
           "x-amz-checksum-crc32": "AAAAAA==", "x-amz-checksum-crc32c": "AAAAAA==", "Content-MD5": "nope",
           "x-amz-grant-read": "id=x", "x-amz-object-lock-mode": "GOVERNANCE", "x-amz-copy-source-range": "bytes=0-1"}
# requests that may change the volume when they succeed: the served writes, without any subresource
WRITES = {("PUT", ()), ("DELETE", ()), ("POST", ("uploadId",))}
FILES = {"a.txt": b"hello world", "dir/b.bin": bytes(range(256)), "e/": b""}


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with platform_with_own_build_dir(tmp_path_factory.mktemp("s3req"), record=False) as plat:
        yield plat


@pytest.fixture(scope="module")
def vol(platform):
    bucket = s3_helpers.local_volume(platform)
    return bucket, s3_helpers.local_client(platform)


def fill(s3, bucket):
    for key, body in FILES.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)


def contents(s3, bucket) -> dict[str, tuple[str, bytes]]:
    out = {}
    for listed in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        got = s3.get_object(Bucket=bucket, Key=listed["Key"])
        out[listed["Key"]] = (listed["ETag"], got["ETag"], got["Body"].read())
    return out


def signed(platform, method: str, path: str, query: list[tuple[str, str]], headers: dict, body: bytes):
    url = f"{volume.s3_endpoint_url(platform.target, s3_helpers.REGION)}{path}"
    if query:
        url += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" if v else quote(k, safe="")
                              for k, v in query)
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    S3SigV4Auth(Credentials(volume.LOCAL_ACCESS_KEY, platform.api_key), "s3", s3_helpers.REGION).add_auth(request)
    prepared = request.prepare()
    return requests.request(method, prepared.url, headers=dict(prepared.headers), data=body, timeout=30)


METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"]


def check_untouched(platform, s3, bucket, method, path, query, headers, body):
    """Send one request; it answers below 500 (or 501 NotImplemented) and, unless it is a served write
    that succeeded, the volume's objects (ETags and bytes) are as they were."""
    fill(s3, bucket)
    before = contents(s3, bucket)
    answer = signed(platform, method, path, query, headers, body)
    assert answer.status_code < 500 or (answer.status_code == 501 and (method == "HEAD" or b"NotImplemented"
                                                                        in answer.content)), answer.content[:300]
    write = (method, tuple(sorted(k for k, _ in query))) in WRITES and path.count("/") > 1
    if not (write and 200 <= answer.status_code < 300):
        assert contents(s3, bucket) == before, (method, path, query, headers, answer.status_code)


@pytest.mark.parametrize("method", METHODS)
def test_every_subresource_with_every_method_is_served_or_refused_untouched(platform, vol, method):
    bucket, s3 = vol
    for target in (f"/{bucket}/a.txt", f"/{bucket}"):
        for name in SUBRESOURCES:
            check_untouched(platform, s3, bucket, method, target, [(name, "1" if name == "partNumber" else "")],
                            {}, b"REPLACED")


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(method=st.sampled_from(METHODS),
       target=st.sampled_from(["", "{bucket}", "{bucket}/a.txt", "{bucket}/dir/b.bin", "{bucket}/e/",
                               "{bucket}/n%20ew"]),
       query=st.lists(st.tuples(st.sampled_from(SUBRESOURCES), st.sampled_from(["", "1", "x"])), min_size=1,
                      max_size=2, unique_by=lambda t: t[0]) | st.just([]),
       headers=st.lists(st.sampled_from(sorted(HEADERS)), max_size=2, unique=True),
       body=st.sampled_from([b"REPLACED", b"<Tagging><TagSet/></Tagging>", b""]))
def test_generated_request_shapes_answer_no_5xx_and_change_nothing_they_should_not(platform, vol, method, target,
                                                                                   query, headers, body):
    bucket, s3 = vol
    check_untouched(platform, s3, bucket, method, "/" + target.format(bucket=bucket), query,
                    {h: HEADERS[h].format(bucket=bucket) for h in headers}, body)


def test_url_encoded_listings_decode_to_the_keys(vol):
    """boto3 sends encoding-type=url on every listing and decodes the answer: keys XML cannot carry
    (control characters) and '+' or '%' in keys come back as they were written."""
    bucket, s3 = vol
    keys = ["enc/a+b c", "enc/100%", "enc/\x01ctl", "enc/é/x", "enc/&<>"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    v2 = s3.list_objects_v2(Bucket=bucket, Prefix="enc/")
    assert v2["EncodingType"] == "url" and [o["Key"] for o in v2["Contents"]] == sorted(keys)
    v1 = s3.list_objects(Bucket=bucket, Prefix="enc/", Delimiter="/")
    assert [p["Prefix"] for p in v1["CommonPrefixes"]] == ["enc/é/"] and "enc/é/x" not in str(v1["Contents"])
    pages = list(s3.get_paginator("list_objects").paginate(Bucket=bucket, Prefix="enc/", PaginationConfig={
        "PageSize": 2}))
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == sorted(keys)  # v1's Marker is honoured


def test_a_file_a_worker_changed_gets_the_md5_of_its_bytes(platform, vol):
    from playbook.local.servers.control_api import volume_folder

    bucket, s3 = vol
    put = s3.put_object(Bucket=bucket, Key="w/model.bin", Body=b"v1")["ETag"]
    assert s3.head_object(Bucket=bucket, Key="w/model.bin")["ETag"] == put
    (volume_folder(bucket) / "w" / "model.bin").write_bytes(b"version two")  # as a worker writes it
    head = s3.head_object(Bucket=bucket, Key="w/model.bin")
    assert head["ETag"] == f'"{hashlib.md5(b"version two").hexdigest()}"' != put
    assert s3.get_object(Bucket=bucket, Key="w/model.bin")["ETag"] == head["ETag"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="w/")["Contents"]
    assert [(o["Key"], o["ETag"]) for o in listed] == [("w/model.bin", head["ETag"])]


def test_a_wrong_secret_is_told_which_pair_the_local_platform_expects(platform, vol):
    bucket, _ = vol
    wrong = s3_helpers.client(volume.s3_endpoint_url(platform.target, s3_helpers.REGION), "user_local", "rps_wrong")
    with pytest.raises(ClientError) as err:
        wrong.list_objects_v2(Bucket=bucket)
    message = err.value.response["Error"]["Message"]
    assert "RUNPOD_S3_ACCESS_KEY_ID=user_local" in message and "playbook local env" in message
    assert "RunPod's console" not in message.split("on RunPod")[0]


def test_content_md5_and_checksums_are_checked_as_s3_checks_them(vol):
    bucket, s3 = vol
    body = b"weights"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    assert s3.put_object(Bucket=bucket, Key="md5/ok", Body=body, ContentMD5=good)["ETag"] == \
        f'"{hashlib.md5(body).hexdigest()}"'
    for header, code in ((base64.b64encode(hashlib.md5(b"other").digest()).decode(), "BadDigest"),
                         ("not-base64!", "InvalidDigest")):
        with pytest.raises(ClientError) as err:
            s3.put_object(Bucket=bucket, Key="md5/bad", Body=body, ContentMD5=header)
        assert err.value.response["Error"]["Code"] == code
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    s3.put_object(Bucket=bucket, Key="crc/ok", Body=body, ChecksumCRC32=crc)
    with pytest.raises(ClientError, match="BadDigest"):
        s3.put_object(Bucket=bucket, Key="crc/bad", Body=body, ChecksumCRC32="AAAAAA==")
    with pytest.raises(ClientError, match="when_required"):
        s3.put_object(Bucket=bucket, Key="crc/c", Body=body, ChecksumCRC32C="AAAAAA==")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="md5/")["Contents"]]
    keys += [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="crc/")["Contents"]]
    assert keys == ["md5/ok", "crc/ok"]  # nothing refused landed


def test_a_folder_key_cannot_hold_bytes_and_a_collision_is_409(vol):
    bucket, s3 = vol
    with pytest.raises(ClientError, match="cannot hold bytes"):
        s3.put_object(Bucket=bucket, Key="f/", Body=b"bytes")
    s3.put_object(Bucket=bucket, Key="c/file", Body=b"1")
    for key in ("c", "c/file/under"):
        with pytest.raises(ClientError) as err:
            s3.put_object(Bucket=bucket, Key=key, Body=b"2")
        assert err.value.response["Error"]["Code"] == "KeyConflict"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert s3.get_object(Bucket=bucket, Key="c/file")["Body"].read() == b"1"
