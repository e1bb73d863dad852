"""Real calls through the runtime: Dispatcher → SessionHost actors → CallHost → the Twilio and
OpenAI emulators (running in this test process), persisted in PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import uuid
from collections import Counter
from typing import Any

import msgspec
import pytest

from actors import _ray
from actors.bootstrap import start_engine
from engine.config import DispatchSettings, HostSettings, Secret, SessionSettings, Settings
from engine.emulators.scenarios import default_scenarios, parse_scenarios
from storage import Principal
from storage.records import BusinessContext
from tests.integration.actors.conftest import Rig, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
SPEED = 4.0
CPS = 2.0


@pytest.fixture
def emulator_speed() -> float:
    return SPEED


async def _setup(
    rig: Rig, twilio_emulator_factory: Any, openai_emulator_factory: Any, phones: list[str], slots: int
) -> tuple[Any, Settings, list[uuid.UUID]]:
    scenarios = [
        {"name": f"rt-{i}", "phone": p, "answers": ["Ja, allt fanns.", "Frukten var fin.", "Snabbt."]}
        for i, p in enumerate(phones)
    ]
    base = msgspec.to_builtins(default_scenarios().stores)
    tw = await twilio_emulator_factory(
        scenarios=parse_scenarios({"stores": base, "scenarios": scenarios}), calls_per_second=CPS
    )
    oa = await openai_emulator_factory()
    env = {**tw.env(), "OPENAI_BASE_URL": oa.base_url, "OPENAI_API_KEY": oa.api_key}
    from_env = Settings.from_env(env)
    settings = dataclasses.replace(
        rig.settings,
        twilio=dataclasses.replace(from_env.twilio, calls_per_second=CPS),
        openai=dataclasses.replace(from_env.openai, api_key=Secret(oa.api_key)),
        session=SessionSettings(
            # Twilio's TimeLimit (max_call_seconds + 60) counts emulated seconds: keep it out of reach.
            max_call_seconds=1200.0 / SPEED,
            silence_nudge_seconds=8.0 / SPEED,
            silence_hangup_seconds=20.0 / SPEED,
            transcript_flush_seconds=1.0 / SPEED,
        ),
        host=HostSettings(sessions_per_host=slots, drain_seconds=2.0),
        dispatch=DispatchSettings(poll_seconds=0.1, respect_call_windows=False, retry_backoff_seconds=(0.5,)),
    )
    store_id = await rig.factory.store()
    async with rig.db.transaction(Principal.service()) as tx:
        await tx.contexts.put_new_version(
            BusinessContext(
                store_id=store_id,
                operating_hours={"mon": "08:00-20:00"},
                departments=["frukt och grönt", "kassan"],
                current_campaigns=[{"name": "kaffe"}],
                question_configuration={
                    "questions": [{"text": "Hittade du det du sökte?", "frequency": 1.0}]
                },
                baseline_facts={},
            )
        )
    ids = [await rig.factory.session(store_id, p) for p in phones]
    return tw, settings, ids


async def _lines(rig: Rig, sid: uuid.UUID) -> list[Any]:
    async with rig.db.transaction(Principal.service()) as tx:
        return list(await tx.transcripts.list_lines(sid))


async def test_real_calls_complete_once_each_within_cps(
    rig: Rig, twilio_emulator_factory: Any, openai_emulator_factory: Any
) -> None:
    phones = [f"+4670174930{i}" for i in range(4)]
    tw, settings, ids = await _setup(rig, twilio_emulator_factory, openai_emulator_factory, phones, 2)
    await asyncio.to_thread(start_engine, settings, analysis=False, reporter=False)
    await wait_for(lambda: rig.all_in(ids, "completed", "failed", "abandoned"), 150, "calls ended")

    recs = await rig.statuses(ids)
    assert {r.session_status.value for r in recs.values()} == {"completed"}, recs
    assert Counter(c.to for c in tw.calls) == Counter(phones), "each number dialled exactly once"
    created = sorted(c.created_at for c in tw.calls)
    for a, b in zip(created, created[2:], strict=False):
        assert (b - a).total_seconds() >= 1.0 / CPS, "more than CPS+1 calls within a second"
    # The model asks in its own words; the topic is there.
    assert any("hittade du det du sökte" in line.content.lower() for line in await _lines(rig, ids[0]))


async def test_killed_host_mid_call_keeps_transcript_and_retries(
    rig: Rig, twilio_emulator_factory: Any, openai_emulator_factory: Any
) -> None:
    phones = ["+46701749310", "+46701749311"]
    tw, settings, ids = await _setup(rig, twilio_emulator_factory, openai_emulator_factory, phones, 1)
    await asyncio.to_thread(start_engine, settings, analysis=False, reporter=False)
    victim = ids[0]

    async def talking() -> bool:
        recs = await rig.statuses([victim])
        return recs[victim].session_status.value == "in_progress" and len(await _lines(rig, victim)) >= 1

    await wait_for(talking, 90, "the first call talking with transcript lines stored")
    host_id = (await rig.statuses([victim]))[victim].host_id
    assert host_id
    pid = await _ray.call(_ray.get_actor(host_id).pid.remote(), "pid", 10.0)
    before = [line.content for line in await _lines(rig, victim)]
    os.kill(pid, signal.SIGKILL)

    await wait_for(
        lambda: rig.all_in(ids, "completed"), 150, "both calls completed (the victim after a retry)"
    )
    recs = await rig.statuses(ids)
    assert recs[victim].retry_count == 1 and recs[ids[1]].retry_count == 0
    assert len(tw.calls_to(phones[0])) == 2 and len(tw.calls_to(phones[1])) == 1
    lines = await _lines(rig, victim)
    orders = [line.message_order for line in lines]
    # Unique (session, message_order) is enforced by the schema; here: the retry continued the
    # order (no second run of numbers from 1, no interleaving of two attempts' interviews).
    assert orders == list(range(1, len(orders) + 1)), orders
    after = [line.content for line in lines]
    assert before and after[: len(before)] == before, "lines written before the kill are kept, first"
    assert len(after) > len(before), "the retry's lines follow them"
    # Every attempt opens with the AI disclosure again (in the model's own words).
    assert sum("AI-assistent" in line for line in after) <= 2, "at most one opening per attempt"
