"""feedback_call_sessions: creation (idempotent per verification), the dispatch queue, CAS transitions.

Every status change goes through a compare-and-set UPDATE (``WHERE id = … AND
session_status = expected``) and appends a call_session_events row in the
same transaction, so watchers and a restarted dispatcher see exactly what
happened. A session that reaches its final status (see
:func:`engine.events.types.is_settled`) emits ``call.settled`` in that transaction too. The queue is ``session_status = 'pending' AND next_attempt_at <= now``;
claiming clears next_attempt_at and sets host_id under ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import builtins
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, and_, func, insert, select, update

from engine.domain import MAX_RETRIES, SessionStatus
from engine.errors import ConflictError, NotFoundError, ValidationError
from engine.events.types import CALL_SETTLED, call_settled_payload, is_settled
from engine.jobs.kinds import ANALYSIS_MAX_ATTEMPTS, analysis_jobs
from storage.crypto import normalize_phone
from storage.models import CallSessionEvent, FeedbackCallSession, PhoneOptOut
from storage.models.base import table_of
from storage.records import CallSessionRecord, ClaimedSession, Page, SessionEvent
from storage.repositories._common import Repository, aware, page_size
from storage.repositories._dispatch import (
    NO_LIMITS,
    DispatchLimits,
    dispatch_params,
    dispatch_result,
    dispatch_statement,
)
from storage.repositories.session_leases import HELD as _HELD
from storage.repositories.session_leases import SessionLeases, failed_by_engine

RETENTION = dt.timedelta(days=90)
_T = table_of(FeedbackCallSession)
_C = _T.c
_EVENTS = table_of(CallSessionEvent)
_RECORD_COLUMNS = tuple(
    _C[name]
    for name in CallSessionRecord.__struct_fields__  # type: ignore[attr-defined]
)
UPDATABLE = frozenset(
    {
        "call_connected_at",
        "call_ended_at",
        "duration_seconds",
        "failure_reason",
        "openai_session_id",
        "host_id",
        "phase",
        "twilio_call_sid",
        "next_attempt_at",
    }
)


def _record(row: Row[Any]) -> CallSessionRecord:
    m = dict(row._mapping)
    m["session_status"] = SessionStatus(m["session_status"])
    m["retry_count"] = m["retry_count"] or 0
    return CallSessionRecord(**{k: m[k] for k in CallSessionRecord.__struct_fields__})  # type: ignore[attr-defined]


class SessionRepository(SessionLeases, Repository):
    async def create_pending(
        self,
        verification_id: uuid.UUID,
        store_id: uuid.UUID,
        phone: str | None,
        not_before: dt.datetime | None,
        now: dt.datetime,
        *,
        limits: DispatchLimits = NO_LIMITS,
    ) -> CallSessionRecord:
        """A pending session for the verification, or the existing live/completed one (idempotent).

        One statement (``dispatch_session``, SECURITY DEFINER): the session's number is
        copied from the verification inside the database, never taken from the caller;
        ``phone``, when given, must be the verification's (compared by blind index). The
        store's daily quota and the number's cooldown (``limits``) are checked under
        advisory locks in the same statement, so concurrent dispatches cannot overshoot.
        The partial unique index on live sessions keeps "never two live sessions for one
        verification" true for concurrent callers.
        """
        aware("now", now)
        due = max(aware("not_before", not_before), now) if not_before else now
        bidx = self.tx.blind_index.of(normalize_phone(phone)) if phone is not None else None
        row = (
            await self.session.execute(
                dispatch_statement(),
                dispatch_params(self.tx.principal, verification_id, store_id, bidx, now, due, limits),
            )
        ).one()
        return dispatch_result(row, limits)

    async def get(self, session_id: uuid.UUID) -> CallSessionRecord:
        row = (await self.session.execute(select(*_RECORD_COLUMNS).where(_C.id == session_id))).one_or_none()
        if row is None:
            raise NotFoundError(f"call session {session_id} not found")
        return _record(row)

    async def get_phone(self, session_id: uuid.UUID) -> str:
        """The decrypted number (audited). Never log it."""
        phone = (await self.session.execute(select(_C.phone_number).where(_C.id == session_id))).scalar()
        if phone is None:
            raise NotFoundError(f"call session {session_id} not found")
        self.tx.audit("read", "feedback_call_sessions", session_id, "phone_number")
        return str(phone)

    async def list(
        self,
        store_id: uuid.UUID | None = None,
        status: SessionStatus | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        page_size_: int = 50,
        page_token: str | None = None,
    ) -> Page[CallSessionRecord]:
        """Newest first; ``since`` inclusive, ``until`` exclusive on created_at."""
        size = page_size(page_size_)
        stmt = select(*_RECORD_COLUMNS)
        if store_id is not None:
            stmt = stmt.where(_C.store_id == store_id)
        if status is not None:
            stmt = stmt.where(_C.session_status == SessionStatus(status).value)
        return await self.newest_first(stmt, _C, _record, since, until, size, page_token)

    async def transition(
        self,
        session_id: uuid.UUID,
        expected_status: SessionStatus,
        new_status: SessionStatus,
        *,
        now: dt.datetime,
        detail: str | None = None,
        **fields: Any,
    ) -> CallSessionRecord:
        """Compare-and-set the status (and ``fields``); ConflictError if it was not ``expected_status``."""
        unknown = set(fields) - UPDATABLE
        if unknown:
            raise ValidationError(sorted(unknown)[0], "is not an updatable session field")
        if detail is not None and len(detail) > 200:
            raise ValidationError("detail", "must be at most 200 characters")
        values = dict(fields, session_status=SessionStatus(new_status).value, updated_at=aware("now", now))
        stmt = (
            update(_T)
            .where(_C.id == session_id, _C.session_status == SessionStatus(expected_status).value)
            .values(**values)
            .returning(*_RECORD_COLUMNS)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        if row is None:
            current = await self.get(session_id)
            raise ConflictError(
                f"session {session_id} is {current.session_status}, expected {expected_status}"
            )
        record = _record(row)
        await self._event(session_id, record.store_id, record.session_status, record.phase, detail, now)
        self.tx.audit("write", "feedback_call_sessions", session_id, f"{expected_status}->{new_status}")
        await self._settled(record, now)
        if record.session_status is SessionStatus.COMPLETED:
            # In this transaction: a completed call always has its analysis jobs, and never twice.
            for kind, payload, key in analysis_jobs(session_id):
                await self.tx.jobs.enqueue(
                    kind, payload, now=now, idempotency_key=key, max_attempts=ANALYSIS_MAX_ATTEMPTS
                )
        return record

    async def claim_due(
        self,
        now: dt.datetime,
        limit: int,
        host_id: str,
        *,
        store_id: uuid.UUID | None = None,
        lease: dt.timedelta = dt.timedelta(seconds=60),
    ) -> builtins.list[ClaimedSession]:
        """Claim up to ``limit`` due pending sessions for ``host_id`` (skips rows others hold).

        Due sessions whose number opted out are failed (``opted_out``) instead of claimed.
        ``store_id`` restricts the claim to one store.
        """
        aware("now", now)
        limit = page_size(limit, 10_000)
        if not host_id or len(host_id) > 100:
            raise ValidationError("host_id", "must be 1–100 characters")
        due = and_(_C.session_status == SessionStatus.PENDING.value, _C.next_attempt_at <= now)
        if store_id is not None:
            due = and_(due, _C.store_id == store_id)
        opted = (
            update(_T)
            .where(due, _C.phone_bidx.in_(select(table_of(PhoneOptOut).c.phone_bidx)))
            .values(
                session_status=SessionStatus.FAILED.value,
                failure_reason="opted_out",
                next_attempt_at=None,
                updated_at=now,
            )
            .returning(*_RECORD_COLUMNS)
        )
        for row in (await self.session.execute(opted)).all():
            failed = _record(row)
            await self._event(failed.id, failed.store_id, SessionStatus.FAILED, None, "opted_out", now)
            await self._settled(failed, now)
        picked = (
            select(_C.id)
            .where(due)
            .order_by(_C.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).cte("picked")
        stmt = (
            update(_T)
            .where(_C.id.in_(select(picked.c.id)))
            .values(
                next_attempt_at=None,
                host_id=host_id,
                phase="claimed",
                updated_at=now,
                lease_expires_at=now + lease,
            )
            .returning(*_RECORD_COLUMNS, _C.phone_number)
        )
        rows = (await self.session.execute(stmt)).all()
        claimed = []
        for row in rows:
            record = _record(row)
            await self._event(
                record.id, record.store_id, record.session_status, "claimed", host_id[:200], now
            )
            self.tx.audit("read", "feedback_call_sessions", record.id, "phone_number: claimed for dialing")
            claimed.append(ClaimedSession(record, row.phone_number))
        return claimed

    async def defer(self, session_id: uuid.UUID, next_attempt_at: dt.datetime, now: dt.datetime) -> None:
        """Put a claimed-but-not-dialled session back in the queue (e.g. outside its call window)."""
        result = await self.session.execute(
            update(_T)
            .where(_C.id == session_id, _C.session_status == SessionStatus.PENDING.value)
            .values(
                next_attempt_at=aware("next_attempt_at", next_attempt_at),
                host_id=None,
                phase=None,
                lease_expires_at=None,
                updated_at=now,
            )
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise ConflictError(f"session {session_id} is not pending")
        self.tx.audit("write", "feedback_call_sessions", session_id, "defer")

    async def schedule_retry(
        self, session_id: uuid.UUID, next_attempt_at: dt.datetime, reason: str, now: dt.datetime
    ) -> CallSessionRecord:
        """failed → pending with retry_count + 1; ConflictError once MAX_RETRIES is reached."""
        current = await self.get(session_id)
        if current.retry_count >= MAX_RETRIES:
            raise ConflictError(f"session {session_id} already used {MAX_RETRIES} retries")
        row = (
            await self.session.execute(
                update(_T)
                .where(_C.id == session_id, _C.session_status == SessionStatus.FAILED.value)
                .where(_C.retry_count == current.retry_count)
                .values(
                    session_status=SessionStatus.PENDING.value,
                    retry_count=current.retry_count + 1,
                    failure_reason=reason[:100],
                    next_attempt_at=aware("next_attempt_at", next_attempt_at),
                    host_id=None,
                    phase=None,
                    lease_expires_at=None,
                    call_connected_at=None,
                    call_ended_at=None,
                    twilio_call_sid=None,
                    updated_at=now,
                )
                .returning(*_RECORD_COLUMNS)
            )
        ).one_or_none()
        if row is None:
            raise ConflictError(f"session {session_id} is {current.session_status}, expected failed")
        record = _record(row)
        await self._event(
            session_id, record.store_id, SessionStatus.PENDING, None, f"retry {record.retry_count}", now
        )
        self.tx.audit("write", "feedback_call_sessions", session_id, "retry")
        return record

    async def fail_in_progress_for_host(
        self, host_id: str, reason: str, now: dt.datetime
    ) -> builtins.list[CallSessionRecord]:
        """Fail every session a (dead) host held: in progress, or claimed and not yet answered."""
        held = and_(_C.host_id == host_id, _HELD)
        rows = (
            await self.session.execute(
                update(_T).where(held).values(**failed_by_engine(reason, now)).returning(*_RECORD_COLUMNS)
            )
        ).all()
        records = [_record(r) for r in rows]
        for record in records:
            await self._event(
                record.id, record.store_id, SessionStatus.FAILED, record.phase, reason[:200], now
            )
            self.tx.audit("write", "feedback_call_sessions", record.id, f"host lost: {reason[:60]}")
            await self._settled(record, now)
        return records

    async def _records(self, stmt: Any) -> builtins.list[CallSessionRecord]:
        rows = await self.session.execute(stmt.with_only_columns(*_RECORD_COLUMNS))
        return [_record(r) for r in rows]

    async def held_by_host(self, host_id: str) -> builtins.list[uuid.UUID]:
        """Sessions a host holds: in progress, or claimed and not yet answered."""
        rows = await self.session.execute(select(_C.id).where(_C.host_id == host_id, _HELD))
        return [r[0] for r in rows]

    async def hosts_with_live_sessions(self) -> builtins.list[str]:
        """Every host id that holds at least one session (for recovery after a restart)."""
        rows = await self.session.execute(select(_C.host_id).where(_C.host_id.is_not(None), _HELD).distinct())
        return sorted(str(r[0]) for r in rows)

    async def cancel(self, session_id: uuid.UUID, now: dt.datetime) -> CallSessionRecord:
        """pending → failed(canceled). A call already in progress must be ended by its host."""
        return await self.transition(
            session_id,
            SessionStatus.PENDING,
            SessionStatus.FAILED,
            now=now,
            detail="canceled",
            failure_reason="canceled",
            next_attempt_at=None,
        )

    async def events_since(
        self, session_id: uuid.UUID, after_id: int = 0, limit: int = 100
    ) -> builtins.list[SessionEvent]:
        e = _EVENTS.c
        rows = await self.session.execute(
            select(e.id, e.session_id, e.status, e.at, e.phase, e.detail)
            .where(e.session_id == session_id, e.id > after_id)
            .order_by(e.id)
            .limit(page_size(limit, 1000))
        )
        return [
            SessionEvent(r.id, r.session_id, SessionStatus(r.status), r.at, r.phase, r.detail) for r in rows
        ]

    async def count_created(self, store_id: uuid.UUID, since: dt.datetime, until: dt.datetime) -> int:
        """Sessions of a store created in ``[since, until)`` (a count: no rows loaded)."""
        stmt = select(func.count()).where(
            _C.store_id == store_id,
            _C.created_at >= aware("since", since),
            _C.created_at < aware("until", until),
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def queue_depth(self, now: dt.datetime) -> int:
        """Pending sessions due now (for the dispatcher's metrics)."""
        stmt = select(func.count()).where(
            _C.session_status == SessionStatus.PENDING.value, _C.next_attempt_at <= now
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def same_caller_sessions(
        self, session_id: uuid.UUID, since: dt.datetime
    ) -> builtins.list[CallSessionRecord]:
        """Other sessions with the same phone (by blind index) created since ``since``."""
        bidx = select(_C.phone_bidx).where(_C.id == session_id).scalar_subquery()
        rows = await self.session.execute(
            select(*_RECORD_COLUMNS)
            .where(_C.phone_bidx == bidx, _C.id != session_id, _C.created_at >= aware("since", since))
            .order_by(_C.created_at)
        )
        return [_record(r) for r in rows]

    async def _event(
        self,
        session_id: uuid.UUID,
        store_id: uuid.UUID,
        status: SessionStatus,
        phase: str | None,
        detail: str | None,
        now: dt.datetime,
    ) -> None:
        await self.session.execute(
            insert(_EVENTS).values(
                session_id=session_id,
                store_id=store_id,
                status=status.value,
                phase=phase,
                detail=detail,
                at=now,
            )
        )

    async def _settled(self, record: CallSessionRecord, now: dt.datetime) -> None:
        """Emit ``call.settled`` if ``record`` is final (its id: ``call.settled:<session>:1``)."""
        if not is_settled(record.session_status, record.failure_reason):
            return
        payload = call_settled_payload(
            session_id=record.id,
            verification_id=record.customer_verification_id,
            store_id=record.store_id,
            status=record.session_status,
            failure_reason=record.failure_reason,
            retry_count=record.retry_count,
            duration_seconds=record.duration_seconds,
            call_initiated_at=record.call_initiated_at,
            call_connected_at=record.call_connected_at,
            call_ended_at=record.call_ended_at,
        )
        await self.tx.events.emit(CALL_SETTLED, record.store_id, str(record.id), payload, now)

    @staticmethod
    def expiry_for(created: dt.datetime) -> dt.datetime:
        return created + RETENTION

    async def ids_for_store(self, store_id: uuid.UUID) -> Sequence[uuid.UUID]:
        return list((await self.session.execute(select(_C.id).where(_C.store_id == store_id))).scalars())
