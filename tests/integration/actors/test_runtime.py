"""The Ray runtime on a local 2-worker-node cluster with real PostgreSQL.

Calls are placed by the real Dispatcher on real SessionHost actors; the call
itself is the stand-in in sim_host.py (see there for why).
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from actors import handles
from actors.bootstrap import start_engine
from tests.integration.actors.conftest import SIM_FACTORY, Rig, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def start(settings: object, **overrides: object) -> None:
    start_engine(
        settings,  # type: ignore[arg-type]
        call_host_factory=SIM_FACTORY,
        dispatcher_overrides=overrides or None,
        analysis=False,
        reporter=False,
    )


async def test_calls_spread_over_hosts_and_nodes_at_the_cps_limit(rig: Rig) -> None:
    log = rig.call_log({}, default_hold=1.0)
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
    times = sorted(d["at"] for d in dials)
    for i, t0 in enumerate(times):
        in_window = sum(1 for t in times[i:] if t - t0 < 1.0)
        assert in_window <= 5 + 1, f"{in_window} dials within one second at cps 5"
    assert await handles.ping()
