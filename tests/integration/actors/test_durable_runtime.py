"""Fault-matrix rows on the real runtime (Ray, PostgreSQL, the job queue, simulated calls): the
Dispatcher SIGKILLed at hang-up takes its analysis pools with it; the pool actors SIGKILLed with
jobs in flight. Every completed call is still assessed, exactly once per kind, nothing is stuck,
every line is stored once and in order, and nobody is dialled twice."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import uuid
from collections import Counter
from typing import Any

import pytest

from actors import _ray
from actors.bootstrap import start_engine
from engine.config import Secret, Settings
from engine.jobs.kinds import ASSESS, FRAUD
from storage import Principal
from tests.integration.actors.conftest import SIM_FACTORY, Rig, wait_for
from tests.integration.actors.real_calls import assert_matrix_invariants

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
def emulator_speed() -> float:
    return 1.0  # the analysis LLM's latency below is in real seconds


async def _jobs(rig: Rig, ids: list[uuid.UUID]) -> dict[tuple[str, uuid.UUID], Any]:
    out: dict[tuple[str, uuid.UUID], Any] = {}
    async with rig.db.transaction(Principal.service()) as tx:
        for sid in ids:
            for kind in (ASSESS, FRAUD):
                job = await tx.jobs.find(kind, f"{kind}:{sid}")
                if job is not None:
                    out[(kind, sid)] = job
    return out


async def test_dispatcher_killed_at_hang_up_loses_no_assessment(rig: Rig) -> None:
    log = rig.call_log({}, default_hold=1.0)
    ids = await rig.sessions(6)
    settings = rig.configure(slots=3, cps=4.0, assessor_actors=1, fraud_actors=1, job_lease_seconds=3.0)
    engine = await asyncio.to_thread(
        start_engine, settings, call_host_factory=SIM_FACTORY, analysis=True, reporter=False
    )

    async def some_completed() -> bool:
        recs = await rig.statuses(ids)
        return sum(r.session_status.value == "completed" for r in recs.values()) >= 2

    await wait_for(some_completed, 90, "the first calls hung up")
    pid = await _ray.call(engine.dispatcher.pid.remote(), "dispatcher pid", 10.0)
    os.kill(pid, signal.SIGKILL)  # its pools (owned by it) die too, jobs in flight or queued

    await wait_for(lambda: rig.all_in(ids, "completed"), 120, "every call completed")
    await assert_matrix_invariants(rig, ids)
    jobs = await _jobs(rig, ids)
    assert len(jobs) == 12, "two analysis jobs per completed call, never more"
    dials = Counter(d["session_id"] for d in await log.all.remote())
    assert dials == Counter({str(i): 1 for i in ids}), "nobody dialled twice"


async def test_pool_actors_killed_with_jobs_in_flight_lose_no_analysis(
    rig: Rig, openai_emulator_factory: Any
) -> None:
    oa = await openai_emulator_factory()
    oa.faults.http.latency_seconds = 1.5  # every analysis LLM call: jobs stay in flight a while
    log = rig.call_log({}, default_hold=0.5)
    ids = await rig.sessions(4)
    base = rig.configure(slots=4, cps=20.0, assessor_actors=1, fraud_actors=1, job_lease_seconds=3.0)
    llm = Settings.from_env({"OPENAI_BASE_URL": oa.base_url, "OPENAI_API_KEY": oa.api_key}).openai
    settings = dataclasses.replace(base, openai=dataclasses.replace(llm, api_key=Secret(oa.api_key)))
    await asyncio.to_thread(
        start_engine, settings, call_host_factory=SIM_FACTORY, analysis=True, reporter=False
    )

    async def in_flight() -> bool:
        return any(job.state == "running" for job in (await _jobs(rig, ids)).values())

    await wait_for(in_flight, 90, "analysis jobs running")
    pools = _ray.named_actors(_ray.ASSESSOR_PREFIX) + _ray.named_actors(_ray.FRAUD_PREFIX)
    assert len(pools) == 2
    for name in pools:  # SIGKILL: no graceful stop, leases left to run out
        pid = await _ray.call(_ray.get_actor(name).pid.remote(), "pool pid", 10.0)
        os.kill(pid, signal.SIGKILL)

    await wait_for(lambda: rig.all_in(ids, "completed"), 90, "every call completed")
    await assert_matrix_invariants(rig, ids)  # every job done: the restarted actors took them over
    jobs = await _jobs(rig, ids)
    assert len(jobs) == 8
    assert any(job.attempts >= 2 for job in jobs.values()), "a killed job in flight was run again"
    assert all(job.state == "done" for job in jobs.values())
    dials = Counter(d["session_id"] for d in await log.all.remote())
    assert dials == Counter({str(i): 1 for i in ids}), "nobody dialled twice"
