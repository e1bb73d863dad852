"""One call from dial to hang-up, with its own supervisor.

``CallSession.run()`` is the supervisor: it drives the state machine (every
change persisted before it is acted on), places the call, waits for Twilio's
callbacks and the media stream, runs the :class:`~engine.session.bridge.Bridge`,
hangs up, writes the last transcript lines and the call metrics, and returns a
:class:`SessionOutcome`. Any error inside ends the session ``failed`` with a
reason; it never escapes to the host.

Its parts: the request, outcome and inbox items in :mod:`engine.session.call_messages`,
the dial path (reads, the AI first, dialling, callbacks until the answer) in
:mod:`engine.session.dialling`, the storage writes and how they get through an outage in
:mod:`engine.session.writes`; the conversation itself is the bridge's.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import MutableMapping
from datetime import timedelta
from typing import Any

from engine.clock import Clock
from engine.config import Settings
from engine.dispatch.breaker import CircuitBreaker
from engine.dispatch.ports import NotDialledError
from engine.domain import FailureReason, SessionStatus
from engine.errors import CallEngineError
from engine.realtime.connection import RealtimeConnector
from engine.session.bridge import Bridge
from engine.session.call_messages import (
    CallRequest,
    InboxItem,
    SessionOutcome,
    Shutdown,
    SipAttached,
    StatusCallback,
    StreamAttached,
)
from engine.session.control import InterviewControl
from engine.session.conversation import APOLOGY
from engine.session.dialling import Dialling
from engine.session.media_socket import MediaSocket
from engine.session.metrics import CallMetrics
from engine.session.plan import SessionPlan
from engine.session.preopen import PreOpenedRealtime
from engine.session.sip import SipBridge, SipCalls
from engine.session.state import CallState, Event, Phase, retry_due, transition
from engine.session.store import SessionStore
from engine.session.transcript import TranscriptLog
from engine.session.writes import STORE_HOLD_SECONDS, SessionWrites
from engine.telephony.attempt_token import AttemptTokens
from engine.telephony.media import Start, safe_stream_sid
from engine.telephony.rest import TwilioCalls

__all__ = ["CallRequest", "CallSession", "SessionDeps", "SessionOutcome", "StatusCallback"]

_log = logging.getLogger("engine.session")

PREDIAL_HOLD_SECONDS = 20.0
"""How long the reads a dial needs are retried while the database is unreachable (then: not dialled)."""
WRITES_TIMEOUT_SECONDS = 5.0
"""At the end of a conversation, how long its consent/progress/opt-out writes may take to finish."""


@dataclasses.dataclass
class SessionDeps:
    settings: Settings
    store: SessionStore
    twilio: TwilioCalls
    connector: RealtimeConnector
    clock: Clock
    tokens: AttemptTokens
    public_url: str
    """This host's public ``ws(s)://`` base."""
    sip: SipCalls | None = None
    """SIP media mode's OpenAI calls API (the host builds it when any store uses SIP)."""
    realtime_breaker: CircuitBreaker | None = None
    """The host's Realtime breaker: SIP mode probes the API through it before dialling."""


class _SessionLog(logging.LoggerAdapter[logging.Logger]):
    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = self.extra or {}
        # Also as record attributes: the JSON formatter writes them as fields.
        kwargs["extra"] = {**extra, **(kwargs.get("extra") or {})}
        return f"[session={extra.get('session_id')} store={extra.get('store_id')}] {msg}", kwargs


