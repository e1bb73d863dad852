"""The bridge's event handling: what each Twilio frame and Realtime event does (no I/O here).

Handlers are synchronous; they update state and queue frames through the
bridge's ``send_*`` helpers. The hot paths (Twilio media in, Realtime audio
delta out) are a msgspec decode, a few comparisons and one string build; tool
calls (a handful per call) go to :class:`~engine.session.control.InterviewControl`.

The call is steered by the model's tools, never by what was said: a tool's
``end_call`` ends the call once the audio of its response has been heard (its
end mark echoed); the round rule and the timers end it when a model never
calls a tool (docs/session.md). The only text check left is a safety net for
a spoken opt-out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

from engine.clock import Clock
from engine.config import Settings
from engine.domain import MessageType, Speaker
from engine.realtime import events as rt
from engine.session import language
from engine.session.control import (
    ConsentAnswer,
    ConsentDecided,
    Effect,
    EndRequested,
    InterviewControl,
    OptOutRequested,
)
from engine.session.conversation import is_opt_out
from engine.session.metrics import CallMetrics
from engine.session.playback import MarkKind, Playback
from engine.session.prompt import REMINDER_INSTRUCTIONS
from engine.session.state import Event
from engine.session.timers import CallTimers
from engine.session.transcript import TranscriptLog
from engine.telephony import media

RENEW_MARGIN_SECONDS = 120.0
_IGNORED_ERROR_CODES = frozenset(
    {
        "response_cancel_not_active",
        "item_truncate_invalid_item_id",
        "input_audio_buffer_commit_empty",
        # our response.create after tool outputs raced the server's own response to a customer turn
        "conversation_already_has_active_response",
    }
)


class RealtimeHandler:
    # Provided by Bridge.
    settings: Settings
    control: InterviewControl
    clock: Clock
    log: logging.LoggerAdapter[logging.Logger]
    metrics: CallMetrics
    transcript: TranscriptLog
    playback: Playback
    timers: CallTimers
    stream_sid: str
    pending_end: Event | None
    realtime_expires_at: float | None
    openai_session_ids: list[str]
    to_realtime: asyncio.Queue[str]

    def ms(self) -> int:
        raise NotImplementedError

    def end(self, event: Event) -> None:
        raise NotImplementedError

    def end_after_closing(self, event: Event) -> None:
        raise NotImplementedError

    def send_twilio(self, frame: str) -> None:
        raise NotImplementedError

    def send_realtime(self, event: str) -> None:
        raise NotImplementedError

    def clear_twilio(self) -> None:
        raise NotImplementedError

    def opt_out(self) -> None:
        raise NotImplementedError

    def expect_renewal(self) -> None:
        raise NotImplementedError

    def spawn(self, coro: Any, name: str) -> None:
        raise NotImplementedError

    def persist(self, effects: list[Effect]) -> None:
        """Store consent records and progress (side tasks; never blocks the handler)."""
        raise NotImplementedError

    def __init__(self) -> None:
        self._inbound_audio = ""
        self._speech_ms: dict[str, int] = {}
        self._turn_stopped_at: float | None = None
        self._response_active = False
        self._cut_by_loss = False
        """A response was under way, or its audio still playing, when the Realtime socket went:
        the new socket must have the model say it again."""
        self._reminder_response = False
        self._reminder_requested = False
        self._reminder_items: set[str] = set()
        self._reminder_responses: set[str] = set()
        self._item_ms: dict[str, int] = {}
        self._first_ai_item: str | None = None
        self._ai_spoke = False
        """The AI spoke since the customer's last turn (the next turn is a new round)."""
        self._spoke_in: set[str] = set()
        """Responses that produced speech (an assistant message item)."""
        self._ai_text: dict[str, list[tuple[str, str]]] = {}
        """response id → (item id, transcript) waiting for response.done to be typed and filled."""
        self._muted: set[str] = set()
        """Responses created after end_call: cancelled, never played, never transcribed."""
        self._end_response: str | None = None
        self._end_response_done = False
        self._api_pending: dict[str, deque[float]] = {"session": deque(), "response": deque()}
        self._opt_out_digit = self.settings.session.opt_out_dtmf
        self._ai_busy = False
        self.barge_ins: list[tuple[str, int]] = []
        self.final_words: asyncio.Event | None = None
        self.renew_margin = RENEW_MARGIN_SECONDS
        self._customer_pending: set[str] = set()

    # ------------------------------------------------------------------ bookkeeping
    def api_sent(self, kind: str) -> None:
        self._api_pending[kind].append(self.clock.monotonic())

    def _api_answered(self, kind: str) -> None:
        pending = self._api_pending[kind]
        if pending:
            self.metrics.on_api_latency((self.clock.monotonic() - pending.popleft()) * 1000)

    def bad_input(self, source: str, kind: str) -> None:
        self.metrics.error(f"{source}_{kind}", self.ms())
        self.log.warning("dropped bad %s frame (%s)", source, kind)

    def request_reminder(self) -> None:
        self._reminder_requested = True
        self.send_realtime(rt.response_create(REMINDER_INSTRUCTIONS))
        self.api_sent("response")

    def needs_response_after_restore(self) -> bool:
        lines = self.transcript.conversation()
        return (
            not lines or lines[-1].speaker is Speaker.CUSTOMER or self._response_active or self._cut_by_loss
        )

    def on_realtime_lost(self) -> None:
        """The socket died: stop the half-played item (it is asked again on the new socket)."""
        self._cut_by_loss = self._cut_by_loss or self._response_active
        self._response_active = False
        for rid in list(self._ai_text):
            self._fill_ai_lines(rid)
        if self._end_response is not None and not self._end_response_done:
            self._end_response_done = True  # no response.done will come for it on a new socket
            self.check_end()
        if self.playback.cut() is not None:
            # The caller never heard the rest of it (and may be waiting for its question).
            self._cut_by_loss = True
            self.clear_twilio()
        self._ai_stopped(heard=False)
        for pending in self._api_pending.values():
            pending.clear()

    def _ai_stopped(self, *, heard: bool) -> None:
        if self._ai_busy:
            self._ai_busy = False
            self.timers.ai_stopped(self.clock.monotonic(), heard=heard)

    # ------------------------------------------------------------------ Twilio frames
    def on_twilio_frame(self, raw: str | bytes) -> bool:
        """Handle one Twilio frame; True when ``_inbound_audio`` holds an append for Realtime."""
        try:
            ev = media.decode(raw)
        except media.MediaDecodeError as exc:
            self.bad_input("twilio", exc.kind)
            return False
        if type(ev) is media.Media:
            m = ev.media
            try:
                chunk = int(m.chunk)
                ts = int(m.timestamp)
            except ValueError:
                self.bad_input("twilio", "invalid")
                return False
            if m.track != "inbound" or not self.metrics.on_media(chunk):
                return False
            self.playback.on_media_timestamp(ts)
            if self.metrics.want_clarity_sample():
                self.metrics.sample_audio(m.payload)
            self._inbound_audio = rt.append_audio(m.payload)
            return True
        if type(ev) is media.Mark:
            self._on_mark(ev.mark.name)
        elif type(ev) is media.Dtmf:
            if ev.dtmf.digit == self._opt_out_digit:
                self.log.info("opt-out by keypad")
                self.opt_out()
                self.end(Event.OPTED_OUT)
        elif type(ev) is media.Stop:
            if self.pending_end is None:
                # Whatever the customer said last may not be committed yet: commit and wait briefly.
                self.final_words = asyncio.Event()
                self.send_realtime(rt.commit())
            else:
                self.end(self.pending_end or self.hang_up_event())
        else:
            self.bad_input("twilio", f"unexpected_{type(ev).__name__.lower()}")
        return False

    def _on_mark(self, name: str) -> None:
        now = self.clock.monotonic()
        echo = self.playback.on_echo(name, now)
        if echo is None:
            return
        if echo.kind is MarkKind.START:
            self.metrics.on_mark_latency(echo.rtt * 1000)
        elif echo.kind is MarkKind.END:
            if echo.item_id not in self._reminder_items:
                self._ai_stopped(heard=True)
            self.check_end()

    # ------------------------------------------------------------------ Realtime events
    def on_realtime_event(self, raw: str | bytes) -> str | tuple[str, ...] | None:
        """Handle one Realtime event; returns Twilio frame(s) to queue (audio, marks) or None."""
        try:
            ev = rt.decode(raw)
        except rt.RealtimeDecodeError:
            self.bad_input("realtime", "malformed")
            return None
        if type(ev) is rt.AudioDelta:
            return self._on_audio(ev)
        now = self.clock.monotonic()
        if type(ev) is rt.SpeechStarted:
            self.timers.customer_started(now)
            self._speech_ms[ev.item_id] = self.ms()
            self._barge_in()
        elif type(ev) is rt.SpeechStopped:
            self.timers.customer_stopped(now)
            self._turn_stopped_at = now
        elif type(ev) is rt.Committed:
            self._customer_pending.add(ev.item_id)
            self.transcript.reserve(
                Speaker.CUSTOMER, ev.item_id, self._speech_ms.get(ev.item_id, self.ms()), now
            )
        elif type(ev) is rt.TranscriptionCompleted:
            self._on_customer_text(ev)
        elif type(ev) is rt.TranscriptionFailed:
            self._customer_pending.discard(ev.item_id)
            if self.final_words is not None and not self._customer_pending:
                self.final_words.set()
            self.metrics.error("transcription_failed", self.ms())
        elif type(ev) is rt.ResponseCreated:
            self._on_response_created(ev)
        elif type(ev) is rt.OutputItemAdded:
            self._on_item_added(ev, now)
        elif type(ev) is rt.AudioDone:
            mark = self.playback.audio_done(ev.item_id, now)
            if mark is not None:
                self.send_twilio(media.encode_mark(self.stream_sid, mark))
        elif type(ev) is rt.AudioTranscriptDone:
            if ev.response_id not in self._muted:
                self._ai_text.setdefault(ev.response_id, []).append((ev.item_id, ev.transcript.strip()))
        elif type(ev) is rt.FunctionCallArgumentsDone:
            self._on_function_call(ev.call_id, ev.name, ev.arguments, ev.response_id)
        elif type(ev) is rt.OutputItemDone:
            item = ev.item
            if item.type == "function_call" and item.call_id:
                # Normally answered at arguments.done already (the control object drops repeats).
                self._on_function_call(item.call_id, item.name or "", item.arguments or "", ev.response_id)
        elif type(ev) is rt.ResponseDone:
            self._on_response_done(ev)
        elif type(ev) in (rt.SessionCreated, rt.SessionUpdated):
            self._on_session(ev)  # type: ignore[arg-type]
        elif type(ev) is rt.Error:
            code = ev.error.code or ev.error.type
            if self.final_words is not None and not self._customer_pending:
                self.final_words.set()  # e.g. nothing left to commit after a hang-up
            if code == "session_expired":
                self.expect_renewal()  # the server closes next: reconnect without counting a fault
            elif code not in _IGNORED_ERROR_CODES:
                self.metrics.error(f"realtime_error_{code}"[:60], self.ms())
                self.log.warning("realtime error event (%s)", code)
        return None

    def _on_response_created(self, ev: rt.ResponseCreated) -> None:
        self._api_answered("response")
        rid = ev.response.id or ""
        if self._end_response is not None and rid != self._end_response:
            # The model speaks again after end_call: not played, not kept; the call still ends.
            self._muted.add(rid)
            self.send_realtime(rt.response_cancel())
            self.metrics.count("spoke_after_end_call")
            return
        self._response_active = True
        self._cut_by_loss = False
        self._reminder_response = self._reminder_requested
        self._reminder_requested = False
        if self._reminder_response:
            self._reminder_responses.add(rid)

    def _on_item_added(self, ev: rt.OutputItemAdded, now: float) -> None:
        item = ev.item
        if not item.id or item.role != "assistant":
            return  # function calls are handled when their arguments are done
        if ev.response_id in self._muted:
            self.playback.cut_items.add(item.id)  # its deltas are dropped on the hot path
            return
        self._item_ms[item.id] = self.ms()
        self.transcript.reserve(Speaker.AI, item.id, self.ms(), now)
        self._spoke_in.add(ev.response_id)
        self._ai_spoke = True
        if self._first_ai_item is None:
            self._first_ai_item = item.id
            self.control.opening_started()
        if self._reminder_response:
            self._reminder_items.add(item.id)

    def _on_function_call(self, call_id: str, name: str, arguments: str, response_id: str) -> None:
        reply, effects = self.control.function_call(call_id, name, arguments, response_id)
        if reply is None:
            return
        self.metrics.count(f"tool_{name[:20]}" if reply.accepted else "tool_call_rejected")
        if not reply.accepted:
            self.log.warning("tool call %s rejected (bad arguments)", name[:40])
        self.send_realtime(rt.function_output(reply.call_id, reply.output))
        self.apply(effects)

    def _on_response_done(self, ev: rt.ResponseDone) -> None:
        rid = ev.response.id or ""
        if rid in self._muted:
            return
        self._response_active = False
        self.apply(self.control.response_finished())
        self._fill_ai_lines(rid)
        completed = ev.response.status in (None, "completed")
        if self.control.wants_response(rid, completed=completed, had_speech=rid in self._spoke_in):
            self.send_realtime(rt.response_create())  # the model waits for our tool outputs
            self.api_sent("response")
        if self.pending_end is not None and not self._end_response_done:
            if self._end_response is None or self._end_response == rid:
                self._end_response_done = True
        self.check_end()

    def _fill_ai_lines(self, response_id: str) -> None:
        lines = self._ai_text.pop(response_id, [])
        closing = self.control.end_response_id == response_id or self.control.interview_done
        for item_id, text in lines:
            kind = MessageType.QUESTION
            if item_id == self._first_ai_item or closing or response_id in self._reminder_responses:
                kind = MessageType.SYSTEM
            self.transcript.fill(
                Speaker.AI,
                item_id,
                text,
                kind,
                now=self.clock.monotonic(),
                timestamp_ms=self._item_ms.get(item_id, self.ms()),
            )

    # ------------------------------------------------------------------ control effects and ending
    def apply(self, effects: list[Effect]) -> None:
        if not effects:
            return
        for effect in effects:
            if type(effect) is ConsentDecided:
                if effect.record.answer is ConsentAnswer.GRANTED:
                    self.transcript.release()
            elif type(effect) is EndRequested:
                self.request_end(effect.event, effect.response_id)
            elif type(effect) is OptOutRequested:
                self.opt_out()
            # ProgressMade: only persisted, below.
        if self.control.interview_done:
            self.timers.interview_done()
        self.persist(effects)

    def request_end(self, event: Event, response_id: str | None) -> None:
        """End once ``response_id`` (None: the next response) is done and its audio heard."""
        if self.pending_end is not None and event is not Event.OPTED_OUT:
            return
        self.end_after_closing(event)
        self._end_response = response_id
        self._end_response_done = False

    def check_end(self) -> None:
        if self.pending_end is not None and self._end_response_done and not self.playback.playing():
            self.end(self.pending_end)

    def hang_up_event(self) -> Event:
        """What the customer hanging up means now (no end was requested)."""
        if self.control.done_with_last_answer and self.control.consented:
            return Event.HUNG_UP_AFTER_INTERVIEW
        return Event.CUSTOMER_HUNG_UP

    def silence_event(self) -> Event:
        """The long silence timer ran out: an interview the customer took part in is complete."""
        return Event.INTERVIEW_DONE if self.control.took_part else Event.SILENCE_TIMEOUT

    def _on_session(self, ev: rt.SessionCreated | rt.SessionUpdated) -> None:
        if type(ev) is rt.SessionUpdated:
            self._api_answered("session")
        sid = ev.session.id
        if sid and sid not in self.openai_session_ids:
            self.openai_session_ids.append(sid)
        if ev.session.expires_at:
            # expires_at is wall-clock unix seconds; convert to our clock, renew a quarter before it.
            lifetime = ev.session.expires_at - time.time()
            if lifetime > 0:
                self.realtime_expires_at = self.clock.monotonic() + lifetime
                self.renew_margin = min(RENEW_MARGIN_SECONDS, lifetime / 4)

    def _on_audio(self, ev: rt.AudioDelta) -> str | tuple[str, ...] | None:
        playback = self.playback
        if ev.item_id in playback.cut_items:
            return None
        now = self.clock.monotonic()
        start = playback.before_audio(ev.item_id, now)
        if start is not None:
            if self._turn_stopped_at is not None:
                self.metrics.on_turn_latency((now - self._turn_stopped_at) * 1000)
                self._turn_stopped_at = None
            if ev.item_id not in self._reminder_items:
                self._ai_busy = True
                self.timers.ai_started(now)
        frame = media.encode_media(self.stream_sid, ev.delta)
        group = playback.after_audio(media.b64_len_to_bytes(len(ev.delta), ev.delta), now)
        if start is None and group is None:
            return frame
        frames = [frame]
        if start is not None:
            frames.insert(0, media.encode_mark(self.stream_sid, start))
        if group is not None:
            frames.append(media.encode_mark(self.stream_sid, group))
        return tuple(frames)

    def _barge_in(self) -> None:
        cut = self.playback.cut()
        if cut is None:
            return
        item_id, played_ms = cut
        self.clear_twilio()
        self.send_realtime(rt.truncate(item_id, played_ms))
        if self._response_active:
            self.send_realtime(rt.response_cancel())
        self._ai_stopped(heard=False)
        self.barge_ins.append((item_id, played_ms))
        self.log.info("barge-in: truncated the AI at %d ms", played_ms)

    def _on_customer_text(self, ev: rt.TranscriptionCompleted) -> None:
        self._customer_pending.discard(ev.item_id)
        if self.final_words is not None and not self._customer_pending:
            self.final_words.set()
        text = ev.transcript.strip()
        self.metrics.customer_lines += 1
        timestamp_ms = self._speech_ms.get(ev.item_id, self.ms())
        spoken = ev.language
        if spoken is None and text and language.fallback_enabled():
            # The transcription did not say: identify it off the loop; the slot keeps the order.
            self.spawn(self._fill_detected(ev.item_id, text, timestamp_ms, ev.confidence), "language")
        else:
            self._fill_customer(ev.item_id, text, timestamp_ms, ev.confidence, spoken or "sv")
        if text and self._ai_spoke:
            self._ai_spoke = False
            self.apply(self.control.customer_round())
        if is_opt_out(text):
            # Safety net: the model should call end_call(opted_out); never call this number again anyway.
            self.log.info("opt-out by voice")
            self.metrics.count("spoken_opt_out")
            self.opt_out()
            self.request_end(Event.OPTED_OUT, None)

    def _fill_customer(
        self, item_id: str, text: str, timestamp_ms: int, confidence: float | None, spoken: str
    ) -> None:
        if spoken != "sv":
            self.metrics.language_drift += 1
        self.transcript.fill(
            Speaker.CUSTOMER,
            item_id,
            text,
            MessageType.RESPONSE,
            now=self.clock.monotonic(),
            timestamp_ms=timestamp_ms,
            confidence=confidence,
            language=spoken,
        )

    async def _fill_detected(
        self, item_id: str, text: str, timestamp_ms: int, confidence: float | None
    ) -> None:
        spoken = await language.detect_async(text)
        self._fill_customer(item_id, text, timestamp_ms, confidence, spoken or "sv")
