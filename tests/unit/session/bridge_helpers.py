"""A Bridge without sockets, and Realtime events as the server sends them, for handler tests."""

from __future__ import annotations

import json
import logging
from typing import Any

from engine.clock import VirtualClock
from engine.config import SessionSettings, Settings
from engine.session.bridge import Bridge
from engine.session.control import Effect, InterviewControl
from engine.session.conversation import BusinessContext, QuestionConfig, build_script
from engine.session.metrics import CallMetrics
from engine.session.transcript import TranscriptLog

PAYLOAD = "/" * 216  # 160 bytes of mu-law, base64
CTX = BusinessContext(
    "B", questions=[QuestionConfig("A?", id="qa"), QuestionConfig("B?", id="qb")], max_questions=2
)
SESSION = SessionSettings(
    max_call_seconds=180, silence_nudge_seconds=8, silence_hangup_seconds=20, closing_silence_seconds=4
)


class Probe:
    def __init__(self) -> None:
        self.opted: list[str] = []
        self.persisted: list[Effect] = []
        self.flushed: list[Any] = []


async def make_bridge(*, held: bool = False) -> tuple[Bridge, Probe]:
    probe = Probe()

    async def flush(lines: Any) -> None:
        probe.flushed.extend(lines)

    async def opt_out() -> None:
        probe.opted.append("x")

    async def connector() -> Any:
        raise AssertionError("no sockets in unit tests")

    clock = VirtualClock(100.0)
    bridge = Bridge(
        twilio_ws=None,  # type: ignore[arg-type]
        stream_sid="MZ1",
        connector=connector,
        settings=Settings(session=SESSION),
        control=InterviewControl(build_script(CTX, "s"), now=clock.now),
        session_update=lambda: "{}",
        clock=clock,
        log=logging.LoggerAdapter(logging.getLogger("t"), {}),
        metrics=CallMetrics(),
        transcript=TranscriptLog(held=held),
        flush=flush,
        opt_out=opt_out,
        started_at=100.0,
        persist=probe.persisted.extend,
    )
    return bridge, probe


def ev(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, "event_id": "e", **fields})


def sent_to_realtime(bridge: Bridge) -> list[dict[str, Any]]:
    out = []
    while bridge.to_realtime.qsize():
        out.append(json.loads(bridge.to_realtime.get_nowait()))
    return out


def twilio_frames(out: str | tuple[str, ...] | None) -> list[dict[str, Any]]:
    if out is None:
        return []
    return [json.loads(f) for f in (out if isinstance(out, tuple) else (out,))]


class Model:
    """Feeds a bridge the server events of responses, turns and tool calls."""

    def __init__(self, bridge: Bridge) -> None:
        self.b = bridge
        self.marks: list[str] = []
        self._n = 0

    def _frames(self, out: str | tuple[str, ...] | None) -> None:
        for frame in twilio_frames(out):
            if frame["event"] == "mark":
                self.marks.append(frame["mark"]["name"])

    def created(self, rid: str) -> None:
        self._frames(
            self.b.on_realtime_event(ev("response.created", response={"id": rid, "status": "in_progress"}))
        )

    def speak(self, rid: str, item: str, text: str, chunks: int = 3) -> None:
        b = self.b
        b.on_realtime_event(
            ev(
                "response.output_item.added",
                response_id=rid,
                output_index=0,
                item={"id": item, "type": "message", "role": "assistant", "content": []},
            )
        )
        for _ in range(chunks):
            self._frames(
                b.on_realtime_event(
                    ev("response.output_audio.delta", response_id=rid, item_id=item, delta=PAYLOAD)
                )
            )
        self._frames(b.on_realtime_event(ev("response.output_audio.done", response_id=rid, item_id=item)))
        b.on_realtime_event(
            ev("response.output_audio_transcript.done", response_id=rid, item_id=item, transcript=text)
        )

    def call(self, rid: str, name: str, args: dict[str, Any] | str, call_id: str | None = None) -> None:
        self._n += 1
        cid = call_id or f"call_{self._n}"
        arguments = args if isinstance(args, str) else json.dumps(args)
        self.b.on_realtime_event(
            ev(
                "response.function_call_arguments.done",
                response_id=rid,
                item_id=f"fc_{cid}",
                output_index=1,
                call_id=cid,
                name=name,
                arguments=arguments,
            )
        )
        self.b.on_realtime_event(
            ev(
                "response.output_item.done",
                response_id=rid,
                output_index=1,
                item={
                    "id": f"fc_{cid}",
                    "type": "function_call",
                    "status": "completed",
                    "name": name,
                    "call_id": cid,
                    "arguments": arguments,
                },
            )
        )

    def done(self, rid: str, status: str = "completed") -> None:
        self._frames(self.b.on_realtime_event(ev("response.done", response={"id": rid, "status": status})))

    def heard(self) -> None:
        """Twilio echoes every mark sent so far (the audio has played)."""
        while self.b.to_twilio.qsize():
            self._frames(self.b.to_twilio.get_nowait())
        for name in self.marks:
            self.b.on_twilio_frame(json.dumps({"event": "mark", "streamSid": "MZ1", "mark": {"name": name}}))
        self.marks.clear()

    def customer(self, item: str, text: str, language: str = "sv") -> None:
        b = self.b
        b.on_realtime_event(ev("input_audio_buffer.speech_started", item_id=item, audio_start_ms=0))
        b.on_realtime_event(ev("input_audio_buffer.speech_stopped", item_id=item, audio_end_ms=900))
        b.on_realtime_event(ev("input_audio_buffer.committed", item_id=item))
        b.on_realtime_event(
            ev(
                "conversation.item.input_audio_transcription.completed",
                item_id=item,
                content_index=0,
                transcript=text,
                usage={"type": "duration", "seconds": 1.0},
                languages=[{"code": language}],
            )
        )

    def turn(self, rid: str, item: str, text: str) -> None:
        """One whole spoken response, heard in full."""
        self.created(rid)
        self.speak(rid, item, text)
        self.done(rid)
        self.heard()
