"""Fault-matrix rows on the real runtime (Ray, PostgreSQL, the job queue, simulated calls):
the Dispatcher SIGKILLed at hang-up takes its analysis pools with it, with jobs in flight;
every completed call is still assessed, exactly once per kind, and nobody is dialled twice."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections import Counter

import pytest

from actors import _ray
from actors.bootstrap import start_engine
from engine.jobs.kinds import ASSESS, FRAUD
from storage import Principal
from tests.integration.actors.conftest import SIM_FACTORY, Rig, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


async def _jobs(rig: Rig, ids: list[uuid.UUID]) -> dict[tuple[str, uuid.UUID], str]:
    out: dict[tuple[str, uuid.UUID], str] = {}
    async with rig.db.transaction(Principal.service()) as tx:
        for sid in ids:
            for kind in (ASSESS, FRAUD):
                job = await tx.jobs.find(kind, f"{kind}:{sid}")
                if job is not None:
                    out[(kind, sid)] = job.state
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

    async def all_assessed() -> bool:
        jobs = await _jobs(rig, ids)
        return len(jobs) == 12 and all(state == "done" for state in jobs.values())

    await wait_for(all_assessed, 120, "every completed call's analysis jobs done")
    async with rig.db.transaction(Principal.service()) as tx:
        for sid in ids:
            assert (await tx.assessments.get_by_session(sid)) is not None
    dials = Counter(d["session_id"] for d in await log.all.remote())
    assert dials == Counter({str(i): 1 for i in ids}), "nobody dialled twice"
