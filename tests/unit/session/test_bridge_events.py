"""The bridge's frame/event handlers without sockets: bad input, pass-through, barge-in, opt-out."""

from __future__ import annotations

import json
from typing import Any

from engine.clock import VirtualClock
from engine.realtime import events as rt
from engine.session.bridge import Bridge
from engine.session.state import Event
from tests.unit.session.bridge_helpers import PAYLOAD, make_bridge


async def _bridge() -> tuple[Bridge, list[str]]:
    bridge, probe = await make_bridge()
    return bridge, probe.opted


def _media(chunk: int, ts: int | None = None, payload: str = PAYLOAD) -> str:
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(chunk + 1),
            "streamSid": "MZ1",
            "media": {
                "track": "inbound",
                "chunk": str(chunk),
                "timestamp": str(ts or chunk * 20),
                "payload": payload,
            },
        }
    )


async def test_media_passes_through_and_bad_frames_are_dropped_and_counted() -> None:
    b, _ = await _bridge()
    assert b.on_twilio_frame(_media(1))
    assert json.loads(b._inbound_audio) == {"type": "input_audio_buffer.append", "audio": PAYLOAD}
    assert not b.on_twilio_frame("{nope")
    assert not b.on_twilio_frame('{"event":"surprise"}')
    assert not b.on_twilio_frame(_media(1))  # duplicate
    assert b.on_twilio_frame(_media(3))
    assert not b.on_twilio_frame(_media(2))  # out of order
    assert not b.on_twilio_frame(_media(4, payload="A" * 20000))  # oversized
    assert not b.on_twilio_frame(json.dumps({"event": "media", "media": {"payload": "x", "chunk": "z"}}))
    counts = b.metrics.errors
    assert counts == {
        "twilio_malformed": 1,
        "twilio_unknown_event": 1,
        "twilio_oversized": 1,
        "twilio_invalid": 1,
    }
    assert b.metrics.frames_dropped == 2 and b.metrics.frames_lost == 1
    assert b.end_event is None


async def test_realtime_audio_goes_out_unchanged_with_marks_per_group() -> None:
    b, _ = await _bridge()

    def delta(n: int) -> str:
        return json.dumps(
            {"type": "response.output_audio.delta", "response_id": "r", "item_id": "i1", "delta": PAYLOAD}
        )

    first = b.on_realtime_event(delta(0))
    assert isinstance(first, tuple) and json.loads(first[0])["event"] == "mark"
    assert json.loads(first[1]) == {"event": "media", "streamSid": "MZ1", "media": {"payload": PAYLOAD}}
    outs = [b.on_realtime_event(delta(i)) for i in range(60)]
    marks = [o for o in outs if isinstance(o, tuple)]
    assert len(marks) == 60 * 160 // 8000  # one mark per second of audio, not per frame
    assert b.on_realtime_event("{broken") is None and b.metrics.errors == {"realtime_malformed": 1}
    assert b.on_realtime_event('{"type":"brand.new.event"}') is None


async def test_barge_in_clears_truncates_and_cancels() -> None:
    b, _ = await _bridge()
    b.on_twilio_frame(_media(1, ts=1000))
    b.on_realtime_event(json.dumps({"type": "response.created", "response": {"id": "r"}}))
    for _ in range(20):
        out = b.on_realtime_event(
            json.dumps(
                {"type": "response.output_audio.delta", "response_id": "r", "item_id": "i1", "delta": PAYLOAD}
            )
        )
        for frame in out if isinstance(out, tuple) else (out,):
            b.to_twilio.put_nowait(frame)  # type: ignore[arg-type]
    b.on_twilio_frame(_media(2, ts=1250))
    b.on_realtime_event(
        json.dumps({"type": "input_audio_buffer.speech_started", "item_id": "u1", "audio_start_ms": 5})
    )
    assert [json.loads(b.to_twilio.get_nowait())] == [{"event": "clear", "streamSid": "MZ1"}]
    sent = [json.loads(b.to_realtime.get_nowait()) for _ in range(b.to_realtime.qsize())]
    assert sent == [
        json.loads(rt.truncate("i1", 250)),
        {"type": "response.cancel"},
    ]
    # Late deltas of the cut item are dropped.
    late = json.dumps(
        {"type": "response.output_audio.delta", "response_id": "r", "item_id": "i1", "delta": PAYLOAD}
    )
    assert b.on_realtime_event(late) is None


