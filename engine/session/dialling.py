"""The dial path of a call session: from the reads before dialling to the answer.

Nobody's phone rings unless the session can hold the conversation: the AI comes
first (a Realtime session opened and configured before dialling, or over SIP the
API probed through the host's breaker), and a provider that keeps failing gives
the session back to the queue, not dialled. Then the call is placed (or a
customer's call-back taken as the attempt) and Twilio's status callbacks drive
the state machine until the media stream or the SIP call arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from engine.dispatch.breaker import REALTIME, TWILIO, CircuitBreaker, ProviderUnavailableError, probe_gate
from engine.domain import FailureReason
from engine.errors import CallEngineError
from engine.session.call_messages import (
    CallRequest,
    InboxItem,
    Shutdown,
    SipAttached,
    StatusCallback,
    StreamAttached,
)
from engine.session.durable import identify_call
from engine.session.metrics import CallMetrics
from engine.session.plan import SessionPlan
from engine.session.preopen import PreOpenedRealtime
from engine.session.sip import sip_headers, sip_uri
from engine.session.state import CallState, Event, Phase, transition
from engine.session.writes import SessionWrites
from engine.telephony import twiml

if TYPE_CHECKING:
    from engine.session.call import SessionDeps

GIVE_BACK_SECONDS = 30.0
"""A session not dialled because a provider failed is due again this much later."""
STREAM_WAIT_SECONDS = 15.0
"""After the answered callback, how long to wait for the media stream."""
RING_GRACE_SECONDS = 30.0
RING_TIMEOUT_SECONDS = 45
MACHINE_ANSWERS = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")


class Dialling:
    """The dial path of :class:`~engine.session.call.CallSession` (a part of it, not used alone)."""

    # Provided by CallSession.
    request: CallRequest
    id: str
    _deps: SessionDeps
    log: logging.LoggerAdapter[logging.Logger]
    metrics: CallMetrics
    writes: SessionWrites
    state: CallState
    call_sid: str | None
    dialled: asyncio.Future[None]
    media: str
    _inbox: asyncio.Queue[InboxItem]
    _realtime: PreOpenedRealtime
    _given_back: FailureReason | None
    _sid_recorded: bool
    _last_sequence: int

    async def _apply(self, event: Event, **fields: Any) -> None:
        raise NotImplementedError

    async def _end_line(self, say: str | None) -> None:
        raise NotImplementedError

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
        await self.writes.held(
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
            await self.writes.held(lambda: self._deps.store.record_call_sid(self.id, sid), "call sid", 30.0)
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
            lambda item: isinstance(item, Shutdown),
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

    async def _until_answered(self) -> StreamAttached | SipAttached | None:
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
            if isinstance(item, Shutdown) and item.cancel and self.state.phase is not Phase.CONNECTED:
                await self._end_line(say=None)  # cancel the ringing call at Twilio first
                await self._apply(Event.CANCELED)
            elif isinstance(item, Shutdown):
                await self._apply(Event.SHUTDOWN)
            elif isinstance(item, StreamAttached | SipAttached):
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
