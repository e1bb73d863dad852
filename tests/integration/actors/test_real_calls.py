"""Real calls through the runtime: Dispatcher → SessionHost actors → CallHost → the Twilio and
OpenAI emulators (running in this test process), persisted in PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections import Counter
from typing import Any

import pytest

from actors import _ray
from actors.bootstrap import start_engine
from engine.emulators.openai.goals import parse_goals
from storage import Principal
from tests.integration.actors.conftest import Rig, wait_for
from tests.integration.actors.real_calls import (
    CPS,
    SPEED,
    THREE_QUESTIONS,
    assert_matrix_invariants,
    setup_real_calls,
)
from tests.integration.matrix import assert_never_rung_twice_at_once

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
def emulator_speed() -> float:
    return SPEED


async def _lines(rig: Rig, sid: uuid.UUID) -> list[Any]:
    async with rig.db.transaction(Principal.service()) as tx:
        return list(await tx.transcripts.list_lines(sid))


async def test_real_calls_complete_once_each_within_cps(
    rig: Rig, twilio_emulator_factory: Any, openai_emulator_factory: Any
) -> None:
    phones = [f"+4670174930{i}" for i in range(4)]
    calls = await setup_real_calls(rig, twilio_emulator_factory, openai_emulator_factory, phones, 2)
    tw, ids = calls.twilio, calls.ids
    await asyncio.to_thread(start_engine, calls.settings, analysis=False, reporter=False)
    await wait_for(lambda: rig.all_in(ids, "completed", "failed", "abandoned"), 150, "calls ended")

    recs = await rig.statuses(ids)
    assert {r.session_status.value for r in recs.values()} == {"completed"}, recs
    assert Counter(c.to for c in tw.calls) == Counter(phones), "each number dialled exactly once"
    created = sorted(c.created_at for c in tw.calls)
    for a, b in zip(created, created[2:], strict=False):
        assert (b - a).total_seconds() >= 1.0 / CPS, "more than CPS+1 calls within a second"
    # The model asks in its own words; the topic is there.
    assert any("hittade du det du sökte" in line.content.lower() for line in await _lines(rig, ids[0]))


async def test_killed_host_mid_interview_retries_and_continues_the_interview(
    rig: Rig, twilio_emulator_factory: Any, openai_emulator_factory: Any
) -> None:
    """A SessionHost SIGKILLed once the first question was answered: the call is retried on another
    host, the retry's model is told what was answered and that the call broke off, asks only the
    rest, acknowledges the interruption, and the transcript continues its order."""
    phones = ["+46701749310", "+46701749311"]
    calls = await setup_real_calls(
        rig,
        twilio_emulator_factory,
        openai_emulator_factory,
        phones,
        1,
        THREE_QUESTIONS,
        assessor_actors=1,
        fraud_actors=1,
    )
    tw, oa, ids = calls.twilio, calls.openai, calls.ids
    await asyncio.to_thread(start_engine, calls.settings, analysis=True, reporter=False)
    victim = ids[0]

    async def answered() -> list[str]:
        async with rig.db.transaction(Principal.service()) as tx:
            return [p.question_id for p in await tx.interviews.progress(victim) if p.status == "answered"]

    async def mid_interview() -> bool:
        recs = await rig.statuses([victim])
        return recs[victim].session_status.value == "in_progress" and len(await answered()) >= 1

    await wait_for(mid_interview, 90, "the first call mid-interview, a question answered and stored")
    host_id = (await rig.statuses([victim]))[victim].host_id
    assert host_id
    pid = await _ray.call(_ray.get_actor(host_id).pid.remote(), "pid", 10.0)
    os.kill(pid, signal.SIGKILL)
    done_before = set(await answered())  # what the retry may know (nothing more is written now)
    before = [line.content for line in await _lines(rig, victim)]

    await wait_for(
        lambda: rig.all_in(ids, "completed"), 150, "both calls completed (the victim after a retry)"
    )
    recs = await rig.statuses(ids)
    assert recs[victim].retry_count == 1 and recs[ids[1]].retry_count == 0
    assert assert_never_rung_twice_at_once(tw) == Counter({phones[0]: 2, phones[1]: 1})
    # No session stuck; every line once and in order (the retry continued the order: no second
    # run of numbers from 1, no interleaving of two attempts' interviews); both calls assessed.
    await assert_matrix_invariants(rig, ids)
    lines = await _lines(rig, victim)
    after = [line.content for line in lines]
    assert before and after[: len(before)] == before, "lines written before the kill are kept, first"
    retry_ai = [ln.content for ln in lines[len(before) :] if ln.speaker.value == "ai"]
    assert retry_ai, "the retry's lines follow them"
    assert "AI-assistent" in retry_ai[0], "the retry discloses and asks for consent again"
    assert any("bröts" in t or "avbrutna" in t for t in retry_ai), "it acknowledges the interruption"

    # The retry's Realtime session (configured before the phone rang) knew what was answered.
    goals = [parse_goals(s.session_updates[0]["instructions"]) for s in oa.sessions]
    resumed = [s for s, g in zip(oa.sessions, goals, strict=True) if g is not None and g.resumed]
    assert len(resumed) == 1, "exactly one resumed Realtime session: the retry's"
    told = parse_goals(resumed[0].session_updates[0]["instructions"])
    assert told is not None and set(told.answered) == done_before, (told, done_before)
    assert not {q.id for q in told.questions} & done_before, "only the unanswered questions are goals"
    asked = [k.split(":")[1] for r in resumed[0].responses for k in r.keys if k.startswith("question:")]
    assert asked, "the retry asked the questions that were left"
    assert not set(asked) & done_before, f"an answered question asked again: {asked} vs {done_before}"
    assert len(asked) == len(set(asked)), f"a question asked twice: {asked}"
    assert set(asked) | done_before == {"hitta", "frukt", "kassa"}, "every question covered once"
