"""One call from dial to hang-up, with its own supervisor.

``CallSession.run()`` is the supervisor: it drives the state machine (every
change persisted before it is acted on), places the call, waits for Twilio's
callbacks and the media stream, runs the :class:`~engine.session.bridge.Bridge`,
hangs up, writes the last transcript lines and the call metrics, and returns a
:class:`SessionOutcome`. Any error inside ends the session ``failed`` with a
reason; it never escapes to the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Coroutine, MutableMapping
from datetime import timedelta
from typing import Any

import msgspec

from engine.clock import Clock
from engine.config import Settings
from engine.dispatch.breaker import REALTIME, TWILIO, CircuitBreaker, ProviderUnavailableError, probe_gate
from engine.dispatch.ports import NotDialledError
from engine.domain import FailureReason, SessionStatus
from engine.errors import CallEngineError
from engine.realtime.connection import RealtimeConnector
from engine.session.bridge import Bridge
from engine.session.control import ConsentAnswer, ConsentDecided, Effect, InterviewControl, ProgressMade
from engine.session.conversation import APOLOGY
from engine.session.durable import held, identify_call
from engine.session.media_socket import MediaSocket
from engine.session.metrics import CallMetrics
from engine.session.plan import SessionPlan
from engine.session.preopen import PreOpenedRealtime
from engine.session.sip import SipBridge, SipCalls, sip_headers, sip_uri
from engine.session.state import CallState, Event, Phase, retry_due, transition
from engine.session.store import SessionStore, TranscriptLine
from engine.session.transcript import TranscriptLog
from engine.telephony import twiml
from engine.telephony.attempt_token import AttemptTokens
from engine.telephony.media import Start, safe_stream_sid
from engine.telephony.rest import TwilioCalls

_log = logging.getLogger("engine.session")

STORE_HOLD_SECONDS = 600.0
"""How long a status change is held (and retried) while the database is unreachable."""
PREDIAL_HOLD_SECONDS = 20.0
"""How long the reads a dial needs are retried while the database is unreachable (then: not dialled)."""
GIVE_BACK_SECONDS = 30.0
"""A session not dialled because a provider failed is due again this much later."""
STREAM_WAIT_SECONDS = 15.0
"""After the answered callback, how long to wait for the media stream."""
WRITES_TIMEOUT_SECONDS = 5.0
"""At the end of a conversation, how long its consent/progress/opt-out writes may take to finish."""
RING_GRACE_SECONDS = 30.0
RING_TIMEOUT_SECONDS = 45
MACHINE_ANSWERS = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")


class CallRequest(msgspec.Struct, frozen=True):
    session_id: str
    store_id: str
    phone_e164: str
    attempt: int = 1
    """1 for the first call, 2.. for retries (at most MAX_RETRIES + 1 in total)."""
    inbound_call_sid: str | None = None
    """A call-back the customer placed (already answered): no dialling, the stream comes next."""


class SessionOutcome(msgspec.Struct, frozen=True):
    session_id: str
    store_id: str
    status: SessionStatus
    failure_reason: FailureReason | None
    retry_due: bool
    attempt: int
    call_sid: str | None = None
    duration_seconds: int | None = None
    openai_session_id: str | None = None
    opted_out: bool = False
    callback_after_seconds: int | None = None
    """With ``callback_requested``: when the customer asked to be called (the retry's earliest time)."""


class StatusCallback(msgspec.Struct, frozen=True):
    call_status: str
    sequence: int = 0
    answered_by: str | None = None
    call_sid: str | None = None
    """Twilio's CallSid; a callback for another call than this attempt's is dropped."""
    attempt: int | None = None
    """The attempt the callback's token names (the host checks the token); None if unknown."""


class _StreamAttached(msgspec.Struct):
    ws: MediaSocket
    start: Start


class _SipAttached(msgspec.Struct):
    call_id: str


class _Shutdown(msgspec.Struct):
    cancel: bool = False
    """True: the call was cancelled (not retried); False: the host is going away (retried if unanswered)."""


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


class CallSession:
    def __init__(self, request: CallRequest, deps: SessionDeps) -> None:
        self.request = request
        self.id = request.session_id
        self._deps = deps
        self.log = _SessionLog(_log, {"session_id": request.session_id, "store_id": request.store_id})
        self.state = CallState()
        self.call_sid: str | None = None
        self.dialled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inbox: asyncio.Queue[StatusCallback | _StreamAttached | _SipAttached | _Shutdown] = (
            asyncio.Queue()
        )
        self._stream_released = asyncio.Event()
        self._stream_taken = False
        self.metrics = CallMetrics()
        self.transcript = TranscriptLog()
        self.bridge: Bridge | None = None
        self._connected_at: float | None = None
        self._unflushed: list[TranscriptLine] = []
        self._unpersisted: list[Effect] = []
        """Consent and progress writes the database could not take yet (written before the end)."""
        self._opted_out = False
        self.control: InterviewControl | None = None
        self._writes: set[asyncio.Task[None]] = set()
        """Consent, progress and opt-out writes started during the call (awaited before it ends)."""
        self._last_sequence = -1
        self._sid_recorded = False
        self._answered = False
        self._resumed_from = 0
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
        self._inbox.put_nowait(_Shutdown())

    def cancel(self) -> None:
        """Stop this call for good: cancel the ringing call (failed/canceled, no retry) or end it now."""
        self._inbox.put_nowait(_Shutdown(cancel=True))

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
        self._inbox.put_nowait(_SipAttached(call_id))
        return True

    async def serve_stream(self, ws: MediaSocket, start: Start) -> None:
        """Hand the stream to the session; returns when the session no longer needs the socket."""
        self._stream_taken = True
        self._inbox.put_nowait(_StreamAttached(ws, start))
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
            await self._held(write, f"{event.value} status")
        self.log.info("%s: %s -> %s", event.value, self.state.phase.value, new.phase.value)
        self.state = new

    async def _held(self, write: Any, what: str, hold_s: float | None = None) -> Any:
        return await held(
            write,
            clock=self._deps.clock,
            what=what,
            hold_s=STORE_HOLD_SECONDS if hold_s is None else hold_s,
            log=self.log,
            on_retry=lambda: self.metrics.error("store_write_held"),
        )

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
                        await self._flush_final()
                    await self._apply(Event.CLOSED)
        if not self.state.terminal:
            # Storage stayed unreachable: report the outcome anyway. The session leaves its
            # host, so its lease runs out and the Dispatcher's reconciler settles it.
            self.state = CallState(Phase.FAILED, SessionStatus.FAILED, FailureReason.INTERNAL)

    async def _run(self) -> None:
        deps = self._deps
        try:
            before = await self._held(self._read_before_dial, "reads before dialling", PREDIAL_HOLD_SECONDS)
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
            self._opted_out = True
            await self._apply(Event.OPTED_OUT)
            self.dialled.set_result(None)  # handled: the outcome says opted_out
            return
        plan = SessionPlan(context, self.id, deps.settings, progress)
        self.transcript = TranscriptLog(start_order=start_order, held=True)  # nothing kept before consent
        self._resumed_from = start_order
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
                await self._flush_final()
            await self._apply(Event.CLOSED)

    async def _read_before_dial(self) -> tuple[bool, Any, Any, int]:
        """What a dial needs from storage: the opt-out, the store's context, the interview's
        progress (a retry continues it: answered questions are not asked again) and the last
        stored line (a retry's transcript continues after it)."""
        store = self._deps.store
        opted_out = await store.is_opted_out(self.request.phone_e164)
        if opted_out:
            return True, None, None, 0
        context = await store.load_context(self.id, self.request.store_id)
        progress = await store.load_progress(self.id) if self.request.attempt > 1 else None
        return False, context, progress, await store.last_message_order(self.id)

    async def _open_realtime(self, plan: SessionPlan) -> bool:
        """Open and configure the Realtime session before dialling; on failure give the
        session back (not dialled) and return False."""
        try:
            await self._realtime.open(plan.session_update())
        except (CallEngineError, OSError, TimeoutError) as exc:
            self.log.warning("realtime unavailable before dialling (%s); not dialling", type(exc).__name__)
            self.metrics.error("realtime_unavailable_at_dial")
            await self._give_back(ProviderUnavailableError(REALTIME, f"open failed ({type(exc).__name__})"))
            return False
        return True

    async def _probe_realtime(self) -> bool:
        """SIP mode: a Realtime socket opened and closed through the host's breaker before
        dialling; on failure the session is given back (not dialled)."""
        deps = self._deps
        breaker = deps.realtime_breaker or CircuitBreaker(REALTIME)

        async def probe() -> None:
            ws = await deps.connector()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await ws.close()

        try:
            await probe_gate(breaker, probe, deps.clock.monotonic())
        except ProviderUnavailableError as exc:
            self.log.warning("realtime unavailable before dialling (%s); not dialling", exc.detail)
            self.metrics.error("realtime_unavailable_at_dial")
            await self._give_back(exc)
            return False
        return True

    async def _give_back(self, exc: ProviderUnavailableError) -> None:
        reason = (
            FailureReason.TWILIO_UNAVAILABLE if exc.provider == TWILIO else FailureReason.REALTIME_UNAVAILABLE
        )
        new = transition(self.state, Event.PROVIDER_UNAVAILABLE)
        old = self.state
        await self._held(
            lambda: self._deps.store.give_back(self.id, old, reason.value, GIVE_BACK_SECONDS),
            "give back",
            60.0,
        )
        self.state = new
        self._given_back = reason
        self.dialled.set_exception(exc)
        self.dialled.exception()

    async def _dial(self) -> None:
        deps = self._deps
        await self._apply(
            Event.DIAL, call_initiated_at=self._deps.clock.now(), retry_count=self.request.attempt - 1
        )
        # One token per attempt: the stream and every callback must name this attempt.
        token = deps.tokens.issue(self.id, self.request.attempt)
        time_limit = int(deps.settings.session.max_call_seconds) + 60
        if self.media == "sip":
            headers = sip_headers(self.id, self.request.attempt, token)
            call_twiml = twiml.sip_twiml(sip_uri(deps.settings.openai), headers, time_limit)
        else:
            call_twiml = twiml.stream_twiml(twiml.media_url(deps.public_url, self.id), token)
        try:
            self.call_sid = await deps.twilio.create_call(
                to=self.request.phone_e164,
                twiml=call_twiml,
                status_callback=twiml.status_url(deps.public_url, self.id, token),
                timeout_s=RING_TIMEOUT_SECONDS,
                time_limit_s=time_limit,
                identify=self._identify,
            )
        except ProviderUnavailableError as exc:
            self.log.warning("twilio kept failing; not dialled: %s", exc)
            await self._give_back(exc)
            return
        except CallEngineError as exc:
            self.log.warning("twilio refused the call: %s", exc)
            await self._apply(Event.DIAL_REJECTED)
            self.dialled.set_exception(exc)
            self.dialled.exception()
            return
        self.log.info("dialled (call %s)", self.call_sid)
        sid = self.call_sid
        try:  # stored now, so a lost host's call can be ended by SID
            await self._held(lambda: self._deps.store.record_call_sid(self.id, sid), "call sid", 30.0)
            self._sid_recorded = True
        except CallEngineError as exc:
            self.log.warning("call sid not stored yet: %s", exc)
        self.dialled.set_result(None)

    async def _answer_inbound(self, call_sid: str) -> None:
        """The customer called us: the call is live already; record it as an answered attempt."""
        self.call_sid = call_sid
        await self._apply(
            Event.DIAL, call_initiated_at=self._deps.clock.now(), retry_count=self.request.attempt - 1
        )
        await self._apply(Event.ANSWERED)
        self.log.info("call-back from the customer taken as attempt %d", self.request.attempt)
        self.dialled.set_result(None)

    def stream_twiml(self) -> str:
        """``<Connect><Stream>`` to this host for this session (a call-back's answer to Twilio)."""
        deps = self._deps
        token = deps.tokens.issue(self.id, self.request.attempt)
        return twiml.stream_twiml(twiml.media_url(deps.public_url, self.id), token)

    async def _identify(self, wait_s: float) -> str | None:
        """After an ambiguous create: this attempt's own CallSid from its status callbacks."""
        found = await identify_call(
            self._inbox,
            lambda item: item.call_sid if isinstance(item, StatusCallback) and self._mine(item) else None,
            lambda item: isinstance(item, _Shutdown),
            clock=self._deps.clock,
            wait_s=wait_s,
        )
        self.log.warning(
            "ambiguous create: %s", "call identified by its callback" if found else "no call placed"
        )
        return found

    def _mine(self, cb: StatusCallback) -> bool:
        """A callback of this attempt (by marker, or by SID once known)."""
        if cb.attempt is not None and cb.attempt != self.request.attempt:
            return False
        return not (self.call_sid and cb.call_sid and cb.call_sid != self.call_sid)

    async def _until_answered(self) -> _StreamAttached | _SipAttached | None:
        clock = self._deps.clock
        deadline = clock.monotonic() + RING_TIMEOUT_SECONDS + RING_GRACE_SECONDS
        while self.state.phase in (Phase.DIALLING, Phase.RINGING, Phase.CONNECTED):
            wait = deadline - clock.monotonic()
            try:
                item = await asyncio.wait_for(self._inbox.get(), timeout=max(0.01, wait))
            except TimeoutError:
                self.log.warning("no answer and no callbacks in time; cancelling")
                await self._apply(
                    Event.INTERNAL_ERROR if self.state.phase is Phase.CONNECTED else Event.NO_ANSWER
                )
                return None
            if isinstance(item, _Shutdown) and item.cancel and self.state.phase is not Phase.CONNECTED:
                await self._end_line(say=None)  # cancel the ringing call at Twilio first
                await self._apply(Event.CANCELED)
            elif isinstance(item, _Shutdown):
                await self._apply(Event.SHUTDOWN)
            elif isinstance(item, _StreamAttached | _SipAttached):
                if self.state.phase is not Phase.CONNECTED:
                    await self._apply(Event.ANSWERED)
                return item
            else:
                event = self._callback_event(item)
                if event is not None:
                    await self._apply(event)
                    if event is Event.ANSWERED:
                        deadline = clock.monotonic() + STREAM_WAIT_SECONDS
        return None

    def _callback_event(self, cb: StatusCallback) -> Event | None:
        if not self._mine(cb):
            self.log.warning("status callback from another attempt ignored")
            return None
        if cb.sequence < self._last_sequence and cb.call_status in ("ringing", "initiated"):
            return None  # a late, out-of-order progress callback
        self._last_sequence = max(self._last_sequence, cb.sequence)
        status = cb.call_status
        if cb.answered_by and cb.answered_by in MACHINE_ANSWERS:
            return Event.VOICEMAIL
        return {
            "ringing": Event.RINGING,
            "in-progress": Event.ANSWERED,
            "answered": Event.ANSWERED,
            "busy": Event.BUSY,
            "no-answer": Event.NO_ANSWER,
            "failed": Event.CALL_FAILED,
            "canceled": Event.CANCELED,
            "completed": Event.CLOSED,
        }.get(status)

    async def _converse(self, stream: _StreamAttached | _SipAttached, plan: SessionPlan) -> None:
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
            flush=self._flush,
            opt_out=self._opt_out_soon,
            started_at=self._connected_at,
            persist=self._persist_soon,
        )
        bridge: Bridge
        if isinstance(stream, _SipAttached):
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
            if self._writes:  # the bridge's end does not cancel them: they finish first
                await asyncio.wait(set(self._writes), timeout=WRITES_TIMEOUT_SECONDS)
        self.log.info("conversation ended: %s", event.value)
        await self._persist(control.finish())
        if not control.consented:
            self.transcript.discard()  # a refusal (or no answer) keeps only the consent record
        if event is Event.OPTED_OUT and not self._opted_out:
            await self._record_opt_out()
        if event in (Event.CUSTOMER_HUNG_UP, Event.HUNG_UP_AFTER_INTERVIEW):
            self._stream_released.set()
            await self._flush_final()  # before the terminal status, which starts the analysis
        await self._apply(event)

    async def _control_during_call(self, bridge: Bridge) -> None:
        while True:
            item = await self._inbox.get()
            if isinstance(item, _Shutdown):
                bridge.end(Event.SHUTDOWN)
            elif isinstance(item, StatusCallback):
                event = self._callback_event(item)
                if event is Event.VOICEMAIL:
                    bridge.end(Event.VOICEMAIL)
                elif event in (Event.CLOSED, Event.CALL_FAILED, Event.NO_ANSWER, Event.BUSY, Event.CANCELED):
                    bridge.line_down()
            elif isinstance(item, _StreamAttached | _SipAttached):
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

    # ------------------------------------------------------------------ persistence helpers
    async def _flush(self, lines: list[TranscriptLine]) -> None:
        batch = [*self._unflushed, *lines]
        try:
            await self._deps.store.add_transcript_lines(self.id, batch)
            self._unflushed = []
        except CallEngineError as exc:
            self._unflushed = batch
            self.metrics.error("transcript_flush_failed")
            self.log.warning("transcript flush failed (%d lines kept): %s", len(batch), exc)

    async def _flush_final(self) -> None:
        # After the line is down (never keep a customer waiting on storage), before the terminal status.
        await self._persist_kept()
        await self._flush(self.transcript.take(self._deps.clock.monotonic(), final=True))
        if self._unflushed:
            # The last lines are held like a status change: the terminal status (which
            # starts the analysis) is written only after every spoken line is stored.
            batch = list(self._unflushed)
            try:
                await self._held(
                    lambda: self._deps.store.add_transcript_lines(self.id, batch), "final transcript"
                )
                self._unflushed = []
            except CallEngineError as exc:
                self.log.error("%d transcript lines could not be stored: %s", len(batch), exc)
        if self._connected_at is not None:
            record = self.metrics.record()
            try:
                await self._held(
                    lambda: self._deps.store.add_call_metrics(self.id, record), "call metrics", 60.0
                )
            except CallEngineError as exc:
                self.log.warning("call metrics not stored: %s", exc)

    def _write_soon(self, write: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(write, name=f"{name}-{self.id}")
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    def _persist_soon(self, effects: list[Effect]) -> None:
        if any(type(e) in (ConsentDecided, ProgressMade) for e in effects):
            self._write_soon(self._persist(effects), "persist")

    async def _opt_out_soon(self) -> None:
        self._write_soon(self._record_opt_out_logged(), "opt-out")

    async def _record_opt_out_logged(self) -> None:
        try:
            await self._record_opt_out()
        except CallEngineError as exc:  # written again when the call ends with the opt-out
            self.metrics.error("opt_out_write_failed")
            self.log.warning("opt-out not stored yet: %s", exc)

    async def _persist(self, effects: list[Effect]) -> None:
        """Consent records and interview progress, written as they happen. While the database is
        away they are kept (and the rest with them: one timeout, not one per write) and written,
        held, before the terminal status (:meth:`_persist_kept`): the consent record is the proof
        GDPR asks for, and progress is what a retry continues from."""
        writes = [e for e in effects if type(e) in (ConsentDecided, ProgressMade)]
        if self._unpersisted:  # the database is known to be away: queue behind, in order
            self._unpersisted.extend(writes)
            return
        for i, effect in enumerate(writes):
            try:
                await self._write_effect(effect)
            except CallEngineError as exc:
                self.metrics.error(
                    "progress_write_failed" if type(effect) is ProgressMade else "consent_write_failed"
                )
                self.log.warning("%s not stored: %s", type(effect).__name__, exc)
                if exc.retryable:
                    self._unpersisted.extend(writes[i:])
                    return

    async def _write_effect(self, effect: Effect) -> None:
        store, attempt = self._deps.store, self.request.attempt
        if type(effect) is ConsentDecided:
            await store.record_consent(self.id, attempt, effect.record)  # first per attempt stands
            if effect.record.answer is not ConsentAnswer.GRANTED:
                self.log.info("consent %s", effect.record.answer.value)
        elif type(effect) is ProgressMade:
            await store.record_progress(self.id, attempt, effect.update)

    async def _persist_kept(self) -> None:
        """What :meth:`_persist` could not write during the call, held like the last lines."""
        if not self._unpersisted:
            return
        kept, self._unpersisted = self._unpersisted, []

        async def write_all() -> None:
            for effect in kept:
                await self._write_effect(effect)

        try:
            await self._held(write_all, "consent and progress")
        except CallEngineError as exc:
            self.log.error("%d consent/progress records could not be stored: %s", len(kept), exc)

    async def _record_opt_out(self) -> None:
        if self._opted_out:
            return
        await self._deps.store.add_opt_out(self.id, self.request.phone_e164)  # idempotent
        self._opted_out = True  # only once written: a write cut short is written again at the end
        self.log.info("opt-out recorded")

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
            opted_out=self._opted_out,
            callback_after_seconds=self._callback_after(state),
        )

    def _callback_after(self, state: CallState) -> int | None:
        """Seconds after the end at which the customer asked to be called back, if they named a time."""
        if state.reason is not FailureReason.CALLBACK_REQUESTED or self.control is None:
            return None
        minutes = self.control.callback_in_minutes
        return None if minutes is None else minutes * 60
