"""Real calls through the runtime: Dispatcher → SessionHost actors → CallHost → the Twilio and
OpenAI emulators (running in this test process), persisted in PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from typing import Any

import msgspec
import pytest

from actors.bootstrap import start_engine
from engine.config import DispatchSettings, HostSettings, Secret, SessionSettings, Settings
from engine.emulators.scenarios import default_scenarios, parse_scenarios
from storage import Principal
from storage.records import BusinessContext
from tests.integration.actors.conftest import Rig, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
SPEED = 10.0
CPS = 2.0


@pytest.fixture
def emulator_speed() -> float:
    return SPEED


async def test_real_calls_complete_once_each_within_cps(
    rig: Rig, twilio_emulator_factory: Any, openai_emulator_factory: Any
) -> None:
    phones = [f"+4670174930{i}" for i in range(4)]
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
            max_call_seconds=180.0 / SPEED,
            silence_nudge_seconds=8.0 / SPEED,
            silence_hangup_seconds=20.0 / SPEED,
            transcript_flush_seconds=1.0 / SPEED,
        ),
        host=HostSettings(sessions_per_host=2, drain_seconds=2.0),
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
    await asyncio.to_thread(start_engine, settings, analysis=False, reporter=False)
    await wait_for(lambda: rig.all_in(ids, "completed", "failed", "abandoned"), 150, "calls ended")

    recs = await rig.statuses(ids)
    assert {r.session_status.value for r in recs.values()} == {"completed"}, recs
    assert Counter(c.to for c in tw.calls) == Counter(phones), "each number dialled exactly once"
    created = sorted(c.created_at for c in tw.calls)
    for a, b in zip(created, created[2:], strict=False):
        assert (b - a).total_seconds() >= 1.0 / CPS, "more than CPS+1 calls within a second"
    async with rig.db.transaction(Principal.service()) as tx:
        lines = await tx.transcripts.list_lines(ids[0])
    assert "Hittade du det du sökte?" in [line.content for line in lines]
