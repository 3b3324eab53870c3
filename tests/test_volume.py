"""Filling a network volume through the S3 API: the same push/verify code against the local platform's
S3 API and against moto's server (an S3 we did not write), plus RunPod's refusals and the fault switch."""

from __future__ import annotations

import os
import uuid

import pytest
import requests

from playbook.core.errors import ConfigError, PlatformError
from playbook.core.secrets import Secret
from playbook.storage import volume
from playbook.weights import demo_model

SMALL = volume.Transfer(part_size_bytes=100_000, multipart_threshold_bytes=200_000, backoff_s=0.01,
                        backoff_max_s=0.05)
DEST = "models/tiny-sd"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return demo_model.make_demo_model(tmp_path_factory.mktemp("vol") / "tiny-sd")


def new_volume(plat, dc: str = "EU-RO-1") -> str:
    r = requests.post(f"{plat.target.control_api_url}/network-volumes", timeout=10,
                      json={"name": "weights", "size": 10, "dataCenter": dc},
                      headers={"Authorization": f"Bearer {plat.api_key}"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.fixture
def local_loc(platform):  # noqa: F811
    return volume.location(platform.target, new_volume(platform), "EU-RO-1")


@pytest.fixture(scope="module")
def moto_server():
    import moto.s3.models
    from moto.server import ThreadedMotoServer

    old = moto.s3.models.S3_UPLOAD_PART_MIN_SIZE
    moto.s3.models.S3_UPLOAD_PART_MIN_SIZE = 1  # RunPod does not enforce S3's 5 MB minimum part
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    moto.s3.models.S3_UPLOAD_PART_MIN_SIZE = old


@pytest.fixture
def moto_loc(moto_server, request):
    import boto3

    bucket = f"vol-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1", aws_access_key_id="user_x",
                 aws_secret_access_key="rps_y").create_bucket(Bucket=bucket)
    return volume.VolumeLocation(moto_server, "EU-RO-1", bucket, Secret("user_x"), Secret("rps_y"))


@pytest.fixture(params=["local", "moto"])
def loc(request):
    return request.getfixturevalue(f"{request.param}_loc")


def test_push_multipart_then_a_second_push_uploads_nothing(model, loc):
    first = volume.push(model, loc, DEST, transfer=SMALL, progress=False)
    total = sum(p.stat().st_size for p in model.rglob("*") if p.is_file())
    assert first.uploaded_bytes == total and first.files == first.uploaded_files
    big = [p for p in model.rglob("*") if p.is_file() and p.stat().st_size >= SMALL.multipart_threshold_bytes]
    assert first.multipart_files == len(big) >= 1
    assert volume.verify(loc, DEST, hashes=True, transfer=SMALL).raise_for_problems().ok
    second = volume.push(model, loc, "/runpod-volume/" + DEST, transfer=SMALL, progress=False)
    assert second.uploaded_bytes == 0 and second.skipped_bytes == total
    keys = {o.key for o in volume.ls(loc, "/runpod-volume/models/")}
    assert f"{DEST}/unet/diffusion_pytorch_model.safetensors" in keys and f"{DEST}/{volume.MANIFEST_NAME}" in keys


def test_verify_names_a_deleted_and_a_truncated_file(model, loc):
    volume.push(model, loc, DEST, transfer=SMALL, progress=False)
    s3 = loc.client()
    s3.delete_object(Bucket=loc.volume_id, Key=f"{DEST}/vae/config.json")
    s3.put_object(Bucket=loc.volume_id, Key=f"{DEST}/unet/config.json", Body=b"{}")
    report = volume.verify(loc, DEST)
    assert not report.ok and report.missing == ["vae/config.json"]
    assert len(report.short) == 1 and report.short[0].startswith("unet/config.json (2 of ")
    with pytest.raises(PlatformError, match="missing: vae/config.json; wrong size: unet/config.json"):
        report.raise_for_problems()
    again = volume.push(model, loc, DEST, transfer=SMALL, progress=False)
    assert again.uploaded_files == 2 and volume.verify(loc, DEST, hashes=True).ok


def test_an_interrupted_push_resumes_files_and_parts(model, loc, monkeypatch):
    calls = {"parts": 0}
    real = volume.VolumeS3.call

    def interrupt_on_second_part(self, op, what="", **kwargs):
        if op == "upload_part":
            calls["parts"] += 1
            if calls["parts"] == 2:
                raise KeyboardInterrupt  # the user stops the push mid-file
        return real(self, op, what, **kwargs)

    monkeypatch.setattr(volume.VolumeS3, "call", interrupt_on_second_part)
    sequential = volume.Transfer(**{**SMALL.__dict__, "parallel_parts": 1})
    with pytest.raises(KeyboardInterrupt):
        volume.push(model, loc, DEST, transfer=sequential, progress=False)
    monkeypatch.setattr(volume.VolumeS3, "call", real)
    half = volume.verify(loc, DEST)
    assert not half.manifest_complete and not half.ok
    resumed = volume.push(model, loc, DEST, transfer=sequential, progress=False)
    total = sum(p.stat().st_size for p in model.rglob("*") if p.is_file())
    assert resumed.skipped_bytes > 0 and resumed.uploaded_bytes < total
    assert resumed.reused_parts == 1  # the one part that landed before the interruption
    assert volume.verify(loc, DEST, hashes=True).raise_for_problems().ok


# -- the local platform's S3 API: what a worker sees, RunPod's refusals, signatures, faults -------------

def test_objects_land_in_the_folder_workers_mount(model, local_loc):
    from playbook.local.servers.control_api import volume_folder

    volume.push(model, local_loc, DEST, transfer=SMALL, progress=False)
    on_disk = volume_folder(local_loc.volume_id) / DEST
    for p in model.rglob("*"):
        if p.is_file():
            assert (on_disk / p.relative_to(model)).read_bytes() == p.read_bytes()


def test_injected_524_and_502_are_retried(model, platform):  # noqa: F811
    loc = volume.location(platform.target, new_volume(platform), "EU-RO-1")
    platform.s3.faults.inject(524, op="UploadPart", times=2)
    platform.s3.faults.inject(502, op="PutObject", times=2)
    platform.s3.faults.inject(524, op="CompleteMultipartUpload", times=1)
    report = volume.push(model, loc, DEST, transfer=SMALL, progress=False)
    assert report.retries == 5 == platform.s3.faults.injected
    assert volume.verify(loc, DEST, hashes=True).ok


def test_faults_past_the_attempt_limit_fail_with_the_status(model, platform):  # noqa: F811
    loc = volume.location(platform.target, new_volume(platform), "EU-RO-1")
    r = requests.post(f"{platform.url}/local/s3/faults", json={"status": 502, "op": "PutObject", "times": 3},
                      headers={"Authorization": platform.api_key}, timeout=10)
    assert r.ok
    few = volume.Transfer(**{**SMALL.__dict__, "max_attempts": 3})
    with pytest.raises(PlatformError, match="502"):
        volume.push(model, loc, DEST, transfer=few, progress=False)


def test_a_wrong_key_gets_a_clear_error(model, platform):  # noqa: F811
    vid = new_volume(platform)
    good = volume.location(platform.target, vid, "EU-RO-1")
    wrong_secret = volume.VolumeLocation(good.endpoint_url, "EU-RO-1", vid, good.access_key, Secret("rps_wrong"))
    with pytest.raises(PlatformError, match=r"refused the key pair \(SignatureDoesNotMatch\).*RUNPOD_S3_SECRET"):
        volume.push(model, wrong_secret, DEST, progress=False)
    unknown = volume.VolumeLocation(good.endpoint_url, "EU-RO-1", vid, Secret("user_nobody"), good.secret_key)
    with pytest.raises(PlatformError, match="InvalidAccessKeyId"):
        volume.ls(unknown)
    other_dc = volume.location(platform.target, vid, "US-KS-2")
    with pytest.raises(PlatformError, match="was not found.*data center"):
        volume.ls(other_dc)


def test_runpods_refusals_and_empty_directories(local_loc, platform, tmp_path):  # noqa: F811
    from botocore.exceptions import ClientError

    s3 = local_loc.client()
    with pytest.raises(ClientError, match="NotImplemented"):
        s3.create_bucket(Bucket="new-bucket")
    with pytest.raises(ClientError, match="NotImplemented"):
        s3.delete_objects(Bucket=local_loc.volume_id, Delete={"Objects": [{"Key": "a"}]})
    url = s3.generate_presigned_url("get_object", Params={"Bucket": local_loc.volume_id, "Key": "a"})
    assert requests.get(url, timeout=10).status_code == 501
    platform.s3.max_put_bytes = platform.s3.max_part_bytes = 50_000
    with pytest.raises(ClientError, match="EntityTooLarge"):
        s3.put_object(Bucket=local_loc.volume_id, Key="big.bin", Body=b"x" * 60_000)
    (tmp_path / "big.bin").write_bytes(os.urandom(150_000))
    with pytest.raises(PlatformError, match="EntityTooLarge"):
        volume.push(tmp_path, local_loc, "data", transfer=SMALL, progress=False)
    s3.put_object(Bucket=local_loc.volume_id, Key="cache/empty/", Body=b"")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=local_loc.volume_id, Prefix="cache/")["Contents"]]
    assert keys == ["cache/empty/"]
    listed = s3.list_objects_v2(Bucket=local_loc.volume_id, Delimiter="/")
    assert {p["Prefix"] for p in listed.get("CommonPrefixes", [])} >= {"cache/"}
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [local_loc.volume_id]


