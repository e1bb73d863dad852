"""The dispatcher's :class:`~engine.dispatch.ports.SessionQueue` over the PostgreSQL repositories.

Every method is one short transaction as the ``service`` principal. Claiming is
``FOR UPDATE SKIP LOCKED`` in ``SessionRepository.claim_due`` (which also fails
due sessions whose number opted out, in the same statement).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, distinct, or_, select

from engine.dispatch.ports import DueSession, JobStats, RetryContext, StaleSession
from engine.dispatch.windows import CallWindows
from engine.domain import FailureReason, SessionStatus
from engine.errors import CallEngineError, ConflictError, NotFoundError
from engine.logs import get_logger
from storage import Database, Principal
from storage.models import FeedbackCallSession
from storage.models.base import table_of

log = get_logger(__name__)

_C = table_of(FeedbackCallSession).c
# A session a host holds: claimed (pending, next_attempt_at cleared) or in progress.
_HELD = or_(
    _C.session_status == SessionStatus.IN_PROGRESS.value,
    and_(_C.session_status == SessionStatus.PENDING.value, _C.next_attempt_at.is_(None)),
)


class SqlSessionQueue:
    def __init__(
        self, db: Database, *, account: str = "", windows_ttl: float = 60.0, lease_seconds: float = 60.0
    ) -> None:
        self.db = db
        self.lease = timedelta(seconds=lease_seconds)
        self.account = account
        self._windows: dict[str, tuple[float, CallWindows]] = {}
        self._windows_ttl = windows_ttl

    def _tx(self):  # type: ignore[no-untyped-def]
        return self.db.transaction(Principal.service())

    async def claim_due(self, now: datetime, limit: int, host_id: str) -> list[DueSession]:
        async with self._tx() as tx:
            claimed = await tx.sessions.claim_due(now, limit, host_id, lease=self.lease)
        return [
            DueSession(
                str(c.session.id),
                str(c.session.customer_verification_id),
                str(c.session.store_id),
                c.session.retry_count,
                self.account,
            )
            for c in claimed
        ]

    async def defer(self, session_id: str, until: datetime) -> None:
        async with self._tx() as tx:
            await tx.sessions.defer(uuid.UUID(session_id), until, self.db.clock.now())

    async def schedule_retry(self, session_id: str, next_attempt_at: datetime, reason: FailureReason) -> None:
        try:
            async with self._tx() as tx:
                await tx.sessions.schedule_retry(
                    uuid.UUID(session_id), next_attempt_at, reason.value, self.db.clock.now()
                )
        except ConflictError as exc:
            # Already retried (an outcome seen twice after a restart) or out of retries: nothing to do.
            log.info("session %s: retry not scheduled: %s", session_id, exc)

    async def fail(self, session_id: str, reason: FailureReason) -> None:
        sid = uuid.UUID(session_id)
        try:
            async with self._tx() as tx:
                current = await tx.sessions.get(sid)
                if current.session_status in (SessionStatus.COMPLETED, SessionStatus.ABANDONED):
                    return
                await tx.sessions.transition(
                    sid,
                    current.session_status,
                    SessionStatus.FAILED,
                    now=self.db.clock.now(),
                    detail=reason.value,
                    failure_reason=reason.value,
                    next_attempt_at=None,
                )
        except ConflictError as exc:
            log.info("session %s: not failed (%s): %s", session_id, reason, exc)

    async def fail_in_progress_for_host(
        self, host_id: str, reason: FailureReason
    ) -> list[tuple[str, str | None]]:
        async with self._tx() as tx:
            records = await tx.sessions.fail_in_progress_for_host(host_id, reason.value, self.db.clock.now())
        return [(str(r.id), r.twilio_call_sid) for r in records]

    async def claimed_for_host(self, host_id: str) -> list[str]:
        async with self._tx() as tx:
            rows = await tx.session.execute(select(_C.id).where(_C.host_id == host_id, _HELD))
            return [str(r[0]) for r in rows]

    async def hosts_with_live_sessions(self) -> list[str]:
        async with self._tx() as tx:
            rows = await tx.session.execute(
                select(distinct(_C.host_id)).where(_C.host_id.is_not(None), _HELD)
            )
            return sorted(str(r[0]) for r in rows)

    async def retry_context(self, session_id: str) -> RetryContext:
        async with self._tx() as tx:
            record = await tx.sessions.get(uuid.UUID(session_id))
        # A failed call-back request keeps the customer's requested time in next_attempt_at
        # (written with the failed status, see CallSession); a failed row is never due by it.
        requested = (
            record.next_attempt_at
            if record.session_status is SessionStatus.FAILED
            and record.failure_reason == FailureReason.CALLBACK_REQUESTED.value
            else None
        )
        return RetryContext(record.retry_count, await self.windows_for(str(record.store_id)), requested)

    async def is_opted_out(self, session_id: str) -> bool:
        # claim_due already failed opted-out sessions in the claiming statement, and the
        # session checks again right before it dials; a third lookup would decrypt for nothing.
        return False

    async def windows_for(self, store_id: str) -> CallWindows:
        cached = self._windows.get(store_id)
        if cached is not None and time.monotonic() - cached[0] < self._windows_ttl:
            return cached[1]
        try:
            async with self._tx() as tx:
                store = await tx.stores.get_store(uuid.UUID(store_id))
            config = store.call_windows if isinstance(store.call_windows, dict) else None
            windows = CallWindows.from_config(store.timezone, config)
        except NotFoundError:
            windows = CallWindows()
        except CallEngineError as exc:  # a bad stored config: fall back to the defaults, loudly
            log.warning("store %s: invalid call window config (%s); using defaults", store_id, exc)
            windows = CallWindows()
        if len(self._windows) >= 10_000:  # bounded: drop the expired entries first, then all
            now = time.monotonic()
            self._windows = {k: v for k, v in self._windows.items() if now - v[0] < self._windows_ttl}
            if len(self._windows) >= 10_000:
                self._windows.clear()
        self._windows[store_id] = (time.monotonic(), windows)
        return windows

    async def queue_depth(self, now: datetime) -> int:
        async with self._tx() as tx:
            return await tx.sessions.queue_depth(now)

    async def renew_leases(self, host_id: str, session_ids: Sequence[str], until: datetime) -> None:
        async with self._tx() as tx:
            await tx.sessions.renew_leases(
                host_id, [uuid.UUID(s) for s in session_ids], until, self.db.clock.now()
            )

    async def stale_sessions(self, now: datetime, limit: int) -> list[StaleSession]:
        async with self._tx() as tx:
            records = await tx.sessions.stale(now, limit)
        return [
            StaleSession(str(r.id), r.host_id, r.session_status, r.phase, r.twilio_call_sid) for r in records
        ]

    async def settle_stale(self, session: StaleSession, now: datetime) -> str | None:
        async with self._tx() as tx:
            return await tx.sessions.settle_stale(
                uuid.UUID(session.session_id), session.host_id, now, FailureReason.HOST_LOST.value
            )

    async def unretried_failures(self, older_than: datetime, limit: int) -> list[tuple[str, FailureReason]]:
        reasons = [r.value for r in FailureReason if r.retryable]
        async with self._tx() as tx:
            rows = await tx.sessions.unretried_failures(reasons, older_than, limit)
        return [(str(sid), FailureReason(reason)) for sid, reason in rows]

    async def job_stats(self, now: datetime) -> JobStats:
        async with self._tx() as tx:
            counts = await tx.jobs.counts()
            lag = await tx.jobs.oldest_due(now)
        by_kind: dict[str, dict[str, int]] = {}
        for (kind, state), n in counts.items():
            by_kind.setdefault(kind, {})[state] = n
        return JobStats(by_kind, lag)
