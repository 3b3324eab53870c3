"""The worker under RunPod's real job loop (rp_scale, rp_job, rp_http, rp_progress), fed by the smallest
job queue that speaks the worker protocol: jobs are taken, results and per-step progress updates are
posted back, a bad job fails and the next one succeeds in the same process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from playbook.handler.preview import HANDLER, WORKER_DIR
from playbook.weights.demo_model import make_demo_model

pytestmark = pytest.mark.slow  # starts processes (platform, workers) or runs end to end


class Queue(BaseHTTPRequestHandler):
    """job-take hands out the queued jobs, then long-polls (a 204 at once would make the SDK spin)."""

    jobs: list = []
    posts: list = []  # (job id, body)
    takes: list = []

    def do_GET(self):
        if "/job-take/" in self.path:
            self.takes.append(self.path)
            if self.jobs:
                return self._json(200, self.jobs.pop(0))
        if "/job-take/" in self.path or "/job-stop/" in self.path:
            time.sleep(0.5)
            return self._json(204, None)
        return self._json(200, {})  # ping

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        job_id = self.path.split("?")[0].rsplit("/", 1)[-1]
        self.posts.append((job_id, json.loads(body), self.headers.get("Authorization")))
        self._json(200, {})

    def _json(self, status, payload):
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def queue():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Queue)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Queue.jobs, Queue.posts, Queue.takes = [], [], []
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def wait_for(predicate, timeout_s, proc):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc.poll() is not None:
            return predicate()
        time.sleep(0.1)
    return False


def test_real_job_loop_posts_progress_and_results(queue, tmp_path):
    model = make_demo_model(tmp_path / "tiny-sd")
    good = {"prompt": "a lighthouse", "width": 64, "height": 64, "num_inference_steps": 3, "seed": 4}
    Queue.jobs = [{"id": "bad-1", "input": {"prompt": "x", "width": 65}}, {"id": "good-1", "input": good}]
    env = {**os.environ, "MODEL_PATH": str(model), "RUNPOD_POD_ID": "w1", "RUNPOD_AI_API_KEY": "worker-key",
           "RUNPOD_WEBHOOK_GET_JOB": f"{queue}/v2/e/job-take/$ID?gpu=cpu",
           "RUNPOD_WEBHOOK_POST_OUTPUT": f"{queue}/v2/e/job-done/$RUNPOD_POD_ID/$ID?gpu=cpu",
           "RUNPOD_WEBHOOK_PING": f"{queue}/v2/e/ping/$RUNPOD_POD_ID?gpu=cpu",
           "RUNPOD_SKIP_GPU_CHECK": "true", "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "true",
           "WORKER_PROGRESS_INTERVAL_S": "0"}  # every step (default: at most one a second, and the last)
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 (the worker's log for the whole test)
    proc = subprocess.Popen([sys.executable, str(HANDLER)], cwd=WORKER_DIR, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        def finals():
            return {j: b for j, b, _ in Queue.posts if b.get("status") != "IN_PROGRESS"}

        def progress():
            return sorted(b["output"]["step"] for j, b, _ in Queue.posts
                          if j == "good-1" and b.get("status") == "IN_PROGRESS")

        assert wait_for(lambda: len(finals()) == 2, 180, proc), (tmp_path / "worker.log").read_text()
        wait_for(lambda: len(progress()) == 3, 10, proc)  # progress posts come from threads, maybe late
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    out = (tmp_path / "worker.log").read_text()
    assert "All fitness checks passed" in out
    done = finals()
    assert isinstance(done["bad-1"]["error"], str) and "'width' = 65 is invalid" in done["bad-1"]["error"]
    [image] = done["good-1"]["output"]["images"]
    assert image["seed"] == 4 and len(image["image"]) > 1000
    assert progress() == [1, 2, 3]
    assert {b["output"]["steps"] for j, b, _ in Queue.posts if b.get("status") == "IN_PROGRESS"} == {3}
    assert all(auth == "worker-key" for _, _, auth in Queue.posts)
    assert image["image"][:200] not in out  # INFO logging: the base64 result is not dumped into the log
