"""One streamed response: the interviewer's line as audio deltas at a real-time pace.

``start()`` emits the opening events synchronously; ``run()`` (a task) streams
the audio; ``finish()`` emits the closing events, either when the stream ends
or, after the owner cancelled the task, with ``cancelled``. Emission is a plain
queue put, so a cancelled task can never emit anything after ``finish``.
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
from engine.emulators.openai.interviewer import Line
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
        self._words = _WORD_RE.findall(spec.line.text) or [spec.line.text]
        self._next_word = 0
        self.finished = False

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
        if self.spec.text_mode:
            self._send_words(len(self.spec.line.text))
            self.finish("completed")
            return
        # Synthesis runs off the event loop: other sessions keep their pace meanwhile.
        self.audio = await asyncio.to_thread(speech_audio, self.spec.line.text)
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
            self._send_words(len(self.spec.line.text) * self.sent_bytes // max(total, 1))
        # The last chunk plays for one chunk length; the response is done when generated.
        self.finish("completed")

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
        transcript = self.spec.line.text if complete else self.transcript_sent
        item_status = "completed" if complete else "incomplete"
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
        usage = events.usage(
            input_text_tokens=self.spec.input_text_tokens,
            input_audio_tokens=self.spec.input_audio_tokens,
            output_text_tokens=events.text_tokens(transcript),
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
                "response": self._response(status, [item], status_details=details, usage=usage),
            }
        )
        self.log.status = status
        self.log.reason = reason if status == "cancelled" else None
        self.log.audio_bytes_sent = self.sent_bytes
        return usage
