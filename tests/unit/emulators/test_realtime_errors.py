"""Bad client events get ``error`` events the way the real API sends them; the session stays open."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai import AsyncOpenAI

from engine.emulators.openai import OpenAIEmulator, OpenAIEmulatorOptions
from engine.emulators.openai.testing import ValidatingRealtimeClient

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
async def rt() -> AsyncIterator[tuple[ValidatingRealtimeClient, OpenAIEmulator]]:
    async with OpenAIEmulator(OpenAIEmulatorOptions(speed=100, validate_events=True)) as emu:
        client = AsyncOpenAI(base_url=emu.base_url, api_key=emu.api_key, max_retries=0)
        async with client.realtime.connect(model="gpt-realtime") as conn:
            probe = ValidatingRealtimeClient(conn)
            await probe.until("session.created")
            yield probe, emu
            assert probe.problems == []
        await client.close()
    assert emu.sessions[0].invalid_events == []


BAD_EVENTS: list[tuple[str | dict[str, Any], str, str | None]] = [
    ("{not json", "invalid_json", None),
    ("[1, 2]", "invalid_type", None),
    ({"event_id": "evt_1"}, "missing_required_parameter", "type"),
    ({"type": "session.explode", "event_id": "evt_1"}, "invalid_value", "type"),
    ({"type": "input_audio_buffer.append", "event_id": "evt_1"}, "missing_required_parameter", "audio"),
    ({"type": "input_audio_buffer.append", "event_id": "evt_1", "audio": 12}, "invalid_type", "audio"),
    ({"type": "input_audio_buffer.append", "event_id": "evt_1", "audio": "***"}, "invalid_value", "audio"),
    (
        {"type": "conversation.item.truncate", "event_id": "evt_1", "item_id": "x", "content_index": 0},
        "missing_required_parameter",
        "audio_end_ms",
    ),
    (
        {
            "type": "conversation.item.create",
            "event_id": "evt_1",
            "item": {"type": "message", "role": "user"},
        },
        "missing_required_parameter",
        "item.content",
    ),
    (
        {
            "type": "session.update",
            "event_id": "evt_1",
            "session": {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": "high"}}},
            },
        },
        "invalid_type",
        "session.audio.input.turn_detection.threshold",
    ),
    (
        {
            "type": "session.update",
            "event_id": "evt_1",
            "session": {
                "type": "realtime",
                "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000}}},
            },
        },
        "invalid_value",
        "session.audio.input.format.type",
    ),
    ({"type": "response.cancel", "event_id": "evt_1"}, "response_cancel_not_active", None),
    (
        {"type": "session.update", "event_id": "evt_1", "session": {"type": "realtime", "instructionz": "x"}},
        "unknown_parameter",
        "session.instructionz",
    ),
    (
        {
            "type": "response.create",
            "event_id": "evt_1",
            "response": {"output_modalities": ["audio"], "voice": "x"},
        },
        "unknown_parameter",
        "response.voice",
    ),
    (
        {"type": "conversation.item.delete", "event_id": "evt_1", "item_id": "item_missing"},
        "invalid_value",
        "item_id",
    ),
    ({"type": "output_audio_buffer.clear", "event_id": "evt_1"}, "invalid_value", "type"),
]


@pytest.mark.parametrize(("event", "code", "param"), BAD_EVENTS)
async def test_bad_event_gets_error_and_session_survives(
    rt: tuple[ValidatingRealtimeClient, OpenAIEmulator],
    event: str | dict[str, Any],
    code: str,
    param: str | None,
) -> None:
    probe, emu = rt
    raw = event if isinstance(event, str) else json.dumps(event)
    await probe.connection.send_raw(raw)
    error = (await probe.until("error"))[-1]
    assert error.error.type == "invalid_request_error"
    assert error.error.code == code
    assert error.error.param == param
    if isinstance(event, dict) and "event_id" in event:
        assert error.error.event_id == "evt_1"
    # Still alive and serving.
    await probe.connection.input_audio_buffer.clear()
    assert (await probe.until(("input_audio_buffer.cleared", "error")))[
        -1
    ].type == "input_audio_buffer.cleared"
    assert emu.sessions[0].errors[0].code == code
