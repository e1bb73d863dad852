"""feedback_call_sessions, the durability side: the live attempt's CallSid, giving an undialled
session back, leases renewed for sessions a live host holds, and what the reconciler settles.

Mixed into :class:`storage.repositories.sessions.SessionRepository` (``tx.sessions``).
"""

from __future__ import annotations

import builtins
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select, update

from engine.domain import SessionStatus
from engine.errors import ConflictError, ValidationError
from storage.models import FeedbackCallSession
from storage.models.base import table_of
from storage.records import CallSessionRecord
from storage.repositories._common import aware

if TYPE_CHECKING:
    from storage.tx import Tx

_T = table_of(FeedbackCallSession)
_C = _T.c
LIVE = (SessionStatus.PENDING.value, SessionStatus.IN_PROGRESS.value)
HELD = or_(
    _C.session_status == SessionStatus.IN_PROGRESS.value,
    and_(_C.session_status == SessionStatus.PENDING.value, _C.next_attempt_at.is_(None)),
)
"""A session a host holds: claimed (pending, next_attempt_at cleared) or in progress."""
_LIVE, _HELD = LIVE, HELD


def failed_by_engine(reason: str, now: dt.datetime) -> dict[str, Any]:
    """The values that end a held session failed when its host is gone (``reason``): the end time
    kept if the call had one, the lease dropped."""
    return {
        "session_status": SessionStatus.FAILED.value,
        "failure_reason": reason[:100],
        "call_ended_at": func.coalesce(_C.call_ended_at, now.astimezone(dt.UTC).replace(tzinfo=None)),
        "lease_expires_at": None,
        "updated_at": now,
    }


class SessionLeases:
    tx: Tx
    session: Any

    async def _event(
        self,
        session_id: uuid.UUID,
        store_id: uuid.UUID,
        status: SessionStatus,
        phase: str | None,
        detail: str | None,
        now: dt.datetime,
    ) -> None:
        raise NotImplementedError  # provided by SessionRepository

    async def _records(self, stmt: Any) -> builtins.list[CallSessionRecord]:
        raise NotImplementedError  # provided by SessionRepository

    async def _settled(self, record: CallSessionRecord, now: dt.datetime) -> None:
        raise NotImplementedError  # provided by SessionRepository

    async def get(self, session_id: uuid.UUID) -> CallSessionRecord:
        raise NotImplementedError  # provided by SessionRepository

    async def set_call_sid(self, session_id: uuid.UUID, call_sid: str, now: dt.datetime) -> None:
        """Record the Twilio CallSid of the live attempt (the moment the create returned)."""
        if not call_sid or len(call_sid) > 64:
            raise ValidationError("twilio_call_sid", "must be 1–64 characters")
        result = await self.session.execute(
            update(_T)
            .where(_C.id == session_id, _C.session_status.in_(_LIVE))
            .values(twilio_call_sid=call_sid, updated_at=aware("now", now))
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise ConflictError(f"session {session_id} is not live")

    async def give_back(
        self,
        session_id: uuid.UUID,
        reason: str,
        next_attempt_at: dt.datetime,
        now: dt.datetime,
        *,
        host_id: str | None = None,
    ) -> None:
        """A claimed session that was not dialled (a provider failed first): queued again at
        ``next_attempt_at``, ``reason`` kept as its failure_reason; no retry counted."""
        held = and_(_C.id == session_id, _C.session_status == SessionStatus.PENDING.value)
        if host_id is not None:
            held = and_(held, _C.host_id == host_id)
        row = (
            await self.session.execute(
                update(_T)
                .where(held)
                .values(
                    next_attempt_at=aware("next_attempt_at", next_attempt_at),
                    host_id=None,
                    phase=None,
                    lease_expires_at=None,
                    twilio_call_sid=None,
                    failure_reason=reason[:100],
                    updated_at=now,
                )
                .returning(_C.store_id)
            )
        ).one_or_none()
        if row is None:
            raise ConflictError(f"session {session_id} is not pending on this host")
        await self._event(
            session_id, row.store_id, SessionStatus.PENDING, None, f"not dialled: {reason}"[:200], now
        )
        self.tx.audit("write", "feedback_call_sessions", session_id, "given back")

    async def renew_leases(
        self, host_id: str, session_ids: Sequence[uuid.UUID], until: dt.datetime, now: dt.datetime
    ) -> int:
        """``host_id`` still holds these live sessions: push their leases to ``until``."""
        if not session_ids:
            return 0
        result = await self.session.execute(
            update(_T)
            .where(_C.id.in_(list(session_ids)), _C.host_id == host_id, _HELD)
            .values(lease_expires_at=aware("until", until))
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def stale(self, now: dt.datetime, limit: int) -> builtins.list[CallSessionRecord]:
        """Held sessions (claimed or in progress) whose lease expired before ``now``."""
        return await self._records(
            select()
            .where(_HELD, or_(_C.lease_expires_at < aware("now", now), _C.lease_expires_at.is_(None)))
            .where(or_(_C.lease_expires_at.is_not(None), _C.updated_at < now - dt.timedelta(minutes=10)))
            .order_by(_C.lease_expires_at)
            .limit(limit)
        )

    async def settle_stale(
        self, session_id: uuid.UUID, host_id: str | None, now: dt.datetime, reason: str
    ) -> str | None:
        """A held session no live host owns: never dialled → back in the queue (``"deferred"``);
        dialled → ``failed`` with ``reason`` (``"failed"``). None if it changed meanwhile."""
        held_as_seen = and_(
            _C.id == session_id,
            _HELD,
            _C.host_id == host_id if host_id is not None else _C.host_id.is_(None),
            or_(_C.lease_expires_at < now, _C.lease_expires_at.is_(None)),
        )
        never_dialled = and_(
            _C.session_status == SessionStatus.PENDING.value, or_(_C.phase.is_(None), _C.phase == "claimed")
        )
        row = (
            await self.session.execute(
                update(_T)
                .where(held_as_seen, never_dialled)
                .values(next_attempt_at=now, host_id=None, phase=None, lease_expires_at=None, updated_at=now)
                .returning(_C.store_id)
            )
        ).one_or_none()
        if row is not None:
            await self._event(
                session_id, row.store_id, SessionStatus.PENDING, None, "reconciled: requeued", now
            )
            self.tx.audit("write", "feedback_call_sessions", session_id, "reconciled: requeued")
            return "deferred"
        row = (
            await self.session.execute(
                update(_T)
                .where(held_as_seen)
                .values(**failed_by_engine(reason, now))
                .returning(_C.store_id, _C.phase)
            )
        ).one_or_none()
        if row is None:
            return None
        await self._event(
            session_id, row.store_id, SessionStatus.FAILED, row.phase, f"reconciled: {reason}"[:200], now
        )
        self.tx.audit("write", "feedback_call_sessions", session_id, f"reconciled: {reason[:60]}")
        await self._settled(await self.get(session_id), now)
        return "failed"

    async def unretried_failures(
        self, reasons: Sequence[str], older_than: dt.datetime, limit: int
    ) -> builtins.list[tuple[uuid.UUID, str]]:
        """Failed with one of ``reasons`` (retryable) and not touched since ``older_than``."""
        rows = await self.session.execute(
            select(_C.id, _C.failure_reason)
            .where(
                _C.session_status == SessionStatus.FAILED.value,
                _C.failure_reason.in_(list(reasons)),
                _C.updated_at < aware("older_than", older_than),
            )
            .order_by(_C.updated_at)
            .limit(limit)
        )
        return [(r[0], str(r[1])) for r in rows]
