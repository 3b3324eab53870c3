"""Fill a network volume with a model through RunPod's S3-compatible API, and verify it.

Why: a serverless endpoint whose network volume is empty fails its first job. RunPod lets weights reach
a volume without a pod, through an S3-compatible API per data center (docs/runpod-facts.md §5): endpoint
``https://s3api-<dc>.runpod.io/`` (RUNPOD_S3_ENDPOINT_URL overrides it), bucket = the volume id, region = the
data-center id, key = the path a worker sees under ``/runpod-volume``. Its quirks shape this module: PutObject
only below 500 MB (larger files go multipart), 502/524 answers under load (retried here with backoff),
CompleteMultipartUpload that can time out although the object lands (confirmed with HeadObject), uploads
reported complete whose object then answers 404 (every file is checked with HeadObject and uploaded again
when its size is wrong), and boto3's new default checksums (switched to ``when_required``).

How: ``loc = volume.location(target, volume_id, "EU-RO-1")`` (the S3 key pair comes from
RUNPOD_S3_ACCESS_KEY_ID / RUNPOD_S3_SECRET_ACCESS_KEY in the environment or .env; the local platform
accepts its own pair without them), then ``volume.push(model_folder, loc, "models/my-model")``. A
manifest (path, size, sha256 of every file) is kept on the volume beside the model, so a second push
uploads nothing and an interrupted push resumes (whole files, and the parts of an unfinished multipart
upload). ``volume.verify(loc, "models/my-model")`` names each missing or short file (sizes by HEAD;
``hashes=True`` re-reads every file). The same code runs against the local platform and RunPod.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from playbook.core import html
from playbook.core.config import Target
from playbook.core.errors import ConfigError, PlatformError
from playbook.core.secrets import Secret, lookup

ACCESS_KEY_ENV, SECRET_KEY_ENV = "RUNPOD_S3_ACCESS_KEY_ID", "RUNPOD_S3_SECRET_ACCESS_KEY"
LOCAL_ACCESS_KEY = "user_local"  # the local platform's S3 access key; its secret is the platform's API key
MANIFEST_NAME = ".playbook-manifest.json"
PUT_LIMIT_BYTES = 500 * 10**6  # RunPod: PutObject below 500 MB, parts at most 500 MB
RETRY_STATUS = {500, 502, 503, 504, 524}
LANDING_ATTEMPTS = 3  # uploads of one file whose HeadObject size does not match before the push gives up
MB = 10**6


@dataclass(frozen=True)
class Transfer:
    """How to upload: files of ``multipart_threshold_bytes`` or more go multipart in parts of
    ``part_size_bytes``, ``parallel_parts`` at a time; failed requests are retried ``max_attempts`` times in
    all with exponential backoff (RunPod advises 10 attempts)."""

    part_size_bytes: int = 100 * MB
    multipart_threshold_bytes: int = PUT_LIMIT_BYTES
    parallel_parts: int = 4
    max_attempts: int = 10
    backoff_s: float = 0.5
    backoff_max_s: float = 20.0

    def __post_init__(self):
        if not 0 < self.part_size_bytes <= PUT_LIMIT_BYTES:
            raise ConfigError(f"part_size_bytes must be between 1 and {PUT_LIMIT_BYTES} (RunPod's part limit).")
        if not 0 < self.multipart_threshold_bytes <= PUT_LIMIT_BYTES:
            raise ConfigError(f"multipart_threshold_bytes must be at most {PUT_LIMIT_BYTES}: RunPod refuses "
                              "larger PutObject requests.")


@dataclass(frozen=True)
class VolumeLocation:
    """Where a volume's S3 API is and the key pair for it (masked)."""

    endpoint_url: str
    data_center: str
    volume_id: str
    access_key: Secret
    secret_key: Secret

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.data_center,
            aws_access_key_id=self.access_key.reveal(), aws_secret_access_key=self.secret_key.reveal(),
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          retries={"total_max_attempts": 1},  # retried here, 524 included
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required",
                          connect_timeout=10, read_timeout=300, max_pool_connections=16))


def s3_endpoint_url(target: Target, data_center: str) -> str:
    """The S3 endpoint of a data center on ``target``: RunPod's (``https://s3api-<dc>.runpod.io/``, or what
    RUNPOD_S3_ENDPOINT_URL names), or the local platform's stand-in beside its control API."""
    return target.s3_endpoint_url(data_center)


