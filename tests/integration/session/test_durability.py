"""A call survives a database outage (mid-call through the hang-up; before dialling) and a retry
continues the transcript (CallHost + emulators, in-memory store). The Twilio, Realtime and
replayed-callback rows of the fault matrix are in test_matrix_rows.py."""

from __future__ import annotations

import asyncio

import pytest

from engine.dispatch.ports import NotDialledError
from engine.domain import SessionStatus, Speaker
from engine.session import call as call_module
from engine.session.call import CallRequest
from engine.session.store import TranscriptLine
from tests.integration.session.conftest import RigFactory

PHONE = "+46701749121"
ANSWERS = ["Frukten var fin.", "Kaffet var gott.", "Kassan gick fort."]


def _scenario(**fields: object) -> dict[str, object]:
    return {"name": "d", "phone": PHONE, "answers": ANSWERS, **fields}


def _assert_orders(lines: list[TranscriptLine], start: int = 1) -> None:
    orders = [line.message_order for line in lines]
    assert orders == list(range(start, start + len(orders))), orders


async def test_status_writes_are_held_through_a_storage_outage(rig: RigFactory, no_leaks: None) -> None:
    r = await rig(scenarios=[_scenario()])
    await r.host.start_call(CallRequest("sess-outage", "grocery-solna", PHONE))
    async with asyncio.timeout(20):
        while r.store.status.get("sess-outage") != "in_progress":  # noqa: ASYNC110 - a store with no events
            await asyncio.sleep(0.05)
    r.store.fail_writes = True  # the database goes away mid-call, through the hang-up

    async def restore() -> None:
        await asyncio.sleep(4.0)
        r.store.fail_writes = False

    restorer = asyncio.create_task(restore())
    outcome = await r.outcome()
    await restorer
    assert outcome.status is SessionStatus.COMPLETED, outcome
    assert r.store.status["sess-outage"] == "completed", "the held writes landed once storage returned"
    phases = [new for _, new in r.store.events["sess-outage"]]
    assert phases[-1] == "completed", phases  # the phase-only "closing" was skipped, not blocking
    lines = r.store.lines("sess-outage")
    said = [line.content for line in lines if line.speaker is Speaker.CUSTOMER]
    assert len(said) >= 2 and len(lines) >= 5, [line.speaker for line in lines]
    _assert_orders(lines)  # every line released during the outage stored, once, in order


async def test_a_retry_continues_the_transcript_order(rig: RigFactory, no_leaks: None) -> None:
    r = await rig(scenarios=[_scenario()])
    earlier = [
        TranscriptLine(Speaker.AI, 1, "Hej från första försöket", 0, "question"),  # type: ignore[arg-type]
        TranscriptLine(Speaker.CUSTOMER, 2, "Hallå?", 900, "response"),  # type: ignore[arg-type]
    ]
    await r.store.add_transcript_lines("sess-retry", earlier)
    outcome = await r.call("sess-retry", PHONE, attempt=2)
    assert outcome.status is SessionStatus.COMPLETED, outcome
    lines = r.store.lines("sess-retry")
    assert [line.content for line in lines[:2]] == ["Hej från första försöket", "Hallå?"]
    _assert_orders(lines)
    assert len(lines) > 3, "the second attempt's lines follow the first's"


async def test_a_database_outage_before_dialling_holds_the_dial_then_gives_the_session_back(
    rig: RigFactory, no_leaks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = await rig(scenarios=[_scenario()])
    # A short outage: the reads a dial needs are held, then the call goes ahead.
    r.store.fail_reads = True
    starting = asyncio.create_task(r.host.start_call(CallRequest("sess-pre", "grocery-solna", PHONE)))
    await asyncio.sleep(0.5)  # the outage itself
    assert not starting.done() and r.twilio.calls_to(PHONE) == [], "nobody rung while it lasts"
    r.store.fail_reads = False
    await starting
    outcome = await r.outcome()
    assert outcome.status is SessionStatus.COMPLETED and len(r.twilio.calls_to(PHONE)) == 1
    # A longer one: not dialled, nothing written; the Dispatcher gives the session back.
    monkeypatch.setattr(call_module, "PREDIAL_HOLD_SECONDS", 0.3)
    r.store.fail_reads = True
    with pytest.raises(NotDialledError):
        await r.host.start_call(CallRequest("sess-pre-2", "grocery-solna", PHONE, attempt=1))
    outcome = await r.outcome()
    assert outcome.status is SessionStatus.PENDING and not outcome.retry_due
    assert "sess-pre-2" not in r.store.status and "sess-pre-2" not in r.store.events, "nothing written"
    assert len(r.twilio.calls_to(PHONE)) == 1, "nobody rung"
