"""Barge-in, truncation and cancellation through the openai SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai import AsyncOpenAI

from engine.emulators.openai import ModelBehaviour, OpenAIEmulator, OpenAIEmulatorOptions
from engine.emulators.openai.testing import ValidatingRealtimeClient, audio_of, silence_frames
from engine.emulators.speech import decode_speech, encode_speech
from tests.unit.emulators.realtime_fixtures import GREETING, Q1, session_config

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
async def emulator() -> AsyncIterator[OpenAIEmulator]:
    # Slow enough that a response is still streaming when the customer starts talking.
    async with OpenAIEmulator(
        OpenAIEmulatorOptions(speed=10, validate_events=True, behaviour=ModelBehaviour(style="verbatim"))
    ) as emu:
        yield emu
    for log in emu.sessions:
        assert log.invalid_events == []


@pytest.fixture
async def client(emulator: OpenAIEmulator) -> AsyncIterator[AsyncOpenAI]:
    client = AsyncOpenAI(base_url=emulator.base_url, api_key=emulator.api_key, max_retries=0)
    yield client
    await client.close()


async def start_greeting(conn: Any, **detection: Any) -> ValidatingRealtimeClient:
    rt = ValidatingRealtimeClient(conn)
    await rt.until("session.created")
    turn_detection = {"type": "server_vad", "silence_duration_ms": 300, **detection}
    await conn.session.update(session=session_config(turn_detection=turn_detection))
    await rt.until("session.updated")
    await conn.response.create()
    await rt.until("response.output_audio.delta")
    return rt


async def test_barge_in_cancels_and_truncate_trims(client: AsyncOpenAI, emulator: OpenAIEmulator) -> None:
    async with client.realtime.connect(model="gpt-realtime") as conn:
        rt = await start_greeting(conn)
        await rt.send_audio(encode_speech("Vänta lite"))  # the turn ends only when silence follows
        before = await rt.until("input_audio_buffer.speech_started")
        played_ms = len(audio_of(rt.events)) // 8
        item_id = next(e.item_id for e in rt.events if e.type == "response.output_audio.delta")
        done = (await rt.until("response.done"))[-1]
        assert done.response.status == "cancelled"
        assert done.response.status_details.reason == "turn_detected"
        assert [e.type for e in before][-1] == "input_audio_buffer.speech_started"

        await conn.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=played_ms)
        truncated = (await rt.until("conversation.item.truncated"))[-1]
        assert (truncated.item_id, truncated.audio_end_ms) == (item_id, played_ms)
        await conn.response.cancel()
        error = (await rt.until("error"))[-1]
        assert error.error.code == "response_cancel_not_active"

        # The customer's turn ends; the interrupted greeting is not repeated.
        await rt.send_audio(silence_frames(400))
        following = await rt.until("response.done")
        assert decode_speech(audio_of(following)) == [Q1]
        assert rt.problems == []
    log = emulator.sessions[0]
    assert log.cancels[0][1] == "turn_detected"
    assert log.truncations[0].audio_end_ms == played_ms
    assert GREETING.startswith(log.truncations[0].text_kept)
    assert len(log.truncations[0].text_kept) < len(GREETING)


async def test_without_interrupt_response_the_client_cancels(
    client: AsyncOpenAI, emulator: OpenAIEmulator
) -> None:
    async with client.realtime.connect(model="gpt-realtime") as conn:
        rt = await start_greeting(conn, interrupt_response=False, create_response=False)
        await rt.send_audio(encode_speech("Hallå") + silence_frames(60))
        await rt.until("input_audio_buffer.speech_started")
        await conn.response.cancel()
        done = (await rt.until("response.done"))[-1]
        assert done.response.status == "cancelled"
        assert done.response.status_details.reason == "client_cancelled"
        assert done.response.output[0].status == "incomplete"
        assert rt.problems == []
    assert emulator.sessions[0].cancels[0][1] == "client_cancelled"


async def test_truncate_errors(client: AsyncOpenAI, emulator: OpenAIEmulator) -> None:
    async with client.realtime.connect(model="gpt-realtime") as conn:
        rt = await start_greeting(conn)
        item_id = next(e.item_id for e in rt.events if e.type == "response.output_audio.delta")
        await rt.until("response.done", within=10)
        total_ms = len(audio_of(rt.events)) // 8

        await conn.conversation.item.truncate(item_id="item_nope", content_index=0, audio_end_ms=10)
        unknown = (await rt.until("error"))[-1]
        assert (unknown.error.code, unknown.error.param) == ("item_truncate_invalid_item_id", "item_id")

        await conn.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=total_ms + 500)
        beyond = (await rt.until("error"))[-1]
        assert beyond.error.param == "audio_end_ms"
        assert (
            beyond.error.message
            == f"Audio content of {total_ms}ms is already shorter than {total_ms + 500}ms"
        )

        await conn.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=total_ms // 2)
        ok = (await rt.until(("conversation.item.truncated", "error")))[-1]
        assert ok.type == "conversation.item.truncated"
        assert rt.problems == []


async def test_second_response_while_active_is_an_error(client: AsyncOpenAI) -> None:
    async with client.realtime.connect(model="gpt-realtime") as conn:
        rt = await start_greeting(conn)
        await conn.response.create(event_id="evt_second")
        error = (await rt.until("error"))[-1]
        assert error.error.code == "conversation_already_has_active_response"
        assert error.error.event_id == "evt_second"
        await conn.response.cancel()
        assert (await rt.until("response.done"))[-1].response.status == "cancelled"
