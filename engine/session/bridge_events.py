"""The bridge's event handling: what each Twilio frame and Realtime event does (no I/O here).

Handlers are synchronous; they update state and queue frames through the
bridge's ``send_*`` helpers. The hot paths (Twilio media in, Realtime audio
delta out) are a msgspec decode, a few comparisons and one string build.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from engine.clock import Clock
from engine.config import Settings
from engine.domain import MessageType, Speaker
from engine.realtime import events as rt
from engine.session.conversation import Script, classify_ai_line, is_goodbye, is_opt_out
from engine.session.metrics import CallMetrics
from engine.session.playback import MarkKind, Playback
from engine.session.state import Event
from engine.session.timers import CallTimers
from engine.session.transcript import TranscriptLog
from engine.telephony import media

RENEW_MARGIN_SECONDS = 120.0
_IGNORED_ERROR_CODES = frozenset(
    {"response_cancel_not_active", "item_truncate_invalid_item_id", "input_audio_buffer_commit_empty"}
)


class RealtimeHandler:
    # Provided by Bridge.
    settings: Settings
    script: Script
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

    def __init__(self) -> None:
        self._inbound_audio = ""
        self._speech_ms: dict[str, int] = {}
        self._turn_stopped_at: float | None = None
        self._heard_pending: float | None = None
        self._response_active = False
        self._reminder_response = False
        self._reminder_requested = False
        self._reminder_items: set[str] = set()
        self._closing_items: set[str] = set()
        self._item_ms: dict[str, int] = {}
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
        self.send_realtime(rt.say(self.script.reminder))
        self.api_sent("response")

    def needs_response_after_restore(self) -> bool:
        lines = self.transcript.conversation()
        return not lines or lines[-1].speaker is Speaker.CUSTOMER or self._response_active

    def on_realtime_lost(self) -> None:
        """The socket died: stop the half-played item (it is asked again on the new socket)."""
        self._response_active = False
        if self.playback.cut() is not None:
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
                self.end(self.pending_end or Event.CUSTOMER_HUNG_UP)
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
            if echo.item_id in self._closing_items:
                self.end(self.pending_end or Event.INTERVIEW_DONE)

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
            self._api_answered("response")
            self._response_active = True
            self._reminder_response = self._reminder_requested
            self._reminder_requested = False
        elif type(ev) is rt.OutputItemAdded:
            if ev.item.id and ev.item.role == "assistant":
                self._item_ms[ev.item.id] = self.ms()
                self.transcript.reserve(Speaker.AI, ev.item.id, self.ms(), now)
                if self._reminder_response:
                    self._reminder_items.add(ev.item.id)
        elif type(ev) is rt.AudioDone:
            mark = self.playback.audio_done(ev.item_id, now)
            if mark is not None:
                self.send_twilio(media.encode_mark(self.stream_sid, mark))
        elif type(ev) is rt.AudioTranscriptDone:
            self._on_ai_text(ev)
        elif type(ev) is rt.ResponseDone:
            self._response_active = False
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
        language = ev.language or "sv"
        if language != "sv":
            self.metrics.language_drift += 1
        self.metrics.customer_lines += 1
        self.transcript.fill(
            Speaker.CUSTOMER,
            ev.item_id,
            text,
            MessageType.RESPONSE,
            now=self.clock.monotonic(),
            timestamp_ms=self._speech_ms.get(ev.item_id, self.ms()),
            confidence=ev.confidence,
            language=language,
        )
        if is_opt_out(text):
            self.log.info("opt-out by voice")
            self.opt_out()
            self.end_after_closing(Event.OPTED_OUT)
        elif is_goodbye(text):
            self.end_after_closing(Event.INTERVIEW_DONE)

    def _on_ai_text(self, ev: rt.AudioTranscriptDone) -> None:
        kind = classify_ai_line(self.script, ev.transcript)
        self.transcript.fill(
            Speaker.AI,
            ev.item_id,
            ev.transcript.strip(),
            kind.message_type,
            now=self.clock.monotonic(),
            timestamp_ms=self._item_ms.get(ev.item_id, self.ms()),
        )
        if kind.closing:
            self._closing_items.add(ev.item_id)
            if ev.item_id in self.playback.heard_in_full:
                self.end(self.pending_end or Event.INTERVIEW_DONE)
        if kind.apology:
            self.end_after_closing(Event.REALTIME_LOST)
