"""One streamed response: the interviewer's line as audio deltas at a real-time pace, and its tool calls.

``start()`` emits the opening events synchronously; ``run()`` (a task) streams
the audio, then the function calls (``output_item.added`` →
``function_call_arguments.delta*`` → ``.done`` → ``output_item.done``, as the
Realtime API delivers them; with ``calls_during_audio`` they go out while the
audio still streams); ``finish()`` emits the closing events, either when the
stream ends or, after the owner cancelled the task, with ``cancelled``.
Emission is a plain queue put, so a cancelled task can never emit anything
after ``finish``. A response may hold no speech at all (only calls, or
nothing).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from engine.emulators.openai import events
from engine.emulators.openai.events import Event, Ids
from engine.emulators.openai.interviewer import Call, Line
from engine.emulators.openai.log import PacingStats, ResponseLog
from engine.emulators.openai.options import OpenAIEmulatorOptions
from engine.emulators.speech import encode_speech

BYTES_PER_MS = 8
_WORD_RE = re.compile(r"\S+\s*")


@lru_cache(maxsize=512)
def speech_audio(text: str) -> bytes:
    """The AI voice for a line (cached: the script repeats across calls)."""
    return encode_speech(text)


@dataclasses.dataclass
class ResponseSpec:
    """What ``response.create`` (or a VAD turn) asked for."""

    line: Line
    text_mode: bool
    in_conversation: bool
    voice: str
    output_format: dict[str, Any]
    metadata: dict[str, str] | None
    previous_item_id: str | None
    input_text_tokens: int
    input_audio_tokens: int


class ResponseStream:
    """``add_item(item_dict, call)`` is told of every function-call item as it is emitted (the conversation
    keeps it); ``call`` is the :class:`Call` it carries."""

    def __init__(
        self,
        *,
        spec: ResponseSpec,
        ids: Ids,
        emit: Callable[[Event], None],
        options: OpenAIEmulatorOptions,
        log: ResponseLog,
        pacing: PacingStats,
        conversation_id: str,
        add_item: Callable[[dict[str, Any], Call], None] | None = None,
    ) -> None:
        self.spec = spec
        self.id = log.id
        self.item_id = log.item_id or ids.new("item")
        self._ids = ids
        self._emit = emit
        self._options = options
        self.log = log
        self._pacing = pacing
        self._conversation_id = conversation_id
        self.audio = b""
        self.sent_bytes = 0
        self.transcript_sent = ""
        self.text = spec.line.text or ""
        self.speaks = spec.line.text is not None
        self._words = _WORD_RE.findall(self.text) or [self.text]
        self._next_word = 0
        self.finished = False
        self._add_item = add_item
        self._calls_out: list[dict[str, Any]] = []
        self._calls_sent = 0
        self._last_item_id: str | None = None

    @property
    def audio_ms_sent(self) -> int:
        return self.sent_bytes // BYTES_PER_MS

    def _response(self, status: str, output: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        spec = self.spec
        return events.response_object(
            self.id,
            status,
            conversation_id=self._conversation_id if spec.in_conversation else None,
            output=output,
            modalities=["text"] if spec.text_mode else ["audio"],
            voice=spec.voice,
            output_format=spec.output_format,
            metadata=spec.metadata,
            **extra,
        )

    def _item(self, status: str, transcript: str | None) -> dict[str, Any]:
        return events.assistant_item(self.item_id, status, transcript, text_mode=self.spec.text_mode)

    def _refs(self) -> dict[str, Any]:
        return {"response_id": self.id, "item_id": self.item_id, "output_index": 0, "content_index": 0}

    def start(self) -> None:
        new = self._ids.new
        self._emit(
            {
                "type": "response.created",
                "event_id": new("event"),
                "response": self._response("in_progress", []),
            }
        )
        if not self.speaks:
            return
        item = self._item("in_progress", None)
        self._emit(
            {
                "type": "response.output_item.added",
                "event_id": new("event"),
                "response_id": self.id,
                "output_index": 0,
                "item": item,
            }
        )
        self._last_item_id = self.item_id
        if self.spec.in_conversation:
            self._emit(
                {
                    "type": "conversation.item.added",
                    "event_id": new("event"),
                    "previous_item_id": self.spec.previous_item_id,
                    "item": item,
                }
            )
        part = {"type": "text", "text": ""} if self.spec.text_mode else {"type": "audio", "transcript": ""}
        self._emit(
            {"type": "response.content_part.added", "event_id": new("event"), **self._refs(), "part": part}
        )

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        if self._options.response_delay_ms:
            await asyncio.sleep(self._options.wall(self._options.response_delay_ms / 1000))
        if not self.speaks:
            self.finish("completed")
            return
        if self.spec.text_mode:
            self._send_words(len(self.text))
            self.finish("completed")
            return
        # Synthesis runs off the event loop: other sessions keep their pace meanwhile.
        self.audio = await asyncio.to_thread(speech_audio, self.text)
        self.log.audio_bytes_total = len(self.audio)
        chunk = self._options.output_chunk_ms * BYTES_PER_MS
        chunk_wall = self._options.wall(self._options.output_chunk_ms / 1000) / self._options.output_pace
        lead_chunks = self._options.output_lead_ms // self._options.output_chunk_ms
        start = loop.time()
        total = len(self.audio)
        for index, offset in enumerate(range(0, total, chunk)):
            # The first ``output_lead_ms`` go out at once: a cushion against stalls, as the real model
            # (which generates faster than real time) always leaves one at the receiver.
            due = start + max(0, index - lead_chunks) * chunk_wall
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._pacing.add(max(0.0, loop.time() - due) * 1000)
            piece = self.audio[offset : offset + chunk]
            self.sent_bytes = offset + len(piece)
            self.log.audio_bytes_sent = self.sent_bytes
            self._emit(
                {
                    "type": "response.output_audio.delta",
                    "event_id": self._ids.new("event"),
                    **self._refs(),
                    "delta": base64.b64encode(piece).decode("ascii"),
                }
            )
            self._send_words(len(self.text) * self.sent_bytes // max(total, 1))
            if index == 0 and self.spec.line.calls_during_audio:
                self._send_calls()  # the model decided to end before its goodbye is out
        # The last chunk plays for one chunk length; the response is done when generated.
        self.finish("completed")

    def _send_calls(self) -> None:
        """Emit every not-yet-sent function call of this response, as the Realtime API streams them."""
        new = self._ids.new
        calls = self.spec.line.calls
        while self._calls_sent < len(calls):
            call = calls[self._calls_sent]
            self._calls_sent += 1
            index = (1 if self.speaks else 0) + len(self._calls_out)
            item_id, call_id = new("item"), new("call")
            base = {"id": item_id, "object": "realtime.item", "type": "function_call", "call_id": call_id}
            added = {**base, "status": "in_progress", "name": call.name, "arguments": ""}
            refs = {"response_id": self.id, "item_id": item_id, "output_index": index, "call_id": call_id}
            self._emit(
                {
                    "type": "response.output_item.added",
                    "event_id": new("event"),
                    "response_id": self.id,
                    "output_index": index,
                    "item": added,
                }
            )
            if self.spec.in_conversation:
                self._emit(
                    {
                        "type": "conversation.item.added",
                        "event_id": new("event"),
                        "previous_item_id": self._last_item_id or self.spec.previous_item_id,
                        "item": added,
                    }
                )
            half = max(1, len(call.arguments) // 2)
            for piece in (call.arguments[:half], call.arguments[half:]):
                if piece:
                    self._emit(
                        {
                            "type": "response.function_call_arguments.delta",
                            "event_id": new("event"),
                            **refs,
                            "delta": piece,
                        }
                    )
            self._emit(
                {
                    "type": "response.function_call_arguments.done",
                    "event_id": new("event"),
                    **refs,
                    "name": call.name,
                    "arguments": call.arguments,
                }
            )
            done = {**base, "status": "completed", "name": call.name, "arguments": call.arguments}
            if self.spec.in_conversation:
                self._emit(
                    {
                        "type": "conversation.item.done",
                        "event_id": new("event"),
                        "previous_item_id": self._last_item_id or self.spec.previous_item_id,
                        "item": done,
                    }
                )
            self._emit(
                {
                    "type": "response.output_item.done",
                    "event_id": new("event"),
                    "response_id": self.id,
                    "output_index": index,
                    "item": done,
                }
            )
            self._calls_out.append(done)
            self._last_item_id = item_id
            if self._add_item is not None and self.spec.in_conversation:
                self._add_item(done, call)

    def _send_words(self, chars_reached: int) -> None:
        """Transcript deltas for every word that starts within the audio sent so far."""
        position = len(self.transcript_sent)
        while self._next_word < len(self._words) and position <= chars_reached:
            word = self._words[self._next_word]
            self._next_word += 1
            self.transcript_sent += word
            position += len(word)
            kind = (
                "response.output_text.delta"
                if self.spec.text_mode
                else "response.output_audio_transcript.delta"
            )
            self._emit({"type": kind, "event_id": self._ids.new("event"), **self._refs(), "delta": word})

    def finish(self, status: str, reason: str | None = None) -> dict[str, Any] | None:
        """Emit the closing events (once). Returns the final usage, or None if already finished."""
        if self.finished:
            return None
        self.finished = True
        new = self._ids.new
        complete = status == "completed"
        transcript = self.text if complete else self.transcript_sent
        item_status = "completed" if complete else "incomplete"
        output: list[dict[str, Any]] = []
        if self.speaks:
            output.append(self._finish_speech(transcript, item_status))
        if complete:
            self._send_calls()
        output.extend(self._calls_out)
        usage = events.usage(
            input_text_tokens=self.spec.input_text_tokens,
            input_audio_tokens=self.spec.input_audio_tokens,
            output_text_tokens=events.text_tokens(transcript)
            + sum(events.text_tokens(c["arguments"]) for c in self._calls_out),
            output_audio_tokens=self.audio_ms_sent // 50,
        )
        details: dict[str, Any] | None = None
        if status == "cancelled":
            details = {"type": "cancelled", "reason": reason}
        elif status == "failed":
            details = {
                "type": "failed",
                "error": {
                    "type": "server_error",
                    "code": "emulator_error",
                    "message": reason or "internal error",
                },
            }
        self._emit(
            {
                "type": "response.done",
                "event_id": new("event"),
                "response": self._response(status, output, status_details=details, usage=usage),
            }
        )
        self.log.status = status
        self.log.reason = reason if status == "cancelled" else None
        self.log.audio_bytes_sent = self.sent_bytes
        return usage

    def _finish_speech(self, transcript: str, item_status: str) -> dict[str, Any]:
        new = self._ids.new
        refs = self._refs()
        if self.spec.text_mode:
            self._emit(
                {"type": "response.output_text.done", "event_id": new("event"), **refs, "text": transcript}
            )
            part = {"type": "text", "text": transcript}
        else:
            self._emit({"type": "response.output_audio.done", "event_id": new("event"), **refs})
            self._emit(
                {
                    "type": "response.output_audio_transcript.done",
                    "event_id": new("event"),
                    **refs,
                    "transcript": transcript,
                }
            )
            part = {"type": "audio", "transcript": transcript}
        self._emit({"type": "response.content_part.done", "event_id": new("event"), **refs, "part": part})
        item = self._item(item_status, transcript)
        if self.spec.in_conversation:
            self._emit(
                {
                    "type": "conversation.item.done",
                    "event_id": new("event"),
                    "previous_item_id": self.spec.previous_item_id,
                    "item": item,
                }
            )
        self._emit(
            {
                "type": "response.output_item.done",
                "event_id": new("event"),
                "response_id": self.id,
                "output_index": 0,
                "item": item,
            }
        )
        return item
