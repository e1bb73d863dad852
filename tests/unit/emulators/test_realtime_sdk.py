"""The openai SDK against the Realtime emulator: connect, configure, full audio turns, errors.

Every server event is validated with the SDK's own models (ValidatingRealtimeClient).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai import AsyncOpenAI

from engine.emulators.openai import OpenAIEmulator, OpenAIEmulatorOptions
from engine.emulators.openai.testing import ValidatingRealtimeClient, audio_of, silence_frames
from engine.emulators.speech import decode_speech, encode_speech

pytestmark = pytest.mark.timeout(20)

SCRIPT = """Du ringer för butikens räkning. Var vänlig och kort.
### SAMTALSMANUS
HÄLSNING: Hej! Jag ringer från Ica Kvantum Solna om ditt köp i dag.
SAMTYCKE: Är det okej att jag ställer några korta frågor?
FRÅGA 1: Hur upplevde du frukt- och gröntavdelningen?
FRÅGA 2: Vad tyckte du om kassan?
PÅMINNELSE: Är du kvar?
AVSLUTNING: Tack för dina svar! Hej då!
### SLUT
"""
GREETING = "Hej! Jag ringer från Ica Kvantum Solna om ditt köp i dag. Är det okej att jag ställer några korta frågor?"
Q1 = "Hur upplevde du frukt- och gröntavdelningen?"
Q2 = "Vad tyckte du om kassan?"
CLOSING = "Tack för dina svar! Hej då!"


def session_config(**input_overrides: Any) -> dict[str, Any]:
    audio_input: dict[str, Any] = {
        "format": {"type": "audio/pcmu"},
        "transcription": {"model": "whisper-1", "language": "sv"},
        "turn_detection": {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 500,
        },
    }
    audio_input.update(input_overrides)
    return {
        "type": "realtime",
        "instructions": SCRIPT,
        "audio": {"input": audio_input, "output": {"format": {"type": "audio/pcmu"}, "voice": "alloy"}},
    }


@pytest.fixture
async def emulator() -> AsyncIterator[OpenAIEmulator]:
    async with OpenAIEmulator(OpenAIEmulatorOptions(speed=50, validate_events=True)) as emu:
        yield emu
    for log in emu.sessions:
        assert log.invalid_events == []


@pytest.fixture
async def rt(emulator: OpenAIEmulator) -> AsyncIterator[ValidatingRealtimeClient]:
    client = AsyncOpenAI(base_url=emulator.base_url, api_key=emulator.api_key, max_retries=0)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        probe = ValidatingRealtimeClient(conn)
        created = await probe.next_event()
        assert created.type == "session.created"
        yield probe
        assert probe.problems == []
    await client.close()


async def configure(rt: ValidatingRealtimeClient, **input_overrides: Any) -> Any:
    await rt.connection.session.update(session=session_config(**input_overrides))  # type: ignore[arg-type]
    (updated,) = await rt.until("session.updated")
    return updated


async def say(rt: ValidatingRealtimeClient, text: str) -> list[Any]:
    """The customer speaks ``text``; returns events up to the response that follows."""
    await rt.send_audio(silence_frames(200) + encode_speech(text) + silence_frames(700))
    return await rt.until("response.done")


async def test_connect_and_session_update(rt: ValidatingRealtimeClient, emulator: OpenAIEmulator) -> None:
    updated = await configure(rt)
    session = updated.session
    assert session.audio.input.format.type == "audio/pcmu"
    assert session.audio.output.format.type == "audio/pcmu"
    assert session.audio.input.transcription.language == "sv"
    assert session.audio.input.turn_detection.silence_duration_ms == 500
    assert session.audio.input.turn_detection.create_response is True
    assert session.instructions == SCRIPT
    log = emulator.sessions[0]
    assert log.model == "gpt-realtime"
    assert log.session_updates[0]["instructions"] == SCRIPT


async def test_full_audio_turn(rt: ValidatingRealtimeClient, emulator: OpenAIEmulator) -> None:
    await configure(rt)
    await rt.connection.response.create()
    greeting = await rt.until("response.done")
    assert decode_speech(audio_of(greeting)) == [GREETING]
    assert greeting[-1].response.status == "completed"
    assert (await rt.next_event()).type == "rate_limits.updated"

    events = await say(rt, "Det var bra")
    types = [e.type for e in events]
    assert types[:5] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    completed = next(e for e in events if e.type == "conversation.item.input_audio_transcription.completed")
    assert completed.transcript == "Det var bra"
    started, stopped = events[0], events[1]
    assert started.item_id == stopped.item_id == completed.item_id
    assert started.audio_start_ms == 0  # 200 ms of silence, 300 ms prefix padding
    assert stopped.audio_end_ms > started.audio_start_ms + 500
    assert decode_speech(audio_of(events)) == [Q1]
    transcript = next(e for e in events if e.type == "response.output_audio_transcript.done")
    assert transcript.transcript == Q1
    deltas = "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta")
    assert deltas == Q1
    done = events[-1]
    assert done.response.usage.total_tokens > 0
    assert done.response.output[0].content[0].transcript == Q1
    assert emulator.sessions[0].transcripts == ["Det var bra"]


async def test_script_in_order_then_closing(rt: ValidatingRealtimeClient, emulator: OpenAIEmulator) -> None:
    await configure(rt)
    await rt.connection.response.create()
    await rt.until("response.done")
    spoken = []
    for answer in ("Ja", "Frukten var fräsch", "Kassan gick snabbt"):
        events = await say(rt, answer)
        spoken.extend(decode_speech(audio_of(events)))
    assert spoken == [Q1, Q2, CLOSING]
    assert [r.keys for r in emulator.sessions[0].responses] == [
        ("HÄLSNING", "SAMTYCKE"),
        ("FRÅGA 1",),
        ("FRÅGA 2",),
        ("AVSLUTNING",),
    ]


@pytest.mark.parametrize("phrase", ["Nej tack, hej då", "Ring inte igen!"])
async def test_goodbye_or_opt_out_closes(rt: ValidatingRealtimeClient, phrase: str) -> None:
    await configure(rt)
    await rt.connection.response.create()
    await rt.until("response.done")
    events = await say(rt, phrase)
    assert decode_speech(audio_of(events)) == [CLOSING]


async def test_say_instruction_is_spoken_verbatim(rt: ValidatingRealtimeClient) -> None:
    await configure(rt)
    await rt.connection.response.create(response={"instructions": "SÄG: Är du kvar?"})
    events = await rt.until("response.done")
    assert decode_speech(audio_of(events)) == ["Är du kvar?"]
    # The reminder does not count as the greeting: the script still starts from the top.
    await rt.until("rate_limits.updated")
    await rt.connection.response.create()
    assert decode_speech(audio_of(await rt.until("response.done"))) == [GREETING]


async def test_replayed_items_continue_the_script(rt: ValidatingRealtimeClient) -> None:
    """After a reconnect the session replays the conversation as text; the interviewer picks up from it."""
    await configure(rt)
    replay = [
        ("assistant", "output_text", GREETING),
        ("user", "input_text", "Ja"),
        ("assistant", "output_text", Q1),
        ("user", "input_text", "Bra"),
    ]
    for role, part, text in replay:
        await rt.connection.conversation.item.create(
            item={"type": "message", "role": role, "content": [{"type": part, "text": text}]}  # type: ignore[misc,list-item]
        )
        added = await rt.until("conversation.item.added")
        await rt.until("conversation.item.done")
        assert added[-1].item.role == role
    await rt.connection.response.create()
    assert decode_speech(audio_of(await rt.until("response.done"))) == [Q2]


async def test_manual_commit_and_empty_commit_error(
    rt: ValidatingRealtimeClient, emulator: OpenAIEmulator
) -> None:
    await configure(rt, turn_detection=None)
    await rt.connection.input_audio_buffer.commit(event_id="evt_commit_1")
    error = (await rt.until("error"))[-1]
    assert error.error.code == "input_audio_buffer_commit_empty"
    assert error.error.event_id == "evt_commit_1"
    await rt.send_audio(encode_speech("Hallå där") + silence_frames(100))
    await rt.connection.input_audio_buffer.commit()
    events = await rt.until("conversation.item.input_audio_transcription.completed")
    assert events[0].type == "input_audio_buffer.committed"
    assert events[-1].transcript == "Hallå där"
    assert emulator.sessions[0].responses == []  # manual mode: no automatic response


async def test_unintelligible_turn_fails_transcription_and_repeats(rt: ValidatingRealtimeClient) -> None:
    await configure(rt)
    await rt.connection.response.create()
    await rt.until("response.done")
    await say(rt, "Ja")  # → FRÅGA 1
    speech = bytearray(encode_speech("Det här ska inte gå fram"))
    del speech[1600:1760]  # a lost frame breaks the CRC
    await rt.send_audio(silence_frames(200) + bytes(speech) + silence_frames(700))
    events = await rt.until("response.done")
    failed = [e for e in events if e.type == "conversation.item.input_audio_transcription.failed"]
    assert len(failed) == 1 and failed[0].error.code == "audio_unintelligible"
    assert decode_speech(audio_of(events)) == [Q1]


async def test_text_mode_response(rt: ValidatingRealtimeClient) -> None:
    await configure(rt)
    await rt.connection.response.create(response={"output_modalities": ["text"]})
    events = await rt.until("response.done")
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == GREETING
    assert audio_of(events) == b""


async def test_transcription_logprobs_and_language_when_asked(rt: ValidatingRealtimeClient) -> None:
    session = session_config(transcription={"model": "gpt-4o-transcribe", "language": "sv"})
    session["include"] = ["item.input_audio_transcription.logprobs"]
    await rt.connection.session.update(session=session)  # type: ignore[arg-type]
    await rt.until("session.updated")
    await rt.send_audio(silence_frames(200) + encode_speech("Helt okej") + silence_frames(700))
    completed = (await rt.until("conversation.item.input_audio_transcription.completed"))[-1]
    assert completed.transcript == "Helt okej"
    assert [p.token for p in completed.logprobs] == ["Helt ", "okej"]
    assert completed.languages[0].code == "sv"


async def test_response_that_cannot_be_voiced_fails_and_the_session_goes_on(
    rt: ValidatingRealtimeClient,
) -> None:
    await configure(rt)
    await rt.connection.response.create(response={"instructions": "SÄG: " + "å" * 3000})  # > 4 KiB of UTF-8
    done = (await rt.until("response.done"))[-1]
    assert done.response.status == "failed"
    assert done.response.status_details.error.code == "emulator_error"
    await rt.until("rate_limits.updated")
    await rt.connection.response.create()
    assert decode_speech(audio_of(await rt.until("response.done"))) == [GREETING]
