"""Whole interviews against the Realtime emulator through the openai SDK, audio paced like a phone line:
many at once, and one whose socket drops mid-call and is restored by replaying the conversation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets
from openai import AsyncOpenAI

from engine.emulators.openai import ModelBehaviour, OpenAIEmulator, OpenAIEmulatorOptions
from engine.emulators.openai.testing import ValidatingRealtimeClient, audio_of, silence_frames
from engine.emulators.speech import decode_speech, encode_speech
from tests.unit.emulators.realtime_fixtures import CLOSING, GREETING, Q1, Q2, session_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

SPEED = 4.0
ANSWERS = ("Ja, det går bra", "Frukten var fräsch", "Kassan gick snabbt")


async def paced(rt: ValidatingRealtimeClient, audio: bytes) -> None:
    """Send audio frame by frame at the line's pace (20 ms per frame / SPEED)."""
    await rt.send_audio(audio, frame_pause=0.02 / SPEED)


async def interview(emulator: OpenAIEmulator) -> tuple[list[str], list[str]]:
    client = AsyncOpenAI(base_url=emulator.base_url, api_key=emulator.api_key, max_retries=0)
    heard: list[str] = []
    try:
        async with client.realtime.connect(model="gpt-realtime") as conn:
            rt = ValidatingRealtimeClient(conn)
            await rt.until("session.created")
            await conn.session.update(session=session_config())  # type: ignore[arg-type]
            await rt.until("session.updated")
            await conn.response.create()
            heard.extend(decode_speech(audio_of(await rt.until("response.done", within=30))))
            for answer in ANSWERS:
                await paced(rt, silence_frames(300) + encode_speech(answer) + silence_frames(800))
                heard.extend(decode_speech(audio_of(await rt.until("response.done", within=30))))
            return heard, rt.problems
    finally:
        await client.close()


async def test_concurrent_interviews_hear_and_are_heard() -> None:
    options = OpenAIEmulatorOptions(
        speed=SPEED, validate_events=True, behaviour=ModelBehaviour(style="verbatim")
    )
    async with OpenAIEmulator(options) as emulator:
        results = await asyncio.gather(*(interview(emulator) for _ in range(8)))
        for heard, problems in results:
            assert heard == [GREETING, Q1, Q2, CLOSING]
            assert problems == []
        for log in emulator.sessions:
            assert log.transcripts == list(ANSWERS)
            assert log.invalid_events == []
            # Output pacing held on this shared machine: no delta left more than a second late.
            assert log.pacing.max_ms < 1000


async def test_dropped_socket_restored_by_replay_continues_the_script() -> None:
    async with OpenAIEmulator(
        OpenAIEmulatorOptions(speed=10, validate_events=True, behaviour=ModelBehaviour(style="verbatim"))
    ) as emulator:
        client = AsyncOpenAI(base_url=emulator.base_url, api_key=emulator.api_key, max_retries=0)
        lines: list[tuple[str, str]] = []
        async with client.realtime.connect(model="gpt-realtime") as conn:
            rt = ValidatingRealtimeClient(conn)
            await rt.until("session.created")
            await conn.session.update(session=session_config())  # type: ignore[arg-type]
            await rt.until("session.updated")
            await conn.response.create()
            await rt.until("response.done")
            lines.append(("assistant", GREETING))
            await rt.send_audio(silence_frames(200) + encode_speech("Ja") + silence_frames(700))
            events = await rt.until("response.output_audio.delta")
            lines.append(
                ("user", next(e.transcript for e in events if e.type.endswith("transcription.completed")))
            )
            await emulator.drop()  # mid-FRÅGA 1
            with pytest.raises(websockets.ConnectionClosedError):
                await rt.until("never.sent")
        assert emulator.sessions[0].close_reason == "dropped"

        async with client.realtime.connect(model="gpt-realtime") as conn:
            rt = ValidatingRealtimeClient(conn)
            await rt.until("session.created")
            await conn.session.update(session=session_config())  # type: ignore[arg-type]
            await rt.until("session.updated")
            for role, text in lines:
                part: dict[str, Any] = {
                    "type": "output_text" if role == "assistant" else "input_text",
                    "text": text,
                }
                await conn.conversation.item.create(item={"type": "message", "role": role, "content": [part]})  # type: ignore[misc,list-item]
                await rt.until("conversation.item.done")
            # The cut question was not replayed, so it is asked again.
            await conn.response.create()
            assert decode_speech(audio_of(await rt.until("response.done"))) == [Q1]
            assert rt.problems == []
        await client.close()
    assert lines[1] == ("user", "Ja")