def test_settings_and_credentials_are_checked(platform, monkeypatch, tmp_path):  # noqa: F811
    with pytest.raises(ConfigError, match="between 1 and 500000000"):
        volume.Transfer(part_size_bytes=600 * 10**6)
    with pytest.raises(ConfigError, match="dest must be a folder"):
        volume.push(".", volume.location(platform.target, "x", "EU-RO-1"), "../etc", progress=False)
    from playbook.core.config import runpod_target

    monkeypatch.delenv(volume.ACCESS_KEY_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    with pytest.raises(ConfigError, match="RUNPOD_S3_ACCESS_KEY_ID"):
        volume.location(runpod_target(Secret("rp_x")), "vol", "EU-RO-1")
    monkeypatch.setenv(volume.ACCESS_KEY_ENV, "user_abc")
    monkeypatch.setenv(volume.SECRET_KEY_ENV, "rps_secret")
    loc = volume.location(runpod_target(Secret("rp_x")), "vol", "EU-RO-1")
    assert loc.endpoint_url == "https://s3api-eu-ro-1.runpod.io/" and "rps_secret" not in repr(loc)


def test_listing_pages_and_ranged_reads(local_loc):
    s3 = local_loc.client()
    for i in range(5):
        s3.put_object(Bucket=local_loc.volume_id, Key=f"many/f{i}.txt", Body=f"file {i}".encode())
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=local_loc.volume_id, Prefix="many/",
                                                              PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == [f"many/f{i}.txt" for i in range(5)]
    part = s3.get_object(Bucket=local_loc.volume_id, Key="many/f3.txt", Range="bytes=5-5")["Body"].read()
    assert part == b"3"
    s3.copy_object(Bucket=local_loc.volume_id, Key="copy/f3.txt",
                   CopySource={"Bucket": local_loc.volume_id, "Key": "many/f3.txt"})
    assert s3.get_object(Bucket=local_loc.volume_id, Key="copy/f3.txt")["Body"].read() == b"file 3"


def test_default_boto3_checksums_and_skewed_clocks_are_refused_clearly(local_loc, monkeypatch):
    """boto3's default (aws-chunked uploads with CRC32 trailers) is what `when_required` avoids; RunPod's
    support for it is unknown, so the local API refuses it with the fix rather than storing chunk framing."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    default = boto3.client("s3", endpoint_url=local_loc.endpoint_url, region_name="EU-RO-1",
                           aws_access_key_id=local_loc.access_key.reveal(),
                           aws_secret_access_key=local_loc.secret_key.reveal(),
                           config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))
    try:
        default.put_object(Bucket=local_loc.volume_id, Key="a.txt", Body=b"hello")
    except ClientError as exc:  # over http boto3 may or may not stream; either way nothing garbled lands
        assert "when_required" in str(exc)
    else:
        assert local_loc.client().get_object(Bucket=local_loc.volume_id, Key="a.txt")["Body"].read() == b"hello"
    from playbook.local.servers import s3_support

    monkeypatch.setattr(s3_support, "MAX_SKEW_S", -1)  # every clock now counts as skewed
    with pytest.raises(ClientError, match="RequestTimeTooSkewed"):
        local_loc.client().list_objects_v2(Bucket=local_loc.volume_id)
