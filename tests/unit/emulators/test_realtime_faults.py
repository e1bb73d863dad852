"""Fault knobs of the Realtime emulator: drops, latency, refusals, auth, the session time limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import websockets
from openai import AsyncOpenAI

from engine.emulators.openai import OpenAIEmulator, OpenAIEmulatorOptions
from engine.emulators.openai.testing import ValidatingRealtimeClient

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
async def emulator() -> AsyncIterator[OpenAIEmulator]:
    async with OpenAIEmulator(OpenAIEmulatorOptions(speed=20, validate_events=True)) as emu:
        yield emu


@pytest.fixture
async def client(emulator: OpenAIEmulator) -> AsyncIterator[AsyncOpenAI]:
    client = AsyncOpenAI(base_url=emulator.base_url, api_key=emulator.api_key, max_retries=0)
    yield client
    await client.close()


async def test_drop_after_seconds_aborts_first_connection_only(
    client: AsyncOpenAI, emulator: OpenAIEmulator
) -> None:
    emulator.faults.realtime.drop_after_seconds = 2.0  # emulated: 0.1 s at speed 20
    async with client.realtime.connect(model="gpt-realtime") as conn:
        rt = ValidatingRealtimeClient(conn)
        await rt.until("session.created")
        with pytest.raises(websockets.ConnectionClosedError) as info:
            await rt.until("never.sent", within=5)
        assert info.value.rcvd is None  # no close frame: the TCP connection was aborted (1006)
    async with asyncio.timeout(5):
        await emulator.sessions[0].closed.wait()
    assert emulator.sessions[0].close_reason == "dropped"
    async with client.realtime.connect(model="gpt-realtime") as conn:
        rt = ValidatingRealtimeClient(conn)
        await rt.until("session.created")
        await conn.input_audio_buffer.clear()
        await asyncio.sleep(0.2)  # well past the 0.1 s drop time: this connection must stay up
        await rt.until("input_audio_buffer.cleared")
    assert emulator.sessions[1].close_reason == "client"


async def test_drop_after_events_with_close_code(client: AsyncOpenAI, emulator: OpenAIEmulator) -> None:
    emulator.faults.realtime.drop_after_events = 2
    emulator.faults.realtime.drop_close_code = 1011
    async with client.realtime.connect(model="gpt-realtime") as conn:
        rt = ValidatingRealtimeClient(conn)
        await rt.until("session.created")
        await conn.input_audio_buffer.clear()
        await rt.until("input_audio_buffer.cleared")
        with pytest.raises(websockets.ConnectionClosedError) as info:
            await rt.next_event()
        assert info.value.rcvd is not None and info.value.rcvd.code == 1011
    assert emulator.sessions[0].events_sent == 2


async def test_sdk_reconnects_after_a_drop(client: AsyncOpenAI, emulator: OpenAIEmulator) -> None:
    emulator.faults.realtime.drop_after_events = 1
    reconnects: list[object] = []

    def on_reconnecting(event: object) -> None:
        reconnects.append(event)

    async with client.realtime.connect(
        model="gpt-realtime", on_reconnecting=on_reconnecting, initial_delay=0.01, max_delay=0.05
    ) as conn:
        created = []
        async with asyncio.timeout(5):
            async for event in conn:  # the SDK reconnects only while iterating
                if event.type == "session.created":
                    created.append(event.session.id)
                if len(created) == 2:
                    break
        assert created[0] != created[1]
    assert len(reconnects) == 1
    assert [s.close_reason for s in emulator.sessions] == ["dropped", "client"]


async def test_event_latency_delays_every_event(client: AsyncOpenAI, emulator: OpenAIEmulator) -> None:
    emulator.faults.realtime.event_latency_seconds = 4.0  # 0.2 s wall at speed 20
    async with client.realtime.connect(model="gpt-realtime") as conn:
        rt = ValidatingRealtimeClient(conn)
        await rt.until("session.created")
        started = time.monotonic()
        await conn.input_audio_buffer.clear()
        await rt.until("input_audio_buffer.cleared")
        assert time.monotonic() - started >= 0.19


async def test_refused_connections_and_bad_key(client: AsyncOpenAI, emulator: OpenAIEmulator) -> None:
    emulator.faults.realtime.refuse_connections = True
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with client.realtime.connect(model="gpt-realtime"):
            pass
    assert refused.value.response.status_code == 503
    emulator.faults.realtime.refuse_connections = False
    bad = AsyncOpenAI(base_url=emulator.base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(websockets.InvalidStatus) as denied:
        async with bad.realtime.connect(model="gpt-realtime"):
            pass
    assert denied.value.response.status_code == 401
    await bad.close()
    assert emulator.sessions == []


async def test_session_time_limit() -> None:
    options = OpenAIEmulatorOptions(speed=100, max_session_seconds=3.0, validate_events=True)
    async with OpenAIEmulator(options) as emulator:
        client = AsyncOpenAI(base_url=emulator.base_url, api_key=emulator.api_key, max_retries=0)
        async with client.realtime.connect(model="gpt-realtime") as conn:
            rt = ValidatingRealtimeClient(conn)
            await rt.until("session.created")
            error = (await rt.until("error"))[-1]
            assert error.error.code == "session_expired"
            with pytest.raises(websockets.ConnectionClosedOK):
                await rt.next_event()
        await client.close()
        assert emulator.sessions[0].close_reason == "expired"
        assert emulator.sessions[0].invalid_events == []


async def test_stop_closes_open_sessions_and_leaks_no_tasks() -> None:
    baseline = asyncio.all_tasks()
    emulator = OpenAIEmulator(OpenAIEmulatorOptions(speed=100))
    await emulator.start()
    client = AsyncOpenAI(base_url=emulator.base_url, api_key=emulator.api_key, max_retries=0)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        rt = ValidatingRealtimeClient(conn)
        await rt.until("session.created")
        await conn.response.create()
        await rt.until("response.output_audio.delta")
        await emulator.stop()
        with pytest.raises(websockets.ConnectionClosed):
            await rt.until("never.sent")
    await client.close()
    assert emulator.sessions[0].closed.is_set()
    leftover = {t for t in asyncio.all_tasks() - baseline if not t.done() and t is not asyncio.current_task()}
    assert leftover == set()


async def test_session_logs_are_bounded_and_waitable() -> None:
    async with OpenAIEmulator(OpenAIEmulatorOptions(speed=100, max_session_logs=1)) as emulator:
        client = AsyncOpenAI(base_url=emulator.base_url, api_key=emulator.api_key, max_retries=0)
        for _ in range(2):
            async with client.realtime.connect(model="gpt-realtime") as conn:
                async with asyncio.timeout(5):
                    await emulator.wait_for_sessions(1)
                await ValidatingRealtimeClient(conn).until("session.created")
            async with asyncio.timeout(5):
                await emulator.sessions[-1].closed.wait()
        await client.close()
        assert emulator.connections == 2
        assert [log.connection_number for log in emulator.sessions] == [2]