def location(target: Target, volume_id: str, data_center: str) -> VolumeLocation:
    """The volume's S3 location on ``target``; the key pair from the environment or .env."""
    access, secret = lookup(ACCESS_KEY_ENV), lookup(SECRET_KEY_ENV)
    if not (access and secret):
        if target.name != "local":
            raise ConfigError(f"RunPod's S3 API needs its own key pair: create one in RunPod's console "
                              f"(Settings, S3 API Keys) and export {ACCESS_KEY_ENV} and {SECRET_KEY_ENV} "
                              "(or put them in .env).")
        access, secret = Secret(LOCAL_ACCESS_KEY), target.api_key
    return VolumeLocation(s3_endpoint_url(target, data_center), data_center, volume_id, access, secret)


# -- the manifest -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the model folder (and to its destination on the volume)
    size_bytes: int
    sha256: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(8 * MB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def local_manifest(folder: Path | str, include: list[str] | None = None) -> list[FileEntry]:
    """Every file under ``folder`` (or only ``include``, relative paths) with size and sha256."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"model folder {folder} does not exist.")
    paths = ([folder / p for p in include] if include is not None else
             [p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST_NAME])
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ConfigError(f"files to push are missing: {', '.join(missing[:3])}")
    return [FileEntry(p.relative_to(folder).as_posix(), p.stat().st_size, sha256_of(p)) for p in sorted(paths)]


# -- reports ------------------------------------------------------------------------------------------

@dataclass
class PushReport:
    volume_id: str
    dest: str
    files: int
    uploaded_files: int
    uploaded_bytes: int
    skipped_bytes: int
    multipart_files: int
    reused_parts: int
    retries: int
    seconds: float

    @property
    def mb_per_s(self) -> float:
        return round(self.uploaded_bytes / MB / self.seconds, 2) if self.seconds and self.uploaded_bytes else 0.0

    def _repr_html_(self) -> str:
        return html.fields_table({**self.__dict__, "mb_per_s": self.mb_per_s}, caption="push to network volume")


@dataclass
class VerifyReport:
    volume_id: str
    dest: str
    files: int
    manifest_complete: bool
    missing: list[str] = field(default_factory=list)
    short: list[str] = field(default_factory=list)  # "path (size of expected bytes)"
    wrong_hash: list[str] = field(default_factory=list)
    hashes_checked: bool = False

    @property
    def ok(self) -> bool:
        return self.manifest_complete and not (self.missing or self.short or self.wrong_hash)

    def problems(self) -> str:
        parts = [f"missing: {', '.join(self.missing)}" if self.missing else "",
                 f"wrong size: {', '.join(self.short)}" if self.short else "",
                 f"wrong sha256: {', '.join(self.wrong_hash)}" if self.wrong_hash else "",
                 "" if self.manifest_complete else "the last push did not finish"]
        return "; ".join(p for p in parts if p)

    def raise_for_problems(self) -> VerifyReport:
        if not self.ok:
            raise PlatformError(f"volume {self.volume_id} at {self.dest}: {self.problems()}. Run the push again "
                                "(it uploads only what is missing).")
        return self

    def _repr_html_(self) -> str:
        return html.fields_table({"volume": self.volume_id, "dest": self.dest, "files": self.files, "ok": self.ok,
                                  "problems": self.problems() or "none", "hashes checked": self.hashes_checked},
                                 caption="verify network volume")


@dataclass(frozen=True)
class VolumeInfo:
    """A network volume as the control API describes it (``apply_volume``'s answer), shown as a table."""

    id: str
    name: str
    size_gb: int
    data_center: str
    type: str = ""

    @classmethod
    def of(cls, vol: dict) -> VolumeInfo:
        return cls(vol["id"], vol.get("name", ""), vol.get("size", 0), vol.get("dataCenter", ""), vol.get("type", ""))

    def _repr_html_(self) -> str:
        return html.fields_table({"id": self.id, "name": self.name, "size GB": self.size_gb,
                                  "data center": self.data_center, "type": self.type}, caption="network volume")


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size_bytes: int


# -- the S3 session -----------------------------------------------------------------------------------

class VolumeS3:
    """One volume through S3: every call retried on 5xx/524 with backoff, errors made readable."""

    def __init__(self, loc: VolumeLocation, transfer: Transfer | None = None):
        self.loc, self.transfer = loc, transfer or Transfer()
        self.s3 = loc.client()
        self.retries = 0
        self._lock = threading.Lock()

    def call(self, op: str, what: str = "", **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        for attempt in range(1, self.transfer.max_attempts + 1):
            try:
                return getattr(self.s3, op)(Bucket=self.loc.volume_id, **kwargs)
            except ClientError as exc:
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if status not in RETRY_STATUS or attempt == self.transfer.max_attempts:
                    raise self._explain(exc, op, what) from None
            except BotoCoreError as exc:  # connection refused/reset, timeouts
                if attempt == self.transfer.max_attempts:
                    raise PlatformError(f"S3 {op} {what} at {self.loc.endpoint_url} failed after {attempt} "
                                        f"attempts: {exc}") from None
            with self._lock:
                self.retries += 1
            time.sleep(min(self.transfer.backoff_max_s, self.transfer.backoff_s * 2 ** (attempt - 1))
                       * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")

    def _explain(self, exc, op: str, what: str) -> PlatformError:
        err = exc.response.get("Error", {})
        code = err.get("Code") or str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "403") or status == 403:
            where = ("RunPod console, Settings, S3 API Keys" if ".runpod.io" in self.loc.endpoint_url else
                     f"the local platform expects {LOCAL_ACCESS_KEY} and its API key as the secret: "
                     "`playbook local env` prints both")
            return PlatformError(f"the S3 API at {self.loc.endpoint_url} refused the key pair ({code}): check "
                                 f"{ACCESS_KEY_ENV} and {SECRET_KEY_ENV} ({where}).")
        if code == "NoSuchBucket":
            return PlatformError(f"network volume {self.loc.volume_id} was not found at {self.loc.endpoint_url}: "
                                 "the bucket is the volume id and the endpoint must be the volume's data center.")
        if code in ("404", "NoSuchKey"):
            return PlatformError(f"{what or op}: not found on volume {self.loc.volume_id}.")
        return PlatformError(f"S3 {op} {what} on volume {self.loc.volume_id} failed: {code} "
                             f"{str(err.get('Message', ''))[:200]}")

    def head_size(self, key: str) -> int | None:
        try:
            return self.call("head_object", key, Key=key)["ContentLength"]
        except PlatformError as exc:
            if "not found" in str(exc):
                return None
            raise

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        out, token = [], None
        while True:
            kwargs = {"Prefix": prefix, **({"ContinuationToken": token} if token else {})}
            page = self.call("list_objects_v2", prefix, **kwargs)
            out += [ObjectInfo(o["Key"], o["Size"]) for o in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return out
            token = page["NextContinuationToken"]

    def read_manifest(self, dest: str) -> dict | None:
        key = f"{dest}/{MANIFEST_NAME}"
        try:
            body = self.call("get_object", key, Key=key)["Body"].read()
        except PlatformError as exc:
            if "not found" in str(exc):
                return None
            raise
        return json.loads(body)

    def write_manifest(self, dest: str, entries: dict[str, FileEntry], complete: bool) -> None:
        doc = {"version": 1, "complete": complete, "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "total_bytes": sum(e.size_bytes for e in entries.values()),
               "files": [e.__dict__ for e in sorted(entries.values(), key=lambda e: e.path)]}
        key = f"{dest}/{MANIFEST_NAME}"
        self.call("put_object", key, Key=key, Body=json.dumps(doc, indent=1).encode(),
                  ContentType="application/json")

    # -- uploads --------------------------------------------------------------------------------------

    def put_file(self, path: Path, key: str, advance: Callable[[int], None]) -> int:
        with path.open("rb") as f:
            data = f.read()
        self.call("put_object", key, Key=key, Body=data)
        advance(len(data))
        return 0

    def multipart_file(self, path: Path, key: str, advance: Callable[[int], None]) -> int:
        """Upload ``path`` in parts, reusing the parts of an unfinished upload of the same key whose
        ETag is the MD5 of our part (S3's rule). Returns how many parts were reused."""
        size, part = path.stat().st_size, self.transfer.part_size_bytes
        ranges = [(n + 1, off, min(part, size - off)) for n, off in enumerate(range(0, size, part))]
        upload_id, existing = self._unfinished(key)
        if upload_id is None:
            upload_id = self.call("create_multipart_upload", key, Key=key)["UploadId"]
        reused = 0
        etags: dict[int, str] = {}

        stop = threading.Event()  # set by the first failure (or Ctrl-C): no part starts after it

        def send(number: int, offset: int, length: int) -> None:
            if stop.is_set():
                return
            try:
                _send(number, offset, length)
            except BaseException:
                stop.set()
                raise

        def _send(number: int, offset: int, length: int) -> None:
            nonlocal reused
            with path.open("rb") as f:
                f.seek(offset)
                data = f.read(length)
            md5 = hashlib.md5(data).hexdigest() if number in existing else None  # only to compare
            if md5 and existing[number] == (md5, length):
                with self._lock:
                    reused += 1
                etags[number] = md5
            else:
                etags[number] = self.call("upload_part", key, Key=key, UploadId=upload_id, PartNumber=number,
                                          Body=data)["ETag"].strip('"')
            advance(length)

        pool = ThreadPoolExecutor(self.transfer.parallel_parts)
        try:
            for fut in [pool.submit(send, *r) for r in ranges]:
                fut.result()
        finally:  # on failure or Ctrl-C, start no further parts (those sent stay for the resume)
            pool.shutdown(wait=True, cancel_futures=True)
        parts = [{"PartNumber": n, "ETag": f'"{etags[n]}"'} for n, _, _ in ranges]
        try:
            self.call("complete_multipart_upload", key, Key=key, UploadId=upload_id,
                      MultipartUpload={"Parts": parts})
        except PlatformError:
            # RunPod: CompleteMultipartUpload can time out on large files although the object lands
            if self.head_size(key) != size:
                raise
        return reused

    def upload_landed(self, path: Path, key: str, size: int, advance: Callable[[int], None]) -> int:
        """Upload ``path`` and confirm with HeadObject that ``size`` bytes landed; upload again (up to
        LANDING_ATTEMPTS times) when they did not: RunPod has answered success for uploads whose object
        then answered 404. Returns the multipart parts reused."""
        for _ in range(LANDING_ATTEMPTS):
            if size >= self.transfer.multipart_threshold_bytes:
                reused = self.multipart_file(path, key, advance)
            else:
                reused = self.put_file(path, key, advance)
            landed = self.head_size(key)
            if landed == size:
                return reused
            with self._lock:
                self.retries += 1
        raise PlatformError(f"{key} on volume {self.loc.volume_id} has {landed} bytes after {LANDING_ATTEMPTS} "
                            f"uploads, expected {size}: push again, then check with playbook volume verify.")

    def _unfinished(self, key: str) -> tuple[str | None, dict[int, tuple[str, int]]]:
        uploads = [u for u in self.call("list_multipart_uploads", key, Prefix=key).get("Uploads", [])
                   if u["Key"] == key]
        if not uploads:
            return None, {}
        upload_id = uploads[-1]["UploadId"]
        parts = self.call("list_parts", key, Key=key, UploadId=upload_id).get("Parts", [])
        return upload_id, {p["PartNumber"]: (p["ETag"].strip('"'), p["Size"]) for p in parts}


def _dest(dest: str) -> str:
    dest = dest.strip().removeprefix("/runpod-volume").strip("/")
    if not dest or ".." in dest.split("/"):
        raise ConfigError(f"dest must be a folder on the volume such as models/my-model, not {dest[:200]!r}.")
    return dest


def _pending(session: VolumeS3, folder: Path, dest: str, include: list[str] | None):
    """(local entries, entries to upload, the volume's manifest entries by path)."""
    entries = local_manifest(folder, include)
    remote = {f["path"]: f for f in (session.read_manifest(dest) or {}).get("files", [])}
    sizes = {o.key: o.size_bytes for o in session.list(dest + "/")}
    todo = [e for e in entries
            if not (remote.get(e.path) == e.__dict__ and sizes.get(f"{dest}/{e.path}") == e.size_bytes)]
    return entries, todo, remote


def pending_bytes(folder: Path | str, loc: VolumeLocation | None, dest: str,
                  include: list[str] | None = None) -> tuple[int, int, int]:
    """(files, bytes to upload, bytes already on the volume) for a push, without writing anything;
    ``loc`` None stands for a volume that does not exist yet."""
    if loc is None:
        entries = local_manifest(folder, include)
        return len(entries), sum(e.size_bytes for e in entries), 0
    entries, todo, _ = _pending(VolumeS3(loc), Path(folder), _dest(dest), include)
    upload = sum(e.size_bytes for e in todo)
    return len(entries), upload, sum(e.size_bytes for e in entries) - upload


def push(folder: Path | str, loc: VolumeLocation, dest: str, include: list[str] | None = None,
         transfer: Transfer | None = None, progress: bool = True) -> PushReport:
    """Upload ``folder`` (or only ``include``) to ``dest`` on the volume; skip files the volume's
    manifest already holds with the same size and sha256; confirm each upload with HeadObject; write
    the manifest (also when interrupted, with ``complete: false``)."""
    from tqdm.auto import tqdm

    start, dest, folder = time.perf_counter(), _dest(dest), Path(folder)
    session = VolumeS3(loc, transfer)
    entries, todo, remote = _pending(session, folder, dest, include)
    done = {e.path: e for e in entries if e not in todo}
    bar = tqdm(total=sum(e.size_bytes for e in todo), unit="B", unit_scale=True, desc=f"push {dest}",
               disable=not progress)
    lock = threading.Lock()

    def advance(n: int) -> None:
        with lock:
            bar.update(n)

    multipart = reused = 0
    complete = False
    try:
        for entry in todo:
            key, path = f"{dest}/{entry.path}", folder / entry.path
            multipart += entry.size_bytes >= session.transfer.multipart_threshold_bytes
            reused += session.upload_landed(path, key, entry.size_bytes, advance)
            done[entry.path] = entry
        complete = True
    finally:
        bar.close()
        if todo or not remote or not (session.read_manifest(dest) or {}).get("complete"):
            session.write_manifest(dest, done, complete)
    uploaded = sum(e.size_bytes for e in todo)
    return PushReport(loc.volume_id, dest, len(entries), len(todo), uploaded, sum(e.size_bytes for e in entries)
                      - uploaded, multipart, reused, session.retries, round(time.perf_counter() - start, 3))


def verify(loc: VolumeLocation, dest: str, hashes: bool = False, transfer: Transfer | None = None) -> VerifyReport:
    """Compare the volume against its manifest: HEAD every file for its size; with ``hashes`` read each
    file back and compare sha256."""
    dest = _dest(dest)
    session = VolumeS3(loc, transfer)
    manifest = session.read_manifest(dest)
    if manifest is None:
        raise PlatformError(f"no manifest at {dest}/{MANIFEST_NAME} on volume {loc.volume_id}: push the model "
                            "first (playbook volume push).")
    report = VerifyReport(loc.volume_id, dest, len(manifest["files"]), bool(manifest.get("complete")),
                          hashes_checked=hashes)
    for f in manifest["files"]:
        key = f"{dest}/{f['path']}"
        size = session.head_size(key)
        if size is None:
            report.missing.append(f["path"])
        elif size != f["size_bytes"]:
            report.short.append(f"{f['path']} ({size} of {f['size_bytes']} bytes)")
        elif hashes:
            digest = hashlib.sha256()
            for chunk in session.call("get_object", key, Key=key)["Body"].iter_chunks(8 * MB):
                digest.update(chunk)
            if digest.hexdigest() != f["sha256"]:
                report.wrong_hash.append(f["path"])
    return report


def ls(loc: VolumeLocation, prefix: str = "") -> list[ObjectInfo]:
    """Objects (and empty directories, as ``dir/``) on the volume under ``prefix``."""
    return VolumeS3(loc).list(prefix.strip().removeprefix("/runpod-volume").lstrip("/"))


def manifest_path(model_dir: Path | str) -> Path:
    """Where a pushed model's manifest sits in its folder (what the worker's fitness check reads)."""
    return Path(model_dir) / MANIFEST_NAME


__all__ = ["FileEntry", "PushReport", "Transfer", "VerifyReport", "VolumeLocation", "location", "ls", "push",
           "s3_endpoint_url", "verify"]
