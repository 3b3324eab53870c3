"""The build phase: the Dockerfile's contract, the build context, the image the daemon builds (linux/amd64,
its size by layer), the refusal of a wrong-architecture image, and push / pull by digest on loopback.

The first group needs no daemon; the docker tier (marked) builds the real image once per session."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import urllib.error
import urllib.request

import docker
import pytest
import tools

from playbook.core.config import REPO_ROOT
from playbook.core.errors import BuildError, ConfigError
from playbook.core.waiting import wait_for
from playbook.image import build, dockerhost, registry
from playbook.image.registry import last_pushed, pin_spec, pull, push, pushed_record, registry_auth

# ----------------------------------------------------------------- no daemon needed


def test_dockerfile_passes_hadolint_for_cloud_and_local_builds():
    assert build.lint().findings == []
    local = build.BuildSettings(base_image="local/python:3.11-slim", torch_spec="torch==2.13.0+cpu", offline=True)
    rendered = build.render_dockerfile(local)
    assert "ARG BASE_IMAGE=local/python:3.11-slim" in rendered and 'ARG TORCH_SPEC="torch==2.13.0+cpu"' in rendered
    assert build.lint(rendered).findings == []
    assert not build.lint("FROM ubuntu\nRUN apt-get install curl\n").ok  # the linter does find problems


def test_dockerfile_contract():
    text = build.DOCKERFILE.read_text()
    base = build.dockerfile_default_base()
    assert "python:3.11" in base and "slim" in base, "a plain Python 3.11 base: torch comes from the lock's pins"
    assert 'ARG TORCH_SPEC="torch==2.13.0"' in text  # PyPI's Linux torch 2.13.0: the CUDA 13.0 build
    assert 'CMD ["python3", "-u", "/app/handler.py"]' in text  # the image's own command starts the worker
    deps_copy = text.index("COPY requirements.lock worker/requirements.txt")
    assert deps_copy < text.index("COPY worker/ /app/"), "dependencies must be a layer before the code"
    assert "-c /tmp/deps/constraints.txt" in text, "every install is constrained by the one lock"
    assert text.index("precompile.py") < text.index("COPY worker/ /app/"), "bytecode layer before the code"
    assert "/runpod-volume" not in text.split("CMD")[0].replace("(/runpod-volume)", ""), "no weights in the image"
    cloud = build.cloud_settings()
    assert cloud.cloud and cloud.offline and cloud.build_args()["TORCH_SPEC"] == "torch==2.13.0"
    assert cloud.repository != build.local_settings().repository  # the CUDA image never overwrites the local tag


def test_one_lock_pins_every_dependency_of_both_requirement_files():
    lock: dict[str, set[str]] = {}  # name -> its versions (one, torch two: see tests/test_lock.py)
    for line in build.LOCK.read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split(";")[0].strip().split("==")
            lock.setdefault(name.lower(), set()).add(version)
    assert lock["torch"] == {f"{build.TORCH_VERSION}+cpu", build.TORCH_VERSION}  # Linux x86_64's CPU build; PyPI's
    for req in ("requirements.txt", "worker/requirements.txt"):
        for line in (REPO_ROOT / req).read_text().splitlines():
            name = line.split("#")[0].strip().split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip()
            if name:
                assert name.lower() in lock, f"{req}: {name} is not in requirements.lock (run scripts/lock.sh)"
                if "==" in line:
                    pinned = line.split("==")[1].split()[0]
                    assert {v.split("+")[0] for v in lock[name.lower()]} == {pinned}, f"{name}: lock and {req} differ"
    for indirect in ("numpy", "huggingface-hub", "tokenizers", "aiohttp", "urllib3"):
        assert indirect in lock, f"indirect dependency {indirect} is not pinned"
    bootstrap = (REPO_ROOT / "scripts" / "bootstrap.sh").read_text()
    assert "-r requirements.lock" in bootstrap


def test_cloud_build_without_the_local_base_fails_in_one_sentence(monkeypatch):
    monkeypatch.setattr(build.dockerhost, "image_exists", lambda ref: False)
    with pytest.raises(BuildError) as err:
        build.ensure_wheels(build.cloud_settings(base_image="local/none:0"))
    text = str(err.value)
    assert "local/none:0" in text and "scripts/services.sh" in text and text.count(". ") == 0


def test_context_holds_only_the_worker():
    files = build._context_files(build.BuildSettings())
    assert "worker/handler.py" in files and "worker/requirements.txt" in files and "worker/Dockerfile" in files
    outside = [f for f in files if not f.startswith("worker/") and f not in (".dockerignore", "requirements.lock")]
    assert not outside, f"the context must hold only worker/ and the lock: {outside}"
    assert not [f for f in files if f.endswith((".safetensors", ".bin", ".pyc"))]


def _copy_context(tmp_path):
    root = tmp_path / "ctx"
    shutil.copytree(REPO_ROOT / "worker", root / "worker", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / ".dockerignore", root / ".dockerignore")
    shutil.copy(REPO_ROOT / "requirements.lock", root / "requirements.lock")
    (root / "build" / "volume").mkdir(parents=True)
    (root / "build" / "volume" / "model.safetensors").write_bytes(b"weights")  # must never enter the context
    return root


def test_tag_is_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path / "out"))
    root = _copy_context(tmp_path)
    settings = build.BuildSettings(context_dir=root, dockerfile=root / "worker" / "Dockerfile")
    first, again = build.make_context(settings), build.make_context(settings)
    assert first.tag == again.tag and first.tag.startswith("sha-")
    with tarfile.open(first.tar_path) as tar:
        names = tar.getnames()
    assert "worker/handler.py" in names and not any(n.startswith("build") for n in names)
    (root / "worker" / "handler.py").write_text((root / "worker" / "handler.py").read_text() + "\n# edited\n")
    assert build.make_context(settings).tag != first.tag  # new code, new tag
    local = build.BuildSettings(context_dir=root, dockerfile=root / "worker" / "Dockerfile",
                                torch_spec="torch==2.13.0+cpu")
    assert build.make_context(local).tag != build.make_context(settings).tag  # other build args, other tag


def test_registry_credentials_come_in_pairs_and_stay_hidden(monkeypatch):
    monkeypatch.delenv("REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("REGISTRY_PASSWORD", raising=False)
    assert registry_auth() is None
    monkeypatch.setenv("REGISTRY_PASSWORD", "hunter2-secret")
    with pytest.raises(ConfigError, match="REGISTRY_USERNAME"):
        registry_auth()


def test_a_push_raced_by_another_push_of_the_same_layers_is_pushed_again(monkeypatch, tmp_path):
    # the error the daemon streamed here when 04's push met a concurrent push of the same layers to the same
    # registry (moby/moby#22854); any other error is the user's to see at once
    raced = {"error": "errors:\ndigest invalid\nmanifest blob unknown: blob unknown to registry\n"}
    raced_500 = {"error": "received unexpected HTTP status: 500 Internal Server Error"}  # the other push's side
    done = [{"status": "Pushed"}, {"aux": {"Tag": "sha-1", "Digest": "sha256:" + "ab" * 32}}]
    streams = []

    class Api:
        def push(self, *args, **kwargs):
            return iter(streams.pop(0))

    class Client:
        api = Api()
        images = type("Images", (), {"get": lambda self, ref: type("Img", (), {"tag": lambda *a: True})()})()

    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path))
    monkeypatch.setattr(registry, "require_platform", lambda image, wanted: None)
    monkeypatch.setattr(registry.dockerhost, "client", lambda: Client())
    monkeypatch.setattr(registry.time, "sleep", lambda s: None)
    streams[:] = [[raced_500], [raced], done]
    assert registry.push("worker:sha-1", registry="127.0.0.1:5000", progress=False).digest.endswith("ab" * 32)
    streams[:] = [[raced]] * registry.PUSH_ATTEMPTS
    with pytest.raises(BuildError, match="blob unknown"):
        registry.push("worker:sha-1", registry="127.0.0.1:5000", progress=False)
    streams[:] = [[{"error": "denied: requested access to the resource is denied"}], done]
    with pytest.raises(BuildError, match="denied"):
        registry.push("worker:sha-1", registry="127.0.0.1:5000", progress=False)
    assert streams == [done]  # not pushed again

def test_wrong_platform_message_explains_exec_format_error():
    check = build.PlatformCheck("me/worker:1", "linux", "arm64")
    assert not check.ok
    text = check.explain()
    assert "exec format error" in text and "--platform linux/amd64" in text and "linux/arm64" in text
    assert build.PlatformCheck("me/worker:1", "linux", "amd64").ok


# ----------------------------------------------------------------- docker tier


@pytest.mark.docker
def test_a_failed_run_step_on_a_foreign_base_is_explained_not_just_a_non_zero_code():
    # what the legacy builder streams when the base present locally is arm64 and a RUN step executes it
    log = "Step 3/9 : RUN python3 -c 'print(1)'\n ---> Running in 1f2e\nexec /bin/sh: exec format error\n"
    error = "The command '/bin/sh -c python3 -c 'print(1)'' returned a non-zero code: 1"
    message = build.explain_build_error(error, log, "linux/amd64", "build/image/build.log")
    assert "exec format error" in message and "not linux/amd64" in message and "--platform linux/amd64" in message
    assert "returned a non-zero code" in message and "build/image/build.log" in message
    plain = build.explain_build_error("COPY failed: no such file", "Step 2/9 : COPY x y\n", "linux/amd64", "l")
    assert plain == "docker build failed: COPY failed: no such file (full log: l)"


def test_worker_image_is_linux_amd64(worker_image):
    check = build.check_platform(worker_image.reference)
    assert (check.os, check.architecture) == ("linux", "amd64") and check.ok
    config = dockerhost.client().images.get(worker_image.reference).attrs["Config"]
    assert config["Cmd"] == ["python3", "-u", "/app/handler.py"]
    assert worker_image.steps > 0 and worker_image.reference.startswith(f"{build.REPOSITORY}:sha-")
    # the dependencies and the code are in the image, no weights are
    out = dockerhost.run_and_read(
        worker_image.reference, ["sh", "-c", "ls /app; find / -xdev -name '*.safetensors' | head -3; "
                                 "python3 -c 'import runpod, diffusers; print(\"deps-ok\")'"]).stdout
    assert "handler.py" in out and "imagegen" in out and "deps-ok" in out and ".safetensors" not in out


@pytest.mark.docker
def test_a_throwaway_container_is_read_whole_every_time(worker_image):
    """image_info reads build-info.json from a throwaway container; through the SDK's containers.run(...,
    remove=True) that read came back empty in 8 of 20 tries here. Twenty reads in a row must all agree."""
    mine = {"label": f"{dockerhost.THROWAWAY_LABEL}={os.getpid()}"}
    first = build.image_info(worker_image.reference)
    assert first.torch and first.python != "?"
    for _ in range(19):
        assert build.image_info(worker_image.reference) == first
    out = dockerhost.run_and_read(worker_image.reference, ["sh", "-c", "echo out; echo err >&2; exit 3"],
                                  check=False)
    assert (out.exit_code, out.stdout, out.stderr) == (3, "out\n", "err\n")
    with pytest.raises(BuildError, match="exited with 3: err"):
        dockerhost.run_and_read(worker_image.reference, ["sh", "-c", "echo err >&2; exit 3"])
    with pytest.raises(BuildError, match="not in the Docker daemon"):
        dockerhost.run_and_read("runpod-playbook-test:never-built", ["true"])
    assert dockerhost.client().containers.list(all=True, filters=mine) == []  # every one was removed


@pytest.mark.docker
def test_rebuild_uses_the_layer_cache(worker_image):
    again = build.build_image(build.local_settings(), progress=False)
    assert again.image_id == worker_image.image_id and again.reference == worker_image.reference
    assert again.cached_steps >= 3


@pytest.mark.docker
def test_size_report_by_layer(worker_image):
    report = build.size_report(worker_image.reference)
    assert 0.2 < report.total_gb < report.budget_gb == build.SIZE_BUDGET_GB and not report.over_budget
    layer_sum_gb = sum(layer.size_mb for layer in report.layers) / 1000
    assert abs(layer_sum_gb - report.total_gb) < 0.05
    biggest = max(report.layers, key=lambda layer: layer.size_mb)
    assert "/opt/deps" in biggest.created_by  # the dependency layer dominates, not the code
    with pytest.warns(build.BudgetWarning, match="over the 0.1 GB budget"):
        assert build.size_report(worker_image.reference, budget_gb=0.1).over_budget
    assert "<table>" in report._repr_html_()


@pytest.mark.docker
def test_wrong_architecture_image_is_refused(docker_daemon, registry, tmp_path):
    from playbook.local.runtime.endpoints import EndpointConfig
    from playbook.local.supervision.docker_runner import DockerRunner

    ref = build.make_foreign_image("arm64")
    check = build.check_platform(ref)
    assert (check.os, check.architecture) == ("linux", "arm64")  # what the daemon says, not the tag
    with pytest.raises(BuildError, match="exec format error") as refused:
        build.require_platform(ref)
    assert "--platform linux/amd64" in str(refused.value)
    with pytest.raises(BuildError, match="exec format error"):  # never pushed
        push(ref, registry, repository="playbook-test-arm64", progress=False)
    # deployed anyway (an endpoint made by hand), it fails as on RunPod's x86 hosts: the kernel refuses its entry
    # point and the worker's log carries the real "exec format error"
    endpoint = EndpointConfig(name="arm", id="armtest", image=ref, volume_dir=tmp_path)
    handle = DockerRunner().start("w-arm", endpoint, {}, tmp_path / "w.log")
    try:
        wait_for(lambda: not handle.alive(), timeout_s=60, what="the arm64 container to exit")
        assert handle.returncode not in (None, 0)
        assert "exec format error" in (tmp_path / "w.log").read_text()
    finally:
        handle.kill()


def _manifest(registry: str, repository: str, digest: str) -> dict:
    request = urllib.request.Request(f"http://{registry}/v2/{repository}/manifests/{digest}", headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.mark.docker
def test_push_and_pull_back_by_digest(worker_image, pushed_worker_image, registry):
    pushed = pushed_worker_image
    assert pushed.repository == f"{registry}/{build.REPOSITORY}" and pushed.digest.startswith("sha256:")
    assert last_pushed() == pushed  # recorded for deploy
    # the registry holds exactly this image: its manifest's config is the image id
    assert _manifest(registry, build.REPOSITORY, pushed.digest)["config"]["digest"] == worker_image.image_id
    assert pull(pushed.reference).id == worker_image.image_id


@pytest.mark.docker
def test_small_image_round_trip_through_the_registry(docker_daemon, registry, monkeypatch, capsys):
    """Push, delete locally, pull back by digest: the same image id returns. Credentials never show."""
    client = dockerhost.client()
    monkeypatch.setenv("REGISTRY_USERNAME", "playbook")
    monkeypatch.setenv("REGISTRY_PASSWORD", "pw-must-not-leak-42")
    ref = build.make_foreign_image("amd64", reference="runpod-playbook-demo:amd64")
    image_id = client.images.get(ref).id
    pushed = push(ref, registry, repository="playbook-test-roundtrip", progress=True)
    client.images.remove(ref, force=True)
    client.images.remove(f"{pushed.repository}:{pushed.tag}", force=True)
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(image_id)
    assert pull(pushed.reference).id == image_id
    captured = capsys.readouterr()
    assert "pw-must-not-leak-42" not in captured.out + captured.err
    assert "pw-must-not-leak-42" not in pushed_record().read_text()
    assert "pw-must-not-leak-42" not in repr(pushed)


def test_pin_spec_points_the_endpoint_at_the_pushed_digest(tmp_path, monkeypatch):
    from playbook.deploy.spec import load_spec

    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path))
    spec = load_spec(REPO_ROOT / "deploy" / "demo.toml")
    with pytest.raises(ConfigError, match="nothing has been pushed"):
        pin_spec(spec)
    digest = "sha256:" + "ab" * 32
    pushed_record().parent.mkdir(parents=True)
    pushed_record().write_text(json.dumps({"repository": "127.0.0.1:5000/w", "tag": "sha-1", "digest": digest,
                                                 "pushed_at": 0.0}))
    assert pin_spec(spec).image == f"127.0.0.1:5000/w@{digest}"


@pytest.fixture
def auth_registry(docker_daemon, tmp_path):
    """A second registry on loopback that demands a password (htpasswd, bcrypt), on a free port."""
    import socket
    import subprocess
    import time

    import bcrypt  # in the lock (paramiko's dependency)

    binary = tools.need("docker-registry", why="scripts/services.sh installs it")
    password = "s3cret-registry-pw"
    (tmp_path / "htpasswd").write_text(f"ci:{bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()}\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "config.yml").write_text(
        f"version: 0.1\nlog: {{level: warn}}\nstorage: {{filesystem: {{rootdirectory: {tmp_path / 'data'}}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
        f"auth: {{htpasswd: {{realm: playbook, path: {tmp_path / 'htpasswd'}}}}}\n")
    proc = subprocess.Popen([binary, "serve", str(tmp_path / "config.yml")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            except urllib.error.HTTPError:  # 401: up, and asking for credentials
                break
            except OSError:
                time.sleep(0.1)
        yield f"127.0.0.1:{port}", "ci", password
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.docker
def test_push_takes_credentials_from_the_environment(auth_registry, monkeypatch, capsys):
    address, user, password = auth_registry
    ref = build.make_foreign_image("amd64", reference="runpod-playbook-demo:amd64")
    monkeypatch.delenv("REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("REGISTRY_PASSWORD", raising=False)
    with pytest.raises(BuildError, match="REGISTRY_USERNAME/REGISTRY_PASSWORD"):
        push(ref, address, repository="playbook-auth", progress=False)
    monkeypatch.setenv("REGISTRY_USERNAME", user)
    monkeypatch.setenv("REGISTRY_PASSWORD", "wrong-" + password)
    with pytest.raises(BuildError) as wrong:
        push(ref, address, repository="playbook-auth", progress=False)
    assert password not in str(wrong.value)
    monkeypatch.setenv("REGISTRY_PASSWORD", password)
    pushed = push(ref, address, repository="playbook-auth", progress=True)
    assert pushed.digest.startswith("sha256:") and pull(pushed.reference).id == dockerhost.client().images.get(ref).id
    captured = capsys.readouterr()
    assert password not in captured.out + captured.err and password not in pushed_record().read_text()
