"""Retries by attempt, impairments, faults, redirect, time limit, and no leaked tasks after stop."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from twilio.rest import Client

from engine.emulators.scenarios import ScenarioSet, parse_scenarios
from engine.emulators.twilio import TwilioEmulator

from .twilio_helpers import CONNECT_TWIML, StreamServer

Factory = Callable[..., Awaitable[TwilioEmulator]]


def _scenarios(**fields: Any) -> ScenarioSet:
    return parse_scenarios({"scenarios": [{"name": "t", "phone": "+46701740699", **fields}]})


def _client(emulator: TwilioEmulator) -> Client:
    client = Client(emulator.account_sid, emulator.auth_token)
    client.api.base_url = emulator.base_url
    return client


async def _dial(emulator: TwilioEmulator, twiml: str, **kwargs: Any) -> str:
    call = await asyncio.to_thread(
        _client(emulator).calls.create, to="+46701740699", from_="+46850000000", twiml=twiml, **kwargs
    )
    return str(call.sid)


async def test_attempts_no_answer_then_answer(twilio_emulator_factory: Factory) -> None:
    emulator = await twilio_emulator_factory(
        scenarios=_scenarios(attempts=[{"outcome": "no-answer"}, {"outcome": "answer", "ring_seconds": 1}])
    )
    twiml = '<Response><Pause length="1"/></Response>'
    first = await emulator.call(await _dial(emulator, twiml, timeout=3)).wait_ended(5)
    second = await emulator.call(await _dial(emulator, twiml, timeout=3)).wait_ended(5)
    assert (first.attempt, first.status, first.end_reason) == (0, "no-answer", "no-answer")
    assert (second.attempt, second.status, second.end_reason) == (1, "completed", "twiml-done")
    assert second.duration_s is not None and second.duration_s >= 0.9
    # An answer that would ring longer than Timeout is a no-answer.
    emulator = await twilio_emulator_factory(scenarios=_scenarios(attempts=[{"ring_seconds": 10}]))
    late = await emulator.call(await _dial(emulator, twiml, timeout=2)).wait_ended(5)
    assert late.status == "no-answer"


async def test_dropped_frames_leave_sequence_gaps_and_are_logged(twilio_emulator_factory: Factory) -> None:
    emulator = await twilio_emulator_factory(
        speed=5.0,
        scenarios=_scenarios(
            hangup_after_seconds=0.6,
            impairments={
                "drop_frames": [3, 5],
                "jitter_ms": 60,
                "gaps": [{"at_ms": 200, "duration_ms": 100}],
            },
        ),
    )
    async with StreamServer() as server:
        record = await emulator.call(await _dial(emulator, CONNECT_TWIML.format(url=server.url))).wait_ended(
            10
        )
        async with asyncio.timeout(5):
            await server.done.wait()
    media = [m for m in server.messages if m["event"] == "media"]
    chunks = [int(m["media"]["chunk"]) for m in media]
    assert record.frames_dropped == [3, 5]
    assert 3 not in chunks and 5 not in chunks and chunks == sorted(chunks)
    assert len(chunks) + 2 == max(chunks) == record.frames_sent + 2
    numbers = [int(m["sequenceNumber"]) for m in server.messages[1:]]
    assert numbers == sorted(numbers) and len(numbers) == max(numbers) - 2  # two gaps
    assert [m["media"]["timestamp"] for m in media[:3]] == ["0", "20", "60"]


async def test_stream_dropped_by_fault_and_rest_latency(twilio_emulator_factory: Factory) -> None:
    emulator = await twilio_emulator_factory(speed=5.0)
    emulator.faults.close_stream_after_ms = 200
    async with StreamServer() as server:
        record = await emulator.call(await _dial(emulator, CONNECT_TWIML.format(url=server.url))).wait_ended(
            10
        )
    assert record.end_reason == "stream-error" and record.status == "completed"
    assert [m["event"] for m in server.messages][-1] == "media"  # no stop: the connection just died
    emulator.faults.close_stream_after_ms = None
    emulator.faults.rest_latency_ms = 150
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.to_thread(_client(emulator).calls(record.sid).fetch)
    assert loop.time() - started >= 0.15


async def test_redirect_ends_stream_then_runs_new_twiml(
    twilio_emulator: TwilioEmulator, twilio_client: Client
) -> None:
    async with StreamServer() as server:
        call = await asyncio.to_thread(
            twilio_client.calls.create,
            to="+46709999999",
            from_="+46850000000",
            twiml=CONNECT_TWIML.format(url=server.url),
        )
        record = twilio_emulator.call(call.sid)
        await record.wait_status("in-progress", 5)
        async with asyncio.timeout(5):
            await server.started.wait()
        await asyncio.to_thread(
            twilio_client.calls(call.sid).update, twiml='<Response><Pause length="1"/><Hangup/></Response>'
        )
        await record.wait_ended(5)
        async with asyncio.timeout(5):
            await server.done.wait()
    assert server.messages[-1]["event"] == "stop"
    assert record.end_reason == "twiml-hangup" and record.status == "completed"


async def test_time_limit(twilio_emulator: TwilioEmulator, twilio_client: Client) -> None:
    async with StreamServer() as server:
        call = await asyncio.to_thread(
            twilio_client.calls.create,
            to="+46709999999",
            from_="+46850000000",
            twiml=CONNECT_TWIML.format(url=server.url),
            time_limit=2,
        )
        record = await twilio_emulator.call(call.sid).wait_ended(5)
    assert record.end_reason == "time-limit"
    assert record.duration_s is not None and 1.8 <= record.duration_s <= 30  # loose above: machine stalls


@pytest.mark.parametrize("during", ["ringing", "in-progress"])
async def test_stop_ends_calls_and_leaves_no_tasks(twilio_emulator_factory: Factory, during: str) -> None:
    emulator = await twilio_emulator_factory()
    async with StreamServer() as server:
        sid = await _dial(emulator, CONNECT_TWIML.format(url=server.url))
        record = await emulator.call(sid).wait_status(during, 5)
        await emulator.stop()
    assert record.ended.is_set() and record.end_reason == "emulator-stopped"
    assert record.status == ("canceled" if during == "ringing" else "completed")
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not current and t.get_name().startswith("twilio-")]
    assert leftovers == []


async def test_silence_gaps_mute_speech_but_keep_frames(twilio_emulator_factory: Factory) -> None:
    emulator = await twilio_emulator_factory(
        speed=5.0,
        scenarios=_scenarios(
            attempts=[{"outcome": "voicemail", "ring_seconds": 0.1}],  # speaks its greeting at once
            hangup_after_seconds=1.0,
            impairments={"silence_gaps": [{"at_ms": 100, "duration_ms": 200}]},
        ),
    )
    async with StreamServer() as server:
        record = await emulator.call(await _dial(emulator, CONNECT_TWIML.format(url=server.url))).wait_ended(
            10
        )
    media = [m["media"] for m in server.messages if m["event"] == "media"]
    silent = {m["chunk"] for m in media if base64.b64decode(m["payload"]) == b"\xff" * 160}
    assert record.frames_muted == 10 and {str(c) for c in range(6, 16)} <= silent
    assert "5" not in silent and "16" not in silent  # speech on both sides of the gap
