"""One Realtime connection: client events in, server events out, the interviewer (the model) in between.

``handle()`` is synchronous — every reaction is a queue put through ``emit`` —
so the only task a connection owns is the response being streamed.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import random
import re
import time
from collections.abc import Callable
from typing import Any

from engine.emulators.openai import events
from engine.emulators.openai.conversation import Conversation, ConvItem
from engine.emulators.openai.events import Event, Ids
from engine.emulators.openai.goals import parse_goals
from engine.emulators.openai.interviewer import Call, Interviewer, Turn
from engine.emulators.openai.log import ErrorLog, ItemLog, ResponseLog, SessionLog
from engine.emulators.openai.options import OpenAIEmulatorOptions
from engine.emulators.openai.protocol import DECODED_AUDIO, ClientEventError, parse_client_event
from engine.emulators.openai.response import BYTES_PER_MS, ResponseSpec, ResponseStream
from engine.emulators.openai.session_config import apply_update, vad_config
from engine.emulators.openai.understanding import language_of
from engine.emulators.openai.vad import EnergyVad, SpeechStarted, SpeechStopped
from engine.emulators.speech import FRAME_BYTES, SILENCE_BYTE, SpeechDecoder
from engine.logs import get_logger

logger = get_logger(__name__)

_MIN_COMMIT_MS = 100
TOOLS = frozenset({"record_consent", "question_answered", "end_call"})
"""The tool contract (docs/session.md): the model uses tools only when the session offers all three."""
_WORDS = re.compile(r"\S+\s*")
_FLUSH_SILENCE = bytes([SILENCE_BYTE]) * (FRAME_BYTES * 10)
"""Silence fed after a committed turn so the decoder completes a packet cut right at the end."""


class RealtimeConnection:
    def __init__(
        self,
        *,
        options: OpenAIEmulatorOptions,
        log: SessionLog,
        emit: Callable[[Event], None],
        ids: Ids | None = None,
    ) -> None:
        self._options = options
        self.log = log
        self._emit = emit
        self._ids = ids or Ids()
        # Announced in wall-clock seconds, as the real server does: at speed > 1 the session
        # really ends after wall(max_session_seconds), so that is what a client must be told.
        expires = int(time.time() + options.wall(options.max_session_seconds))
        self.session = events.default_session(log.session_id, log.model, expires)
        self._conversation_id = self._ids.new("conv")
        self._vad = EnergyVad(vad_config(self.session))
        self._turn_item_id: str | None = None
        self.conversation = Conversation(ids=self._ids, emit=emit, log=log)
        self.response: ResponseStream | None = None
        self._response_task: asyncio.Task[None] | None = None
        self._turn_task: asyncio.Task[None] | None = None
        self._requests = 0
        self._tokens = 0
        self._rng = random.Random(log.session_id)
        self._model: Interviewer | None = None
        self._model_for: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._emit({"type": "session.created", "event_id": self._new("event"), "session": self.session})

    async def aclose(self) -> None:
        """Stop streaming and transcribing without emitting anything (the socket is going away)."""
        tasks = {t for t in (self._response_task, self._turn_task) if t is not None and not t.done()}
        self._response_task = self._turn_task = None
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)

    def _new(self, prefix: str) -> str:
        return self._ids.new(prefix)

    # -- client events -----------------------------------------------------------------------

    def handle(self, raw: str | bytes) -> None:
        self.log.events_received += 1
        try:
            event = parse_client_event(raw)
            handler = self._handlers[event["type"]]
            handler(self, event)
        except ClientEventError as exc:
            self._error(exc)

    def _error(self, exc: ClientEventError) -> None:
        self.log.errors.append(ErrorLog(exc.code, exc.param, exc.event_type))
        logger.info(
            "realtime client error code=%s param=%s session=%s", exc.code, exc.param, self.log.session_id
        )
        self._emit(
            events.error(
                self._new("event"),
                exc.code,
                exc.message,
                param=exc.param,
                client_event_id=exc.event_id,
                error_type=exc.error_type,
            )
        )

    def _session_update(self, event: dict[str, Any]) -> None:
        update = event["session"]
        self.log.session_updates.append(copy.deepcopy(update))
        self.session = apply_update(self.session, update, event.get("event_id"))
        self._vad.reconfigure(vad_config(self.session))
        self._emit({"type": "session.updated", "event_id": self._new("event"), "session": self.session})

    def _append(self, event: dict[str, Any]) -> None:
        audio: bytes = event[DECODED_AUDIO]
        self.log.audio_bytes_in += len(audio)
        for vad_event in self._vad.feed(audio):
            if isinstance(vad_event, SpeechStarted):
                self._speech_started(vad_event)
            else:
                self._speech_stopped(vad_event)

    def _speech_started(self, started: SpeechStarted) -> None:
        self._turn_item_id = self._new("item")
        self.log.speech.append(("started", started.audio_start_ms))
        self._emit(
            {
                "type": "input_audio_buffer.speech_started",
                "event_id": self._new("event"),
                "audio_start_ms": started.audio_start_ms,
                "item_id": self._turn_item_id,
            }
        )
        detection = self.session["audio"]["input"]["turn_detection"] or {}
        if self.response is not None and detection.get("interrupt_response", True):
            self._cancel_response("turn_detected")

    def _speech_stopped(self, stopped: SpeechStopped) -> None:
        item_id = self._turn_item_id or self._new("item")
        self._turn_item_id = None
        self.log.speech.append(("stopped", stopped.audio_end_ms))
        self._emit(
            {
                "type": "input_audio_buffer.speech_stopped",
                "event_id": self._new("event"),
                "audio_end_ms": stopped.audio_end_ms,
                "item_id": item_id,
            }
        )
        detection = self.session["audio"]["input"]["turn_detection"] or {}
        self._commit_turn(item_id, stopped.audio, respond=bool(detection.get("create_response", True)))

    def _commit(self, event: dict[str, Any]) -> None:
        buffered = self._vad.buffered_ms()
        if buffered < _MIN_COMMIT_MS:
            raise ClientEventError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
                f"but buffer only has {buffered:.2f}ms of audio.",
                None,
                event.get("event_id"),
                event["type"],
            )
        item_id = self._turn_item_id or self._new("item")
        self._turn_item_id = None
        _, audio = self._vad.take_buffer()
        self._commit_turn(item_id, audio, respond=False)

    def _commit_turn(self, item_id: str, audio: bytes, *, respond: bool) -> None:
        """committed → user item added/done now; transcription (off the loop) and the response follow."""
        previous = self.conversation.last_id
        self._emit(
            {
                "type": "input_audio_buffer.committed",
                "event_id": self._new("event"),
                "previous_item_id": previous,
                "item_id": item_id,
            }
        )
        item = events.user_audio_item(item_id, None)
        for kind in ("conversation.item.added", "conversation.item.done"):
            self._emit(
                {"type": kind, "event_id": self._new("event"), "previous_item_id": previous, "item": item}
            )
        turn = ConvItem(item_id, "user", None, item, audio_ms=len(audio) // BYTES_PER_MS, pending=True)
        self.conversation.items.append(turn)
        self.log.items.append(ItemLog(item_id, "user", "audio", None))
        earlier = self._turn_task
        self._turn_task = asyncio.get_running_loop().create_task(
            self._finish_turn(turn, audio, respond, earlier), name=f"realtime-turn-{item_id}"
        )

    async def _finish_turn(
        self, turn: ConvItem, audio: bytes, respond: bool, earlier: asyncio.Task[None] | None
    ) -> None:
        # Decoding takes milliseconds of numpy per turn: keep it off the event loop.
        try:
            text, failed = await asyncio.to_thread(transcribe, audio)
        except Exception as exc:  # never lose the turn over a decoder bug
            logger.warning(
                "realtime transcription crashed session=%s error=%s", self.log.session_id, type(exc).__name__
            )
            text, failed = "", True
        if earlier is not None:
            await asyncio.wait({earlier})  # turns finish in the order they were committed
        turn.text, turn.pending = text or None, False
        turn.item = events.user_audio_item(turn.id, text)
        self.log.transcripts.append(text)
        for logged in self.log.items:
            if logged.id == turn.id:
                logged.text = text
        if self.session["audio"]["input"].get("transcription") is not None:
            self._transcription_events(turn.id, text, failed, len(audio))
        if not respond:
            return
        if self.response is None:
            self._start_response(instructions=None, params={})
        else:
            logger.info(
                "realtime turn while a response is active; none created session=%s", self.log.session_id
            )

    def _transcription_events(self, item_id: str, text: str, failed: bool, audio_bytes: int) -> None:
        if failed:
            self._emit(
                {
                    "type": "conversation.item.input_audio_transcription.failed",
                    "event_id": self._new("event"),
                    "item_id": item_id,
                    "content_index": 0,
                    "error": {
                        "type": "transcription_error",
                        "code": "audio_unintelligible",
                        "message": "The audio could not be transcribed.",
                        "param": None,
                    },
                }
            )
            return
        if text:
            self._emit(
                {
                    "type": "conversation.item.input_audio_transcription.delta",
                    "event_id": self._new("event"),
                    "item_id": item_id,
                    "content_index": 0,
                    "delta": text,
                }
            )
        completed: Event = {
            "type": "conversation.item.input_audio_transcription.completed",
            "event_id": self._new("event"),
            "item_id": item_id,
            "content_index": 0,
            "transcript": text,
            "usage": {"type": "duration", "seconds": round(audio_bytes / 8000, 3)},
        }
        transcription = self.session["audio"]["input"]["transcription"]
        if "item.input_audio_transcription.logprobs" in (self.session.get("include") or []):
            # The codec's CRC makes every decoded word certain.
            completed["logprobs"] = [
                {"token": word, "bytes": list(word.encode()), "logprob": -0.01}
                for word in _WORDS.findall(text)
            ]
        if str(transcription.get("model", "")).startswith("gpt-transcribe"):
            # Only gpt-transcribe reports the languages it heard; an empty list = none reliably detected.
            spoken = language_of(text)
            completed["languages"] = [{"code": spoken}] if spoken else []
        self._emit(completed)

    def _clear(self, event: dict[str, Any]) -> None:
        self._vad.clear()
        self._turn_item_id = None
        self._emit({"type": "input_audio_buffer.cleared", "event_id": self._new("event")})

    def _item_create(self, event: dict[str, Any]) -> None:
        self.conversation.create(event)

    def _truncate(self, event: dict[str, Any]) -> None:
        streaming = (self.response.item_id, self.response.audio_ms_sent) if self.response else None
        self.conversation.truncate(event, streaming)

    def _item_delete(self, event: dict[str, Any]) -> None:
        self.conversation.delete(event)

    def _item_retrieve(self, event: dict[str, Any]) -> None:
        self.conversation.retrieve(event)

    def _response_create(self, event: dict[str, Any]) -> None:
        if self.response is not None:
            raise ClientEventError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self.response.id}. "
                "Wait until the response is finished before creating a new one.",
                None,
                event.get("event_id"),
                event["type"],
            )
        params = event.get("response") or {}
        self._start_response(instructions=params.get("instructions"), params=params)

    def _response_cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        if self.response is None or (wanted is not None and wanted != self.response.id):
            raise ClientEventError(
                "response_cancel_not_active",
                "Cancellation failed: no active response found",
                None,
                event.get("event_id"),
                event["type"],
            )
        self._cancel_response("client_cancelled")

    def _output_clear(self, event: dict[str, Any]) -> None:
        raise ClientEventError(
            "invalid_value",
            "output_audio_buffer.clear is only supported for WebRTC and SIP connections.",
            "type",
            event.get("event_id"),
            event["type"],
        )

    _handlers: dict[str, Callable[[RealtimeConnection, dict[str, Any]], None]] = {
        "session.update": _session_update,
        "input_audio_buffer.append": _append,
        "input_audio_buffer.commit": _commit,
        "input_audio_buffer.clear": _clear,
        "output_audio_buffer.clear": _output_clear,
        "conversation.item.create": _item_create,
        "conversation.item.truncate": _truncate,
        "conversation.item.delete": _item_delete,
        "conversation.item.retrieve": _item_retrieve,
        "response.create": _response_create,
        "response.cancel": _response_cancel,
    }

    # -- responses ---------------------------------------------------------------------------

    def _interviewer(self) -> Interviewer:
        instructions = self.session.get("instructions") or ""
        behaviour = self._options.behaviour  # tests may switch it between calls
        declared = {t.get("name") for t in self.session.get("tools") or [] if isinstance(t, dict)}
        if behaviour.tools and not TOOLS <= declared:
            behaviour = dataclasses.replace(behaviour, tools=False)  # a model calls only offered tools
        if self._model is None or self._model_for != instructions:
            self._model = Interviewer(parse_goals(instructions), behaviour, self._rng)
            self._model_for = instructions
        self._model.b = behaviour
        return self._model

    def _history(self) -> list[Turn]:
        turns = []
        for i in self.conversation.items:
            if i.pending or i.role not in ("user", "assistant", "function_call", "function_call_output"):
                continue
            turns.append(
                Turn(
                    i.role,
                    i.text,
                    i.keys,
                    name=i.item.get("name"),
                    arguments=i.item.get("arguments"),
                    call_id=i.item.get("call_id"),
                    output=i.item.get("output"),
                )
            )
        return turns

    def _add_call_item(self, item: dict[str, Any], call: Call) -> None:
        self.conversation.items.append(ConvItem(item["id"], "function_call", None, item))
        self.log.items.append(ItemLog(item["id"], "function_call", "response", call.name))
        self.log.tool_calls.append((call.name, call.arguments))

    def _start_response(self, *, instructions: str | None, params: dict[str, Any]) -> None:
        line = self._interviewer().next_line(self._history(), instructions=instructions)
        modalities = params.get("output_modalities") or self.session.get("output_modalities") or ["audio"]
        output = (params.get("audio") or {}).get("output") or {}
        session_output = self.session["audio"]["output"]
        in_conversation = params.get("conversation", "auto") != "none"
        response_id = self._new("resp")
        item_id = self._new("item")
        log = ResponseLog(
            response_id,
            item_id if line.text is not None else None,
            line.text or "",
            line.keys,
            instructions=instructions,
            calls=[(c.name, c.arguments) for c in line.calls],
        )
        self.log.responses.append(log)
        spec = ResponseSpec(
            line=line,
            text_mode=modalities == ["text"],
            in_conversation=in_conversation,
            voice=_voice_name(output.get("voice") or session_output.get("voice")),
            output_format=output.get("format") or session_output["format"],
            metadata=params.get("metadata"),
            previous_item_id=self.conversation.last_id,
            input_text_tokens=sum(events.text_tokens(i.text or "") for i in self.conversation.items)
            + events.text_tokens(self.session.get("instructions") or ""),
            input_audio_tokens=sum(i.audio_ms for i in self.conversation.items if i.role == "user") // 100,
        )
        stream = ResponseStream(
            spec=spec,
            ids=self._ids,
            emit=self._emit,
            options=self._options,
            log=log,
            pacing=self.log.pacing,
            conversation_id=self._conversation_id,
            add_item=self._add_call_item,
        )
        self.response = stream
        if in_conversation and line.text is not None:
            stored = events.assistant_item(item_id, "in_progress", line.text, text_mode=spec.text_mode)
            self.conversation.items.append(
                ConvItem(item_id, "assistant", line.text, stored, line.keys, output_audio=not spec.text_mode)
            )
            self.log.items.append(ItemLog(item_id, "assistant", "response", line.text))
        stream.start()
        task = asyncio.get_running_loop().create_task(
            self._stream(stream), name=f"realtime-response-{response_id}"
        )
        self._response_task = task

    async def _stream(self, stream: ResponseStream) -> None:
        try:
            await stream.run()
        except (
            Exception
        ) as exc:  # e.g. a SÄG text too long for the voice: fail the response, keep the session
            logger.warning(
                "realtime response failed session=%s error=%s", self.log.session_id, type(exc).__name__
            )
            stream.finish("failed", "The emulator could not produce this response.")
        self._response_finished(stream)

    def _cancel_response(self, reason: str) -> None:
        stream = self.response
        if stream is None:
            return
        if self._response_task is not None:
            self._response_task.cancel()
            self._response_task = None
        self.log.cancels.append((stream.id, reason))
        stream.finish("cancelled", reason)
        self._response_finished(stream)

    def _response_finished(self, stream: ResponseStream) -> None:
        if self.response is stream:
            self.response = None
            self._response_task = None
        for item in self.conversation.items:
            if item.id == stream.item_id:
                if not stream.spec.text_mode and item.audio_ms == 0:
                    item.audio_ms = stream.audio_ms_sent
                if stream.log.status != "completed":
                    item.text = stream.transcript_sent
                item.item = events.assistant_item(
                    item.id,
                    "completed" if stream.log.status == "completed" else "incomplete",
                    item.text,
                    text_mode=stream.spec.text_mode,
                )
        self._requests += 1
        self._tokens += (
            stream.spec.input_text_tokens + stream.spec.input_audio_tokens + stream.audio_ms_sent // 50
        )
        self._emit(events.rate_limits(self._new("event"), self._requests, self._tokens))


def transcribe(audio: bytes) -> tuple[str, bool]:
    """(text decoded from a committed turn, whether it failed: speech was there but nothing decoded)."""
    decoder = SpeechDecoder()
    texts = decoder.feed(audio + _FLUSH_SILENCE)
    return " ".join(texts), not texts and decoder.errors > 0


def _voice_name(voice: Any) -> str:
    if isinstance(voice, dict):
        return str(voice.get("id", "alloy"))
    return str(voice or "alloy")
