"""Job dispatch on the local platform: a prefetching worker never takes a job an idle worker waits for."""

from __future__ import annotations

import asyncio
from pathlib import Path

from playbook.local import EndpointConfig
from playbook.local.runtime.engine import Engine
from playbook.local.runtime.state import IN_PROGRESS, IN_QUEUE, EndpointState, Worker
from playbook.local.servers.job_envelope import check


def setup(tmp_path: Path):
    engine = Engine()
    ep = EndpointState(EndpointConfig(name="d", handler_path=tmp_path / "h.py", volume_dir=tmp_path))
    engine.endpoints[ep.cfg.id] = ep
    return engine, ep


def worker(name: str, tmp_path: Path, jobs=()) -> Worker:
    w = Worker(name, "ep", "process", tmp_path / f"{name}.log", state="running" if jobs else "idle")
    w.jobs.update(jobs)
    return w


def take(ep, w, batch_size=1):
    fut = asyncio.get_running_loop().create_future()
    ep.takers.append((w, fut, batch_size))
    return fut


def test_an_idle_worker_gets_the_job_before_a_busy_prefetching_one(tmp_path):
    async def scenario():
        engine, ep = setup(tmp_path)
        busy, idle = worker("busy", tmp_path, jobs={"running-job"}), worker("idle", tmp_path)
        busy_take = take(ep, busy, batch_size=1)  # asked first: its prefetch slot
        idle_take = take(ep, idle, batch_size=2)
        job = engine.submit(ep, check({"input": {"n": 1}}), sync=False)
        assert idle_take.done() and [j.id for j in idle_take.result()] == [job.id]
        assert not busy_take.done() and job.status == IN_PROGRESS and job.worker_id == "idle"
        # with no idle worker waiting, the busy one's prefetch slot takes the next job
        second = engine.submit(ep, check({"input": {"n": 2}}), sync=False)
        assert busy_take.done() and busy_take.result()[0].id == second.id

    asyncio.run(scenario())


def test_jobs_are_spread_one_per_waiting_worker_before_filling_batches(tmp_path):
    async def scenario():
        engine, ep = setup(tmp_path)
        a, b = worker("a", tmp_path), worker("b", tmp_path)
        fa, fb = take(ep, a, batch_size=3), take(ep, b, batch_size=3)
        for n in range(3):
            job = engine.submit(ep, check({"input": {"n": n}}), sync=False)
            if n == 0:
                assert fa.done() and len(fa.result()) == 1 and not fb.done()
        assert fb.done() and len(fb.result()) == 1
        assert [j.status for j in ep.jobs.values()].count(IN_QUEUE) == 1 and job.status == IN_QUEUE

    asyncio.run(scenario())


def test_a_batch_take_alone_fills_up_to_its_batch_size(tmp_path):
    async def scenario():
        engine, ep = setup(tmp_path)
        for n in range(3):
            engine.submit(ep, check({"input": {"n": n}}), sync=False)
        a, b = worker("a", tmp_path), worker("b", tmp_path)
        fa, fb = take(ep, a, batch_size=2), take(ep, b, batch_size=2)
        engine.dispatch(ep)
        assert len(fa.result()) == 2 and len(fb.result()) == 1  # one each first, then a's batch
        assert not ep.queue and not ep.takers

    asyncio.run(scenario())
