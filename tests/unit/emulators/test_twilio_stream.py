"""Media Streams as the emulator speaks them, checked field by field against Twilio's message shapes."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from websockets.asyncio.server import ServerConnection

from engine.emulators.scenarios import parse_scenarios
from engine.emulators.twilio import TwilioEmulator

from .twilio_helpers import CONNECT_TWIML, CallbackServer, StreamServer

SILENT_CALLER = "+46709999999"  # no scenario: a silent caller
SILENCE = b"\xff" * 160


@pytest.fixture
def emulator_speed() -> float:
    return 5.0  # 4 ms ticks: the test server keeps up, so frame counts below are meaningful


def _media(stream_sid: str, audio: bytes) -> str:
    return json.dumps(
        {"event": "media", "streamSid": stream_sid, "media": {"payload": base64.b64encode(audio).decode()}}
    )


def _mark(stream_sid: str, name: str) -> str:
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


async def test_stream_messages_match_protocol(twilio_emulator: TwilioEmulator, twilio_client: Client) -> None:
    seen: dict[str, Any] = {}

    async def engine(ws: ServerConnection, messages: list[dict[str, Any]]) -> None:
        connected = await server.recv(ws)
        start = await server.recv(ws)
        sid = start["streamSid"]
        first_media = [await server.recv_until(ws, "media") for _ in range(3)]
        # 5 frames of audio then a mark: echoed once they have played.
        await ws.send(_media(sid, SILENCE * 5))
        await ws.send(_mark(sid, "m1"))
        frames_before_echo = 0
        while (msg := await server.recv(ws))["event"] != "mark":
            frames_before_echo += 1
        seen["m1"] = (msg, frames_before_echo)
        # A mark with nothing queued is echoed right away.
        await ws.send(_mark(sid, "empty"))
        seen["empty"] = await server.recv_until(ws, "mark")
        # Clear drops queued audio and echoes pending marks at once.
        await ws.send(_media(sid, SILENCE * 100))
        await ws.send(_mark(sid, "m2"))
        await ws.send(json.dumps({"event": "clear", "streamSid": sid}))
        frames = 0
        while (msg := await server.recv(ws))["event"] != "mark":
            frames += 1
        seen["m2"] = (msg, frames)
        await ws.send("not json")
        await ws.send(json.dumps({"event": "media", "streamSid": "MZwrong", "media": {"payload": ""}}))
        await ws.send(json.dumps({"event": "media", "streamSid": sid, "media": {"payload": "***"}}))
        await server.recv_until(ws, "media")
        seen.update(connected=connected, start=start, media=first_media)
        await ws.close()  # the app ends the stream: <Connect> ends, no verb follows → completed

    async with StreamServer(engine) as server, CallbackServer() as callbacks:
        call = await asyncio.to_thread(
            twilio_client.calls.create,
            to=SILENT_CALLER,
            from_="+46850000000",
            twiml=CONNECT_TWIML.format(url=server.url),
            status_callback=callbacks.url(),
        )
        record = await twilio_emulator.call(call.sid).wait_ended(10)

    assert record.end_reason == "app-closed-stream" and record.status == "completed"
    assert server.path == "/media/s1"
    signature = server.headers["x-twilio-signature"]
    assert RequestValidator(twilio_emulator.auth_token).validate(server.url, {}, signature)

    assert seen["connected"] == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    start = seen["start"]
    assert set(start) == {"event", "sequenceNumber", "streamSid", "start"}
    assert (
        start["sequenceNumber"] == "1"
        and start["streamSid"].startswith("MZ")
        and len(start["streamSid"]) == 34
    )
    body = start["start"]
    assert body == {
        "accountSid": twilio_emulator.account_sid,
        "streamSid": start["streamSid"],
        "callSid": call.sid,
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": {"token": "t0k"},
    }
    for i, media in enumerate(seen["media"]):
        assert set(media) == {"event", "sequenceNumber", "streamSid", "media"}
        assert media["sequenceNumber"] == str(i + 2)
        assert set(media["media"]) == {"track", "chunk", "timestamp", "payload"}
        assert media["media"]["track"] == "inbound"
        assert media["media"]["chunk"] == str(i + 1)
        assert media["media"]["timestamp"] == str(i * 20)
        assert len(media["media"]["payload"]) == 216
        assert base64.b64decode(media["media"]["payload"]) == SILENCE
    mark, frames_before = seen["m1"]
    assert mark["mark"] == {"name": "m1"} and isinstance(mark["sequenceNumber"], str)
    assert frames_before >= 4  # echoed only once the 5 queued frames have played
    assert seen["empty"]["mark"]["name"] == "empty"
    _, frames_after_clear = seen["m2"]
    assert frames_after_clear < 50  # not after the 100 frames that were queued
    # sequenceNumber is one counter over every message after `connected`.
    numbers = [int(m["sequenceNumber"]) for m in server.messages[1:]]
    assert numbers == list(range(1, len(numbers) + 1))
    assert all(isinstance(m["sequenceNumber"], str) for m in server.messages[1:])
    assert record.marks_received == ["m1", "empty", "m2"] and record.marks_echoed == ["m1", "empty", "m2"]
    assert record.clears == 1 and record.invalid_messages == 3
    assert record.frames_received == 2 and record.bytes_received == 160 * 105
    assert callbacks.requests[-1][2]["CallStatus"] == "completed"


async def test_customer_hangup_sends_stop_and_closes(
    twilio_emulator_factory: Callable[..., Awaitable[TwilioEmulator]],
) -> None:
    scenarios = parse_scenarios({"unknown_number": {"ring_seconds": 0.2, "hangup_after_seconds": 1.0}})
    emulator = await twilio_emulator_factory(scenarios=scenarios)
    client = Client(emulator.account_sid, emulator.auth_token)
    client.api.base_url = emulator.base_url
    async with StreamServer() as server:
        call = await asyncio.to_thread(
            client.calls.create,
            to=SILENT_CALLER,
            from_="+46850000000",
            twiml=CONNECT_TWIML.format(url=server.url),
        )
        record = await emulator.call(call.sid).wait_ended(10)
        async with asyncio.timeout(5):
            await server.done.wait()
    assert record.end_reason == "customer-hangup" and record.status == "completed"
    events = [m["event"] for m in server.messages]
    assert events[:2] == ["connected", "start"] and events[-1] == "stop"
    assert set(events[2:-1]) == {"media"} and 45 <= len(events) - 3 <= 50
    stop = server.messages[-1]
    assert stop["stop"] == {"accountSid": emulator.account_sid, "callSid": call.sid}
    assert stop["sequenceNumber"] == str(len(events) - 1)
    assert record.frames_sent == len(events) - 3
    assert (
        record.duration_s is not None and 0.5 < record.duration_s < 15
    )  # virtual s; loose: a busy machine stalls


async def test_refused_stream_and_unreachable_url(
    twilio_emulator: TwilioEmulator, twilio_client: Client
) -> None:
    twiml = CONNECT_TWIML.format(url="ws://127.0.0.1:9/media/x")  # discard port: connection refused
    call = await asyncio.to_thread(
        twilio_client.calls.create, to=SILENT_CALLER, from_="+46850000000", twiml=twiml
    )
    record = await twilio_emulator.call(call.sid).wait_ended(10)
    assert record.end_reason == "stream-error" and record.status == "completed"
    twilio_emulator.faults.refuse_stream = True
    call = await asyncio.to_thread(
        twilio_client.calls.create, to=SILENT_CALLER, from_="+46850000000", twiml=twiml
    )
    record = await twilio_emulator.call(call.sid).wait_ended(10)
    assert record.end_reason == "stream-refused"
