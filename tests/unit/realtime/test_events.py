"""Realtime event codec: msgspec structs against what the SDK's models accept."""

from __future__ import annotations

import json

import pytest
from openai.types.realtime import RealtimeClientEvent
from pydantic import TypeAdapter

from engine.config import OpenAISettings
from engine.emulators.openai.protocol import parse_client_event
from engine.realtime import events as ev
from engine.realtime.connection import realtime_url
from engine.session.tools import tool_definitions

CLIENT = TypeAdapter(RealtimeClientEvent)


def test_decodes_server_events() -> None:
    d = ev.decode(
        json.dumps(
            {
                "type": "response.output_audio.delta",
                "event_id": "e1",
                "response_id": "r1",
                "item_id": "i1",
                "output_index": 0,
                "content_index": 0,
                "delta": "//8=",
            }
        )
    )
    assert isinstance(d, ev.AudioDelta) and d.delta == "//8=" and d.item_id == "i1"
    t = ev.decode(
        json.dumps(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "event_id": "e",
                "item_id": "u1",
                "content_index": 0,
                "transcript": "Hej",
                "usage": {"type": "duration", "seconds": 1.0},
                "languages": [{"code": "sv"}],
                "logprobs": [{"token": "Hej", "bytes": [72], "logprob": -0.1}],
            }
        )
    )
    assert isinstance(t, ev.TranscriptionCompleted)
    assert t.language == "sv" and t.confidence == 0.9
    assert isinstance(ev.decode('{"type":"rate_limits.updated","event_id":"x","rate_limits":[]}'), ev.Other)
    assert ev.decode('{"type":"brand.new"}') == ev.Other(type="brand.new")
    with pytest.raises(ev.RealtimeDecodeError):
        ev.decode("{oops")
    with pytest.raises(ev.RealtimeDecodeError):
        ev.decode('{"no_type": 1}')


@pytest.mark.parametrize(
    "raw",
    [
        ev.append_audio("//8="),
        ev.session_update(instructions="Hej", voice="alloy"),
        ev.session_update(
            instructions="Hej",
            voice="alloy",
            tools=tool_definitions(),
            transcription=ev.transcription_config("gpt-transcribe", ["sv", "en"], ["Matboden", "kaffe"]),
        ),
        ev.response_create(),
        ev.response_create("MÅL: påminnelse. Fråga om kunden är kvar."),
        ev.function_output("call_1", '{"ok":true}'),
        ev.response_cancel(),
        ev.truncate("item1", 1234),
        ev.text_item("user", "hej"),
        ev.text_item("assistant", "hej"),
    ],
)
def test_client_events_validate_against_sdk_models(raw: str | bytes) -> None:
    CLIENT.validate_python(json.loads(raw))
    # Strict too: no key the SDK's models do not know (the real API refuses unknown parameters).
    parse_client_event(raw)


def test_session_update_is_pcmu_with_tools_transcription_hints_and_logprobs() -> None:
    s = json.loads(
        ev.session_update(
            instructions="x",
            voice="alloy",
            tools=tool_definitions(),
            transcription=ev.transcription_config("gpt-transcribe", ["sv", "en"], ["Matboden"]),
        )
    )["session"]
    assert s["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert s["audio"]["output"]["format"] == {"type": "audio/pcmu"}
    assert s["audio"]["input"]["transcription"] == {
        "model": "gpt-transcribe",
        "languages": ["sv", "en"],
        "keywords": ["Matboden"],
    }
    assert s["include"] == ["item.input_audio_transcription.logprobs"]
    assert s["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert [t["name"] for t in s["tools"]] == ["record_consent", "question_answered", "end_call"]
    assert s["tool_choice"] == "auto"


def test_decodes_tool_call_events() -> None:
    done = ev.decode(
        json.dumps(
            {
                "type": "response.function_call_arguments.done",
                "event_id": "e",
                "response_id": "r1",
                "item_id": "fc1",
                "output_index": 1,
                "call_id": "call_1",
                "name": "end_call",
                "arguments": '{"reason":"completed"}',
            }
        )
    )
    assert isinstance(done, ev.FunctionCallArgumentsDone)
    assert (done.call_id, done.name, done.arguments, done.response_id) == (
        "call_1",
        "end_call",
        '{"reason":"completed"}',
        "r1",
    )
    item = ev.decode(
        json.dumps(
            {
                "type": "response.output_item.done",
                "event_id": "e",
                "response_id": "r1",
                "output_index": 1,
                "item": {
                    "id": "fc1",
                    "type": "function_call",
                    "status": "completed",
                    "name": "end_call",
                    "call_id": "call_1",
                    "arguments": "{}",
                },
            }
        )
    )
    assert isinstance(item, ev.OutputItemDone) and item.item.call_id == "call_1"


def test_url_like_the_sdk() -> None:
    assert realtime_url(OpenAISettings(base_url="http://127.0.0.1:9/v1", realtime_model="m")) == (
        "ws://127.0.0.1:9/v1/realtime?model=m"
    )
    assert realtime_url(OpenAISettings(realtime_model="m")).startswith("wss://")
    # A European data-residency project: the documented regional base URL carries the voice too.
    assert realtime_url(OpenAISettings(base_url="https://eu.api.openai.com/v1", realtime_model="m")) == (
        "wss://eu.api.openai.com/v1/realtime?model=m"
    )
