"""The Ray runtime on a local 2-worker-node cluster with real PostgreSQL.

Calls are placed by the real Dispatcher on real SessionHost actors; the call
itself is the stand-in in actors/sim_host.py (see there for why).
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections import Counter

import pytest

from actors import handles
from actors.bootstrap import start_engine
from tests.integration.actors.conftest import SIM_FACTORY, Rig, wait_for
from tests.integration.actors.real_calls import assert_matrix_invariants

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def start(settings: object, analysis: bool = False, **overrides: object) -> None:
    start_engine(
        settings,  # type: ignore[arg-type]
        call_host_factory=SIM_FACTORY,
        dispatcher_overrides=overrides or None,
        analysis=analysis,
        reporter=False,
    )


async def test_calls_spread_over_hosts_and_nodes_at_the_cps_limit(rig: Rig) -> None:
    log = rig.call_log({}, default_hold=4.0)  # long enough that all 12 calls overlap
    ids = await rig.sessions(12)
    settings = rig.configure(slots=3, cps=5.0)
    await asyncio.to_thread(start, settings)
    await wait_for(lambda: rig.all_in(ids, "completed"), 90, "all calls completed")

    dials = await log.all.remote()
    counts = Counter(d["session_id"] for d in dials)
    assert counts == Counter({str(i): 1 for i in ids}), "every call dialled exactly once"
    assert all(d["phone_ok"] for d in dials)
    assert len({d["host_pid"] for d in dials}) >= 4, "12 calls on 3-slot hosts need >= 4 hosts"
    assert len({d["node_id"] for d in dials}) == 2, "hosts spread over both worker nodes"
    assert {d["event_loop"] for d in dials} == {"uvloop"}, "Ray runs the SessionHosts on uvloop"
    times = sorted(d["at"] for d in dials)
    for i, t0 in enumerate(times):
        in_window = sum(1 for t in times[i:] if t - t0 < 1.0)
        assert in_window <= 5 + 1, f"{in_window} dials within one second at cps 5"
    assert await handles.ping()


async def test_killed_host_fails_host_lost_and_calls_retry_elsewhere(rig: Rig) -> None:
    log = rig.call_log({1: 6.0}, default_hold=0.3)
    ids = await rig.sessions(6)
    await asyncio.to_thread(start, rig.configure(slots=3, cps=50.0))
    await wait_for(lambda: rig.all_in(ids, "in_progress"), 60, "all calls talking")
    # let each call write a few transcript lines before the kill
    await wait_for(lambda: _lines_at_least(rig, ids, 2), 20, "transcript lines")

    dials = await log.all.remote()
    victim = dials[0]["host_pid"]
    lost = {d["session_id"] for d in dials if d["host_pid"] == victim}
    os.kill(victim, signal.SIGKILL)

    await wait_for(lambda: rig.all_in(ids, "completed"), 90, "every call completed after the retry")
    dials = await log.all.remote()
    by_session = Counter(d["session_id"] for d in dials)
    recs = await rig.statuses(ids)
    for sid in ids:
        if str(sid) in lost:
            assert by_session[str(sid)] == 2 and recs[sid].retry_count == 1
            retry = [d for d in dials if d["session_id"] == str(sid) and d["attempt"] == 2]
            assert retry and retry[0]["host_pid"] != victim
        else:
            assert by_session[str(sid)] == 1 and recs[sid].retry_count == 0
    # transcript lines written before the kill are kept, the retry's continue their order
    lines = await _contents(rig, next(sid for sid in ids if str(sid) in lost))
    assert any("försök 1" in t for t in lines) and any("försök 2" in t for t in lines)
    await assert_matrix_invariants(rig, ids, assessed=False)


async def test_removed_node_fails_its_calls_host_lost_and_they_retry(rig: Rig) -> None:
    log = rig.call_log({1: 8.0}, default_hold=0.3)
    ids = await rig.sessions(4)
    # The production heartbeat threshold (30 s): SimCallHost now answers session_ids(), so a
    # host on the surviving node heartbeats normally while Ray re-detects the dead node.
    # Analysis on (its pools live on the head node): every completed call is assessed too.
    settings = rig.configure(slots=1, cps=50.0, assessor_actors=1, fraud_actors=1)
    await asyncio.to_thread(start, settings, True)
    await wait_for(lambda: rig.all_in(ids, "in_progress"), 60, "all calls talking")
    dials = await log.all.remote()
    nodes = {d["node_id"] for d in dials}
    assert len(nodes) == 2
    doomed_id = dials[0]["node_id"]
    lost = {d["session_id"] for d in dials if d["node_id"] == doomed_id}
    doomed = next(n for n in rig.cluster.workers if n.node_id == doomed_id)
    rig.cluster.remove_worker(doomed)  # Cluster.remove_node needs the main thread (signals)
    try:
        await wait_for(lambda: rig.all_in(ids, "completed"), 120, "every call completed after the node loss")
    finally:
        rig.cluster.add_worker()  # later tests expect two workers
    recs = await rig.statuses(ids)
    for sid in ids:
        assert recs[sid].retry_count == (1 if str(sid) in lost else 0)
    retries = [d for d in await log.all.remote() if d["attempt"] == 2]
    assert {d["session_id"] for d in retries} == lost
    assert all(d["node_id"] != doomed_id for d in retries)
    assert Counter(d["session_id"] for d in await log.all.remote()) == Counter(
        {str(s): 2 if str(s) in lost else 1 for s in ids}
    ), "the lost calls dialled once more, the others once"
    await assert_matrix_invariants(rig, ids)


async def test_dispatcher_restart_mid_queue_loses_nothing_and_dials_nothing_twice(rig: Rig) -> None:
    log = rig.call_log({}, default_hold=0.3)
    ids = await rig.sessions(12)
    await asyncio.to_thread(start, rig.configure(slots=4, cps=3.0))

    async def some_dialled() -> bool:
        return len(await log.all.remote()) >= 3

    await wait_for(some_dialled, 60, "first dials")
    import ray

    ray.kill(handles.get_dispatcher(), no_restart=False)  # the process dies; Ray restarts the actor
    await wait_for(lambda: rig.all_in(ids, "completed"), 120, "the queue drained after the restart")
    counts = Counter(d["session_id"] for d in await log.all.remote())
    assert counts == Counter({str(i): 1 for i in ids})
    assert await handles.ping()


async def test_dedicated_actor_mode(rig: Rig) -> None:
    log = rig.call_log({}, default_hold=1.0)
    ids = await rig.sessions(3)
    await asyncio.to_thread(start, rig.configure(slots=1, cps=50.0))
    await wait_for(lambda: rig.all_in(ids, "completed"), 90, "dedicated calls completed")
    dials = await log.all.remote()
    assert len({d["host_pid"] for d in dials}) == 3, "one actor process per call"
    stats = await handles.stats()
    assert all(h["capacity"] == 1 for h in stats["hosts"].values())


async def _lines(rig: Rig, sid: object) -> list[int]:
    from storage import Principal

    async with rig.db.transaction(Principal.service()) as tx:
        return [line.message_order for line in await tx.transcripts.list_lines(sid)]


async def _contents(rig: Rig, sid: object) -> list[str]:
    from storage import Principal

    async with rig.db.transaction(Principal.service()) as tx:
        return [line.content for line in await tx.transcripts.list_lines(sid)]


async def _lines_at_least(rig: Rig, ids: list[uuid.UUID], n: int) -> bool:
    for sid in ids:
        if len(await _lines(rig, sid)) < n:
            return False
    return True