async def test_dtmf_opt_out_ends_the_call() -> None:
    b, opted = await _bridge()
    b.on_twilio_frame(json.dumps({"event": "dtmf", "streamSid": "MZ1", "dtmf": {"digit": "9"}}))
    assert b.end_event is Event.OPTED_OUT
    await b.finish_side_tasks()
    assert opted == ["x"]


async def test_a_spoken_goodbye_is_no_control_and_the_language_is_kept() -> None:
    b, _ = await _bridge()
    b.on_realtime_event(
        json.dumps(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "u1",
                "content_index": 0,
                "transcript": "Bye bye!",
                "languages": [{"code": "en"}],
            }
        )
    )
    assert b.end_event is None and b.pending_end is None
    assert b.metrics.language_drift == 1


async def test_transcript_lines_are_flushed_within_a_second() -> None:
    import asyncio

    from engine.domain import MessageType, Speaker

    b, _ = await _bridge()
    flushed: list[tuple[float, list[str]]] = []

    async def flush(lines: Any) -> None:
        flushed.append((b.clock.monotonic(), [line.content for line in lines]))

    b._flush_cb = flush
    clock = b.clock
    assert isinstance(clock, VirtualClock)
    task = asyncio.create_task(b._flush_loop())
    await asyncio.sleep(0)
    b.transcript.fill(Speaker.AI, "a1", "Hej!", MessageType.SYSTEM, now=clock.monotonic(), timestamp_ms=0)
    await clock.advance(0.4)
    b.transcript.fill(
        Speaker.CUSTOMER, "u1", "Hej", MessageType.RESPONSE, now=clock.monotonic(), timestamp_ms=400
    )
    await clock.advance(0.7)
    assert flushed == [(101.0, ["Hej!", "Hej"])]  # both out by the first tick, ≤ 1 s after they were said
    b.transcript.fill(
        Speaker.AI, "a2", "Fråga?", MessageType.QUESTION, now=clock.monotonic(), timestamp_ms=1100
    )
    await clock.advance(1.0)
    assert flushed[-1] == (102.0, ["Fråga?"])
    task.cancel()


async def test_a_restored_socket_redoes_what_the_caller_did_not_hear() -> None:
    def ev(kind: str, rid: str, **fields: Any) -> str:
        return json.dumps({"type": kind, "response_id": rid, "item_id": f"i-{rid}", **fields})

    def ai_turn(rid: str) -> None:
        b.on_realtime_event(json.dumps({"type": "response.created", "response": {"id": rid}}))
        for _ in range(50):  # one second of audio
            b.on_realtime_event(ev("response.output_audio.delta", rid, delta=PAYLOAD))
        b.on_realtime_event(ev("response.output_audio.done", rid, output_index=0, content_index=0))
        b.on_realtime_event(ev("response.output_audio_transcript.done", rid, transcript="Hur var besöket?"))
        b.on_realtime_event(
            json.dumps({"type": "response.done", "response": {"id": rid, "status": "completed"}})
        )

    b, _ = await _bridge()
    b.on_twilio_frame(_media(1, ts=1000))
    ai_turn("r1")
    assert [line.speaker.value for line in b.transcript.conversation()] == ["ai"]
    # The model's turn is done, but its audio was still playing when the socket died.
    b.on_realtime_lost()
    assert b.needs_response_after_restore(), "the cut item must be said again on the new socket"
    # The new socket's response pays that debt; once heard in full, a loss needs nothing.
    ai_turn("r2")
    b.on_twilio_frame(_media(2, ts=1000 + 60_000))  # a minute later by Twilio's clock: all heard
    b.on_realtime_lost()
    assert b.transcript.conversation()[-1].speaker.value == "ai"
    assert not b.needs_response_after_restore(), "a heard turn waits for the customer"