class CallSession(Dialling):
    """One call; its dial path is :class:`~engine.session.dialling.Dialling`, its storage
    writes :class:`~engine.session.writes.SessionWrites`."""

    def __init__(self, request: CallRequest, deps: SessionDeps) -> None:
        self.request = request
        self.id = request.session_id
        self._deps = deps
        self.log = _SessionLog(_log, {"session_id": request.session_id, "store_id": request.store_id})
        self.state = CallState()
        self.call_sid: str | None = None
        self.dialled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inbox: asyncio.Queue[InboxItem] = asyncio.Queue()
        self._stream_released = asyncio.Event()
        self._stream_taken = False
        self.metrics = CallMetrics()
        self.writes = SessionWrites(
            request.session_id,
            request.attempt,
            request.phone_e164,
            store=deps.store,
            clock=deps.clock,
            log=self.log,
            metrics=self.metrics,
        )
        self.transcript = TranscriptLog()
        self.bridge: Bridge | None = None
        self._connected_at: float | None = None
        self.control: InterviewControl | None = None
        self._last_sequence = -1
        self._sid_recorded = False
        self._answered = False
        self._given_back: FailureReason | None = None
        self._realtime = PreOpenedRealtime(deps.connector)
        self.media = deps.settings.session.media_mode_for(request.store_id)
        """``streams`` or ``sip`` (this store's media mode)."""
        if self.media == "sip" and (deps.sip is None or request.inbound_call_sid is not None):
            self.media = "streams"  # call-backs are answered with a stream (docs/session.md)

    # ------------------------------------------------------------------ inputs from the host
    def on_status(self, callback: StatusCallback) -> None:
        self._inbox.put_nowait(callback)

    def request_shutdown(self) -> None:
        self._inbox.put_nowait(Shutdown())

    def cancel(self) -> None:
        """Stop this call for good: cancel the ringing call (failed/canceled, no retry) or end it now."""
        self._inbox.put_nowait(Shutdown(cancel=True))

    def accepts_stream(self) -> bool:
        return (
            self.media == "streams"
            and not self._stream_taken
            and not self.state.terminal
            and self.state.phase is not Phase.CLOSING
        )

    def on_sip_call(self, call_id: str) -> bool:
        """OpenAI announced this attempt's SIP call (the host verified the webhook and token);
        False when the session cannot take it (not SIP, already has its call, or over)."""
        if self.media != "sip" or self._stream_taken or self.state.terminal:
            return False
        if self.state.phase is Phase.CLOSING:
            return False
        self._stream_taken = True
        self._inbox.put_nowait(SipAttached(call_id))
        return True

    async def serve_stream(self, ws: MediaSocket, start: Start) -> None:
        """Hand the stream to the session; returns when the session no longer needs the socket."""
        self._stream_taken = True
        self._inbox.put_nowait(StreamAttached(ws, start))
        await self._stream_released.wait()

    # ------------------------------------------------------------------ supervisor
    async def run(self) -> SessionOutcome:
        try:
            await self._run()
        except asyncio.CancelledError:
            self.log.warning("session cancelled")
            await self._fail_safely(Event.HOST_LOST)
            raise
        except Exception as exc:
            self.log.error(
                "session failed: %s", type(exc).__name__, exc_info=not isinstance(exc, CallEngineError)
            )
            await self._fail_safely(Event.INTERNAL_ERROR)
        finally:
            self._stream_released.set()
            if not self.dialled.done():
                self.dialled.set_exception(CallEngineError("call was not placed", retryable=True))
                self.dialled.exception()  # consumed here; start_call reads it too
        return self.outcome()

    async def _apply(self, event: Event, **fields: Any) -> None:
        new = transition(self.state, event)
        if new == self.state:
            return
        if self.call_sid is not None and not self._sid_recorded:
            fields["twilio_call_sid"] = self.call_sid
            self._sid_recorded = True
        if new.phase is Phase.CONNECTED:
            fields["call_connected_at"] = self._deps.clock.now()
            self._answered = True
        if new.terminal:
            fields["call_ended_at"] = self._deps.clock.now()
            fields["failure_reason"] = new.reason.value if new.reason else None
            if self._connected_at is not None:
                fields["duration_seconds"] = self._duration()
            if self.bridge is not None and self.bridge.openai_session_ids:
                fields["openai_session_id"] = self.bridge.openai_session_ids[-1]
            if (after := self._callback_after(new)) is not None:
                # Stored with the failed status, so the requested time outlives a lost outcome:
                # the Dispatcher (or its reconciler) schedules the retry from it.
                fields["next_attempt_at"] = fields["call_ended_at"] + timedelta(seconds=after)
        old = self.state
        write = lambda: self._deps.store.record_transition(self.id, old, new, fields)  # noqa: E731
        if new.status is old.status and not new.terminal and not fields:
            # A phase-only change (ringing, closing): never block the call on it. If storage
            # is away it is skipped; the next status write stores the phase it has by then.
            try:
                await write()
            except CallEngineError as exc:
                if not exc.retryable:
                    raise
                self.metrics.error("store_phase_skipped")
                self.log.warning("%s phase not stored (%s); carrying on", event.value, exc)
        else:
            await self.writes.held(write, f"{event.value} status")
        self.log.info("%s: %s -> %s", event.value, self.state.phase.value, new.phase.value)
        self.state = new

    async def _fail_safely(self, event: Event) -> None:
        if self.state.terminal:
            return
        # Cancelled (host shutting down): a few seconds; otherwise the full hold, so a
        # database outage at hang-up still ends with the right status once it returns.
        hold = 5.0 if event is Event.HOST_LOST else STORE_HOLD_SECONDS + 30.0
        with contextlib.suppress(Exception):
            async with asyncio.timeout(hold):
                if self.state.phase is not Phase.CLOSING:
                    await self._apply(event)
                if self.state.phase is Phase.CLOSING:
                    await self._end_line(say=None)
                    if self._connected_at is not None:
                        await self.writes.flush_final(self.transcript)
                    await self._apply(Event.CLOSED)
        if not self.state.terminal:
            # Storage stayed unreachable: report the outcome anyway. The session leaves its
            # host, so its lease runs out and the Dispatcher's reconciler settles it.
            self.state = CallState(Phase.FAILED, SessionStatus.FAILED, FailureReason.INTERNAL)

    async def _run(self) -> None:
        deps = self._deps
        try:
            before = await self.writes.held(
                self._read_before_dial, "reads before dialling", PREDIAL_HOLD_SECONDS
            )
        except CallEngineError as exc:
            if not exc.retryable:
                raise
            # The database stayed away: nothing was written, nobody rung. Not an attempt: the
            # Dispatcher gives the session back to the queue.
            self.log.warning("storage unreachable before dialling (%s); not dialled", exc)
            self.metrics.error("storage_unavailable_at_dial")
            self.dialled.set_exception(NotDialledError(f"session {self.id}: storage unreachable"))
            self.dialled.exception()
            return
        opted_out, context, progress, start_order = before
        if opted_out:
            self.log.info("number opted out; not dialling")
            self.writes.opted_out = True
            await self._apply(Event.OPTED_OUT)
            self.dialled.set_result(None)  # handled: the outcome says opted_out
            return
        plan = SessionPlan(context, self.id, deps.settings, progress)
        self.transcript = TranscriptLog(start_order=start_order, held=True)  # nothing kept before consent
        # The AI first: if the Realtime API is down, nobody's phone rings (a call-back is live already).
        # Over SIP the session exists only once the customer answers: the API is probed instead.
        if self.media == "sip":
            if not await self._probe_realtime():
                return
        elif not await self._open_realtime(plan):
            return
        try:
            if self.request.inbound_call_sid is not None:
                await self._answer_inbound(self.request.inbound_call_sid)
            else:
                await self._dial()
            stream = await self._until_answered()
            if stream is not None:
                await self._converse(stream, plan)
        finally:
            await self._realtime.close()
        if self.state.phase is Phase.CLOSING:
            await self._end_line(say=APOLOGY if self.state.reason is FailureReason.REALTIME_LOST else None)
            if self._connected_at is not None:
                await self.writes.flush_final(self.transcript)
            await self._apply(Event.CLOSED)

    async def _converse(self, stream: StreamAttached | SipAttached, plan: SessionPlan) -> None:
        deps = self._deps
        self._connected_at = deps.clock.monotonic()
        control = self.control = InterviewControl(plan.script, now=deps.clock.now)
        self.transcript.held = True  # nothing is kept before the customer has consented
        common: dict[str, Any] = dict(
            connector=self._realtime,
            settings=deps.settings,
            control=control,
            session_update=lambda: plan.session_update(control),
            clock=deps.clock,
            log=self.log,
            metrics=self.metrics,
            transcript=self.transcript,
            flush=self.writes.flush,
            opt_out=self.writes.opt_out_soon,
            started_at=self._connected_at,
            persist=self.writes.persist_soon,
        )
        bridge: Bridge
        if isinstance(stream, SipAttached):
            assert deps.sip is not None
            bridge = SipBridge(sip=deps.sip, call_id=stream.call_id, **common)
        else:
            bridge = Bridge(
                twilio_ws=stream.ws,
                stream_sid=safe_stream_sid(stream.start.start.streamSid or stream.start.streamSid),
                **common,
            )
        self.bridge = bridge
        inbox = asyncio.create_task(self._control_during_call(bridge), name=f"control-{self.id}")
        try:
            event = await bridge.run()
        finally:
            inbox.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await inbox
            await bridge.finish_side_tasks()
            await self.writes.wait_for_writes(WRITES_TIMEOUT_SECONDS)
        self.log.info("conversation ended: %s", event.value)
        await self.writes.persist(control.finish())
        if not control.consented:
            self.transcript.discard()  # a refusal (or no answer) keeps only the consent record
        if event is Event.OPTED_OUT and not self.writes.opted_out:
            await self.writes.record_opt_out()
        if event in (Event.CUSTOMER_HUNG_UP, Event.HUNG_UP_AFTER_INTERVIEW):
            self._stream_released.set()
            await self.writes.flush_final(
                self.transcript
            )  # before the terminal status, which starts the analysis
        await self._apply(event)

    async def _control_during_call(self, bridge: Bridge) -> None:
        while True:
            item = await self._inbox.get()
            if isinstance(item, Shutdown):
                bridge.end(Event.SHUTDOWN)
            elif isinstance(item, StatusCallback):
                event = self._callback_event(item)
                if event is Event.VOICEMAIL:
                    bridge.end(Event.VOICEMAIL)
                elif event in (Event.CLOSED, Event.CALL_FAILED, Event.NO_ANSWER, Event.BUSY, Event.CANCELED):
                    bridge.line_down()
            elif isinstance(item, StreamAttached | SipAttached):
                self.log.warning("second stream for a live call rejected")

    async def _end_line(self, say: str | None) -> None:
        """Hang up (or cancel) through Twilio REST; with ``say``, speak it first (AI is gone)."""
        self._stream_released.set()
        if self.call_sid is None:
            return
        answered = self._answered or self.state.reason is FailureReason.VOICEMAIL
        try:
            await self._deps.twilio.end_call(self.call_sid, answered=answered, say=say)
        except CallEngineError as exc:
            self.log.warning("hang-up failed: %s", exc)
            self.metrics.error("hangup_failed")

    def _duration(self) -> int:
        assert self._connected_at is not None
        return round(self._deps.clock.monotonic() - self._connected_at)

    def outcome(self) -> SessionOutcome:
        state = self.state
        return SessionOutcome(
            session_id=self.id,
            store_id=self.request.store_id,
            status=state.status,
            failure_reason=state.reason or self._given_back,
            retry_due=retry_due(state),
            attempt=self.request.attempt,
            call_sid=self.call_sid,
            duration_seconds=self._duration() if self._connected_at is not None else None,
            openai_session_id=(
                self.bridge.openai_session_ids[-1] if self.bridge and self.bridge.openai_session_ids else None
            ),
            opted_out=self.writes.opted_out,
            callback_after_seconds=self._callback_after(state),
        )

    def _callback_after(self, state: CallState) -> int | None:
        """Seconds after the end at which the customer asked to be called back, if they named a time."""
        if state.reason is not FailureReason.CALLBACK_REQUESTED or self.control is None:
            return None
        minutes = self.control.callback_in_minutes
        return None if minutes is None else minutes * 60
