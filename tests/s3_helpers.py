"""Helpers for the S3 tests: moto's S3 server on loopback (an S3 we did not write), boto3 clients set up
the way a RunPod user sets them up, and new buckets on either side."""

from __future__ import annotations

import contextlib
import uuid

import requests

REGION = "EU-RO-1"


@contextlib.contextmanager
def moto_server():
    """moto's threaded S3 server, with S3's 5 MiB minimum part lifted (RunPod does not enforce it)."""
    import moto.s3.models
    from moto.server import ThreadedMotoServer

    old = moto.s3.models.S3_UPLOAD_PART_MIN_SIZE
    moto.s3.models.S3_UPLOAD_PART_MIN_SIZE = 1
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        moto.s3.models.S3_UPLOAD_PART_MIN_SIZE = old


def client(endpoint_url: str, access_key: str, secret_key: str, region: str = REGION, **config):
    """boto3's S3 client as RunPod's docs set it up (path style, region = data center), checksums only
    when required, no retries of its own (a retried 5xx would hide what the server answered)."""
    import boto3
    from botocore.config import Config

    options = {"signature_version": "s3v4", "s3": {"addressing_style": "path"},
               "retries": {"total_max_attempts": 1}, "request_checksum_calculation": "when_required",
               "response_checksum_validation": "when_required", **config}
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, aws_access_key_id=access_key,
                        aws_secret_access_key=secret_key, config=Config(**options))


def moto_bucket(endpoint_url: str) -> str:
    bucket = f"vol-{uuid.uuid4().hex[:12]}"
    client(endpoint_url, "user_x", "rps_y", region="us-east-1").create_bucket(Bucket=bucket)
    return bucket


def local_volume(platform, dc: str = REGION) -> str:
    r = requests.post(f"{platform.target.control_api_url}/network-volumes", timeout=10,
                      json={"name": "weights", "size": 10, "dataCenter": dc},
                      headers={"Authorization": f"Bearer {platform.api_key}"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def local_client(platform, **config):
    from playbook.storage import volume

    return client(volume.s3_endpoint_url(platform.target, REGION), volume.LOCAL_ACCESS_KEY, platform.api_key,
                  **config)
