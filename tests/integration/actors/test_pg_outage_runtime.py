"""Fault-matrix row: PostgreSQL down for 10 s at dial time, under the whole runtime (Dispatcher,
SessionHost actors on the emulators, the analysis pools, a real server stopped and started).
Afterwards the database holds no session stuck, nobody was dialled twice, every line once and in
order, and every completed call assessed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actors.bootstrap import start_engine
from storage import embedded
from tests.integration.actors.conftest import Rig, wait_for
from tests.integration.actors.real_calls import (
    SPEED,
    assert_matrix_invariants,
    setup_real_calls,
)
from tests.integration.matrix import assert_never_rung_twice_at_once

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
OUTAGE_S = 10.0


@pytest.fixture
def emulator_speed() -> float:
    return SPEED


async def test_postgres_down_10s_at_dial_time_under_the_runtime(
    own_pg_rig: Rig, twilio_emulator_factory: Any, openai_emulator_factory: Any
) -> None:
    rig = own_pg_rig
    assert rig.pgdata is not None
    phones = [f"+4670174932{i}" for i in range(4)]
    calls = await setup_real_calls(
        rig, twilio_emulator_factory, openai_emulator_factory, phones, 2, assessor_actors=1, fraud_actors=1
    )
    await asyncio.to_thread(start_engine, calls.settings, analysis=True, reporter=False)

    async def first_dial() -> bool:
        return len(calls.twilio.calls) >= 1

    await wait_for(first_dial, 90, "the first call placed")
    await asyncio.to_thread(embedded.release, rig.pgdata)  # the server stops, the queue mid-dial
    await asyncio.sleep(OUTAGE_S)  # the outage itself: nothing to wait on while it lasts
    await asyncio.to_thread(embedded.acquire, rig.pgdata)

    await wait_for(
        lambda: rig.all_in(calls.ids, "completed", "failed", "abandoned"), 120, "every call settled"
    )
    recs = await rig.statuses(calls.ids)
    assert {r.session_status.value for r in recs.values()} == {"completed"}, {
        sid: (r.session_status.value, r.failure_reason) for sid, r in recs.items()
    }
    dialled = assert_never_rung_twice_at_once(calls.twilio)
    assert dialled == {p: 1 for p in phones}, "each number dialled once: the outage cost no attempt"
    await assert_matrix_invariants(rig, calls.ids)
