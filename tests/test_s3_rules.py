"""The local S3 API's rules without a server: which request shapes are served (everything else is
refused with 501 NotImplemented), S3's conditional-request precedence and byte ranges, and keys a file
system cannot hold. The combinations of conditions are S3's documented table (Amazon S3 User Guide,
"Conditional requests"; RFC 7232 section 6), which moto does not follow in every case."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from playbook.local.servers import s3_rules
from playbook.local.servers.s3_reads import byte_range, check_conditions
from playbook.local.servers.s3_store import Store
from playbook.local.servers.s3_support import S3Error

ETAG, MODIFIED = '"abc"', 1_000_000_000.0  # Last-Modified 2001-09-09 01:46:40 GMT
BEFORE, AT, AFTER = "Sat, 01 Jan 2000 00:00:00 GMT", "Sun, 09 Sep 2001 01:46:40 GMT", "Sat, 01 Jan 2100 00:00:00 GMT"


def refused(method, bucket="vol", key="k", query=None, headers=None) -> str:
    with pytest.raises(S3Error) as err:
        s3_rules.resolve(method, bucket, key, CIMultiDict(query or {}), CIMultiDict(headers or {}))
    assert err.value.status == 501 and err.value.code == "NotImplemented"
    return err.value.message


@pytest.mark.parametrize("method,bucket,key,query,op", [
    ("GET", "", "", {}, "ListBuckets"),
    ("GET", "vol", "", {"list-type": "2", "prefix": "a", "delimiter": "/", "encoding-type": "url"}, "ListObjectsV2"),
    ("GET", "vol", "", {"marker": "a", "max-keys": "2"}, "ListObjects"),
    ("GET", "vol", "", {"uploads": ""}, "ListMultipartUploads"),
    ("HEAD", "vol", "", {}, "HeadBucket"),
    ("GET", "vol", "a/b", {}, "GetObject"),
    ("GET", "vol", "a/b", {"response-content-type": "text/plain"}, "GetObject"),
    ("GET", "vol", "a/b", {"uploadId": "u"}, "ListParts"),
    ("PUT", "vol", "a/b", {}, "PutObject"),
    ("PUT", "vol", "a/b", {"partNumber": "1", "uploadId": "u"}, "UploadPart"),
    ("POST", "vol", "a/b", {"uploads": ""}, "CreateMultipartUpload"),
    ("POST", "vol", "a/b", {"uploadId": "u"}, "CompleteMultipartUpload"),
    ("DELETE", "vol", "a/b", {"uploadId": "u"}, "AbortMultipartUpload"),
    ("DELETE", "vol", "a/b", {}, "DeleteObject"),
    ("GET", "vol", "a/b", {"x-id": "GetObject"}, "GetObject"),
])
def test_served_shapes(method, bucket, key, query, op):
    assert s3_rules.resolve(method, bucket, key, CIMultiDict(query), CIMultiDict()) == op


def test_copy_is_a_put_with_a_source():
    assert s3_rules.resolve("PUT", "v", "k", CIMultiDict(), CIMultiDict({"x-amz-copy-source": "v/a"})) == "CopyObject"


@pytest.mark.parametrize("method,bucket,key,query,headers,says", [
    ("PUT", "vol", "k", {"acl": ""}, {}, "?acl (ACL)"),  # once: replaced the object's bytes with the ACL XML
    ("PUT", "vol", "k", {"tagging": ""}, {}, "?tagging (Tagging)"),
    ("DELETE", "vol", "k", {"tagging": ""}, {}, "?tagging"),  # once: deleted the object
    ("GET", "vol", "k", {"acl": ""}, {}, "?acl"),
    ("GET", "vol", "", {"versioning": ""}, {}, "Versioning"),  # once: answered a listing
    ("GET", "vol", "", {"location": ""}, {}, "GetBucketLocation"),
    ("POST", "vol", "", {"delete": ""}, {}, "DeleteObjects"),
    ("DELETE", "vol", "k", {"versionId": "null"}, {}, "Versioning"),
    ("POST", "vol", "k", {"restore": ""}, {}, "?restore"),
    ("POST", "vol", "k", {"select": "", "select-type": "2"}, {}, "POST on an object with ?select"),
    ("GET", "vol", "k", {"attributes": ""}, {}, "?attributes"),
    ("GET", "vol", "k", {"partNumber": "1"}, {}, "?partNumber"),
    ("GET", "vol", "k", {"torrent": ""}, {}, "?torrent"),
    ("PUT", "vol", "", {}, {}, "CreateBucket"),
    ("DELETE", "vol", "", {}, {}, "DeleteBucket"),
    ("PATCH", "vol", "k", {}, {}, "PATCH on an object"),
    ("OPTIONS", "vol", "k", {}, {}, "OPTIONS"),
    ("POST", "vol", "k", {}, {}, "without ?uploads"),
    ("GET", "vol", "k", {"X-Amz-Signature": "x", "X-Amz-Credential": "y"}, {}, "presigned"),
    ("PUT", "vol", "k", {}, {"x-amz-acl": "public-read"}, "x-amz-acl"),
    ("PUT", "vol", "k", {}, {"x-amz-server-side-encryption": "AES256"}, "Encryption"),
    ("PUT", "vol", "k", {}, {"x-amz-tagging": "a=b"}, "Tagging"),
    ("PUT", "vol", "k", {}, {"x-amz-storage-class": "GLACIER"}, "Storage class"),
    ("PUT", "vol", "k", {}, {"x-amz-object-lock-mode": "GOVERNANCE"}, "object lock"),
    ("PUT", "vol", "k", {}, {"x-amz-copy-source": "v/a", "x-amz-copy-source-if-match": '"x"'}, "conditional copies"),
    ("PUT", "vol", "k", {"partNumber": "1", "uploadId": "u"}, {"x-amz-copy-source": "v/a"}, "UploadPartCopy"),
    ("DELETE", "vol", "k", {}, {"If-Match": '"x"'}, "If-Match on DeleteObject"),
    ("PUT", "vol", "k", {}, {"If-Modified-Since": BEFORE}, "If-Modified-Since on PutObject"),
    ("GET", "vol", "k", {"x-id": "PutObject"}, {}, "x-id"),
])
def test_unserved_shapes_are_refused_naming_what(method, bucket, key, query, headers, says):
    assert says.lower() in refused(method, bucket, key, query, headers).lower()


def test_every_refusal_in_runpods_table_names_its_source():
    for name, diff in {**s3_rules.RUNPOD_DIFFERENCES, **s3_rules.LOCAL_DIFFERENCES}.items():
        assert diff.source and diff.answer and diff.what, name


# -- conditions: S3's table ------------------------------------------------------------------------------

@pytest.mark.parametrize("headers,expected", [
    ({}, None),
    ({"If-Match": ETAG}, None), ({"If-Match": "abc"}, None), ({"If-Match": '"x", "abc"'}, None),
    ({"If-Match": "*"}, None), ({"If-Match": '"other"'}, 412),
    ({"If-None-Match": ETAG}, 304), ({"If-None-Match": "*"}, 304), ({"If-None-Match": '"other"'}, None),
    ({"If-Modified-Since": BEFORE}, None), ({"If-Modified-Since": AT}, 304), ({"If-Modified-Since": AFTER}, 304),
    ({"If-Unmodified-Since": BEFORE}, 412), ({"If-Unmodified-Since": AT}, None), ({"If-Unmodified-Since": AFTER}, None),
    ({"If-Modified-Since": "not a date"}, None),
    # S3: If-Match true and If-Unmodified-Since false -> 200 (moto answers 412)
    ({"If-Match": ETAG, "If-Unmodified-Since": BEFORE}, None),
    # S3: If-None-Match false and If-Modified-Since true -> 304; If-None-Match true decides alone
    ({"If-None-Match": ETAG, "If-Modified-Since": BEFORE}, 304),
    ({"If-None-Match": '"other"', "If-Modified-Since": AFTER}, None),
    ({"If-Match": '"other"', "If-None-Match": '"other"'}, 412),
])
def test_conditions_follow_s3(headers, expected):
    if expected == 412:
        with pytest.raises(S3Error, match="pre-conditions") as err:
            check_conditions(CIMultiDict(headers), ETAG, MODIFIED)
        assert err.value.status == 412 and err.value.code == "PreconditionFailed"
    else:
        assert check_conditions(CIMultiDict(headers), ETAG, MODIFIED) == expected


@pytest.mark.parametrize("header,size,expected", [
    ("bytes=0-0", 10, (0, 0)), ("bytes=2-5", 10, (2, 5)), ("bytes=2-", 10, (2, 9)), ("bytes=5-100", 10, (5, 9)),
    ("bytes=-3", 10, (7, 9)), ("bytes=-30", 10, (0, 9)), (None, 10, None), ("bytes=x-y", 10, None),
    ("bytes=0-1,3-4", 10, None), ("bytes=5-2", 10, None), ("items=0-1", 10, None), ("bytes=-", 10, None),
    ("bytes=-5", 0, None),
])
def test_ranges_follow_s3(header, size, expected):
    assert byte_range(header, size) == expected


@pytest.mark.parametrize("header,size", [("bytes=10-", 10), ("bytes=11-20", 10), ("bytes=-0", 10), ("bytes=0-", 0)])
def test_a_range_past_the_end_is_416(header, size):
    with pytest.raises(S3Error) as err:
        byte_range(header, size)
    assert (err.value.status, err.value.code) == (416, "InvalidRange")


# -- keys a file system cannot hold --------------------------------------------------------------------

@pytest.mark.parametrize("key,code", [
    ("a//b", "InvalidArgument"), ("/a", "InvalidArgument"), ("a/./b", "InvalidArgument"), ("../x", "InvalidArgument"),
    ("a/..", "InvalidArgument"), ("a\x00b", "InvalidArgument"), ("x" * 256, "KeyTooLongError"),
    ("a/" * 600, "KeyTooLongError"),
])
def test_keys_that_would_alias_a_path_are_refused(tmp_path, key, code):
    with pytest.raises(S3Error) as err:
        Store("vol", tmp_path).path(key)
    assert err.value.code == code and err.value.status == 400


def test_keys_are_paths_otherwise(tmp_path):
    store = Store("vol", tmp_path)
    assert store.path("a b/%41+é/c.d") == tmp_path / "a b" / "%41+é" / "c.d"
    assert store.path("dir/") == tmp_path / "dir"
    assert store.path("x" * 255) == tmp_path / ("x" * 255)


def test_file_and_folder_collisions_are_key_conflicts(tmp_path):
    store = Store("vol", tmp_path)
    (tmp_path / "a").write_text("file")
    (tmp_path / "d" / "e").mkdir(parents=True)
    for key in ("a/b", "a/", "d", "d/e"):
        with pytest.raises(S3Error) as err:
            store.check_writable(key)
        assert (err.value.status, err.value.code) == (409, "KeyConflict") and "file system" in err.value.message
    assert store.check_writable("d/f") == tmp_path / "d" / "f"
    assert store.check_writable("d/e/") == tmp_path / "d" / "e"
