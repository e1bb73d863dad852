"""Why a due call is not being dialled: the Dispatcher's open provider breaker, for GetCall.

A session the Dispatcher never tried because a provider's circuit breaker is open has
nothing of its own to say why it waits. GetCall asks the Dispatcher (cached for a second, so
many readers cost one actor call a second; a failed or slow answer says nothing rather than
failing the read) and shows ``realtime_unavailable`` / ``twilio_unavailable`` as the
session's failure reason while it is pending, due, and held.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

import msgspec

from engine.api.ports import DispatcherPort
from engine.domain import SessionStatus
from storage.records import CallSessionRecord

log = logging.getLogger("engine.api")

TTL_SECONDS = 1.0
"""How long one answer of the Dispatcher is reused."""
ASK_TIMEOUT_SECONDS = 1.0


class HeldReason:
    def __init__(self, dispatcher: DispatcherPort) -> None:
        self.dispatcher = dispatcher
        self._cached: tuple[float, str | None] | None = None

    async def current(self) -> str | None:
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < TTL_SECONDS:
            return self._cached[1]
        try:
            async with asyncio.timeout(ASK_TIMEOUT_SECONDS):
                reason = await self.dispatcher.held_reason()
        except Exception as exc:  # the reason is extra information: never fail the read for it
            log.debug("dispatcher held_reason unavailable: %s", type(exc).__name__)
            reason = None
        self._cached = (time.monotonic(), reason)
        return reason

    async def apply(self, rec: CallSessionRecord, now: dt.datetime) -> CallSessionRecord:
        """``rec`` with the breaker's reason if it waits, due, in the queue; else unchanged."""
        due = (
            rec.session_status is SessionStatus.PENDING
            and rec.next_attempt_at is not None
            and rec.next_attempt_at <= now
        )
        if not due:
            return rec
        reason = await self.current()
        return rec if reason is None else msgspec.structs.replace(rec, failure_reason=reason)
