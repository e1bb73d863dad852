"""The openai SDK against the Realtime emulator: connect, configure, full audio turns, errors.

Every server event is validated with the SDK's own models (ValidatingRealtimeClient).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai import AsyncOpenAI

from engine.emulators.openai import ModelBehaviour, OpenAIEmulator, OpenAIEmulatorOptions
from engine.emulators.openai.testing import ValidatingRealtimeClient, audio_of, silence_frames
from engine.emulators.speech import decode_speech, encode_speech
from tests.unit.emulators.realtime_fixtures import CLOSING, GREETING, INSTRUCTIONS, Q1, Q2, session_config

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
async def emulator() -> AsyncIterator[OpenAIEmulator]:
    options = OpenAIEmulatorOptions(
        speed=50, validate_events=True, behaviour=ModelBehaviour(style="verbatim")
    )
    async with OpenAIEmulator(options) as emu:
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


async def configure(rt: ValidatingRealtimeClient, tools: bool = False, **input_overrides: Any) -> Any:
    await rt.connection.session.update(session=session_config(tools=tools, **input_overrides))  # type: ignore[arg-type]
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
    assert session.instructions == INSTRUCTIONS
    log = emulator.sessions[0]
    assert log.model == "gpt-realtime"
    assert log.session_updates[0]["instructions"] == INSTRUCTIONS


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


async def test_questions_in_order_then_closing_without_tools(
    rt: ValidatingRealtimeClient, emulator: OpenAIEmulator
) -> None:
    await configure(rt)
    await rt.connection.response.create()
    await rt.until("response.done")
    spoken = []
    for answer in ("Ja", "Frukten var fräsch och god", "Kassan gick snabbt i dag"):
        events = await say(rt, answer)
        spoken.extend(decode_speech(audio_of(events)))
        assert not any(e.type.startswith("response.function_call") for e in events)  # no tools offered
    assert spoken == [Q1, Q2, CLOSING]
    assert [r.keys for r in emulator.sessions[0].responses] == [
        ("opening",),
        ("question:q1",),
        ("question:q2",),
        ("closing",),
    ]


@pytest.mark.parametrize("phrase", ["Nej tack, hej då", "Ring inte igen!"])
async def test_refusal_or_opt_out_gets_a_goodbye_and_no_question(
    rt: ValidatingRealtimeClient, phrase: str
) -> None:
    await configure(rt)
    await rt.connection.response.create()
    await rt.until("response.done")
    (line,) = decode_speech(audio_of(await say(rt, phrase)))
    assert "hej då" in line.lower() and "?" not in line


def _calls(events: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (e.name, json.loads(e.arguments)) for e in events if e.type == "response.function_call_arguments.done"
    ]


async def output(
    rt: ValidatingRealtimeClient, events: list[Any], body: dict[str, Any], *, respond: bool
) -> None:
    """Answer every call of ``events`` as the engine does (function_call_output, then maybe response.create)."""
    for e in events:
        if e.type == "response.function_call_arguments.done":
            await rt.connection.conversation.item.create(
                item={"type": "function_call_output", "call_id": e.call_id, "output": json.dumps(body)}
            )
            await rt.until("conversation.item.done")
    if respond:
        await rt.connection.response.create()


async def test_tool_calls_are_delivered_as_the_realtime_api_does_and_the_model_waits(
    rt: ValidatingRealtimeClient, emulator: OpenAIEmulator
) -> None:
    await configure(rt, tools=True)
    await rt.connection.response.create()
    assert decode_speech(audio_of(await rt.until("response.done"))) == [GREETING]
    events = await say(rt, "Ja, det går bra.")
    response = events[next(i for i, e in enumerate(events) if e.type == "response.created") :]
    assert [e.type for e in response] == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    assert _calls(events) == [("record_consent", {"consent": True})]
    done = response[-1].response
    assert [o.type for o in done.output] == ["function_call"] and audio_of(events) == b""
    assert response[1].item.call_id == response[5].call_id == done.output[0].call_id
    # Without the output it does not go on.
    await rt.connection.response.create()
    assert (await rt.until("response.done"))[-1].response.output == []
    await output(rt, events, {"ok": True}, respond=True)
    events = await rt.until("response.done")
    assert decode_speech(audio_of(events)) == [Q1] and _calls(events) == []
    # The answer is reported with the next question, in one response: speech then the call.
    events = await say(rt, "Frukten var fräsch och god.")
    assert decode_speech(audio_of(events)) == [Q2]
    assert _calls(events) == [("question_answered", {"question_id": "q1"})]
    assert [o.type for o in events[-1].response.output] == ["message", "function_call"]
    await output(rt, events, {"ok": True}, respond=False)
    events = await say(rt, "Kassan gick snabbt, två kassor var öppna.")
    assert decode_speech(audio_of(events)) == [CLOSING]
    assert _calls(events) == [
        ("question_answered", {"question_id": "q2"}),
        ("end_call", {"reason": "completed"}),
    ]
    assert [name for name, _ in emulator.sessions[0].tool_calls] == [
        "record_consent",
        "question_answered",
        "question_answered",
        "end_call",
    ]


async def test_a_refusal_is_recorded_and_ends_with_declined(rt: ValidatingRealtimeClient) -> None:
    await configure(rt, tools=True)
    await rt.connection.response.create()
    await rt.until("response.done")
    events = await say(rt, "Nej tack, jag har inte tid.")
    (line,) = decode_speech(audio_of(events))
    assert "hej då" in line.lower() and "?" not in line
    assert _calls(events) == [("record_consent", {"consent": False}), ("end_call", {"reason": "declined"})]


async def test_an_output_for_an_unknown_call_is_an_error(rt: ValidatingRealtimeClient) -> None:
    await configure(rt, tools=True)
    await rt.connection.conversation.item.create(
        item={"type": "function_call_output", "call_id": "call_nope", "output": "{}"}
    )
    error = (await rt.until("error"))[-1]
    assert error.error.code == "invalid_value" and error.error.param == "item.call_id"


async def test_replayed_items_continue_the_interview(rt: ValidatingRealtimeClient) -> None:
    """After a reconnect the session replays the conversation as text; the model picks up from it."""
    await configure(rt)
    await rt.connection.response.create()
    await rt.until("response.done")  # this process spoke the opening: it knows the line
    replay = [
        ("assistant", "output_text", GREETING),
        ("user", "input_text", "Ja"),
        ("assistant", "output_text", Q1),
        ("user", "input_text", "Frukten var riktigt bra"),
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
    await say(rt, "Ja")  # → question 1
    speech = bytearray(encode_speech("Det här ska inte gå fram"))
    del speech[1600:1760]  # a lost frame breaks the CRC
    await rt.send_audio(silence_frames(200) + bytes(speech) + silence_frames(700))
    events = await rt.until("response.done")
    failed = [e for e in events if e.type == "conversation.item.input_audio_transcription.failed"]
    assert len(failed) == 1 and failed[0].error.code == "audio_unintelligible"
    (again,) = decode_speech(audio_of(events))
    assert again.endswith(Q1) and again != Q1  # "I did not catch that" + the question again


async def test_text_mode_response(rt: ValidatingRealtimeClient) -> None:
    await configure(rt)
    await rt.connection.response.create(response={"output_modalities": ["text"]})
    events = await rt.until("response.done")
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == GREETING
    assert audio_of(events) == b""


async def test_transcription_logprobs_and_languages_from_gpt_transcribe(rt: ValidatingRealtimeClient) -> None:
    session = session_config(transcription={"model": "gpt-transcribe", "languages": ["sv", "en"]})
    session["include"] = ["item.input_audio_transcription.logprobs"]
    await rt.connection.session.update(session=session)  # type: ignore[arg-type]
    await rt.until("session.updated")
    for text, code in (("Helt okej", "sv"), ("Sorry, I only speak English", "en")):
        await rt.send_audio(silence_frames(200) + encode_speech(text) + silence_frames(700))
        completed = (await rt.until("conversation.item.input_audio_transcription.completed"))[-1]
        assert completed.transcript == text
        assert "".join(p.token for p in completed.logprobs) == text
        assert [lang.code for lang in completed.languages] == [code]


async def test_older_transcription_models_report_no_language(rt: ValidatingRealtimeClient) -> None:
    await configure(rt, transcription={"model": "gpt-4o-transcribe", "language": "sv"})
    await rt.send_audio(silence_frames(200) + encode_speech("Helt okej") + silence_frames(700))
    completed = (await rt.until("conversation.item.input_audio_transcription.completed"))[-1]
    assert completed.languages is None and completed.logprobs is None


async def test_reminder_goal_asks_whether_the_customer_is_there(rt: ValidatingRealtimeClient) -> None:
    await configure(rt)
    await rt.connection.response.create()
    await rt.until("response.done")
    await say(rt, "Ja")
    await rt.until("rate_limits.updated")
    await rt.connection.response.create(response={"instructions": "MÅL: påminnelse. Kunden är tyst."})
    (line,) = decode_speech(audio_of(await rt.until("response.done")))
    assert "kvar" in line and line.endswith(Q1)
