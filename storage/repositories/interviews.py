"""consent_records (append-only, audited) and interview_progress (upserted as questions are answered)."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from engine.domain import SessionStatus
from engine.errors import ValidationError
from storage.models import CallSessionEvent, ConsentRecordRow, InterviewProgressRow
from storage.models.base import table_of
from storage.repositories._common import Repository

_CR = table_of(ConsentRecordRow)
_IP = table_of(InterviewProgressRow)
ANSWERS = frozenset({"granted", "declined", "no_answer"})
SOURCES = frozenset({"tool", "inferred"})
STATUSES = frozenset({"answered", "skipped"})
MAX_ATTEMPT = 10


class StoredConsent(msgspec.Struct, frozen=True):
    attempt: int
    text_version: str
    answer: str
    source: str
    asked_at: dt.datetime | None
    answered_at: dt.datetime | None
    recorded_at: dt.datetime


class StoredProgress(msgspec.Struct, frozen=True):
    question_id: str
    status: str
    source: str
    attempt: int


def _check(field: str, value: str, allowed: frozenset[str]) -> None:
    if value not in allowed:
        raise ValidationError(field, f"must be one of {', '.join(sorted(allowed))}")


def _check_attempt(attempt: int) -> None:
    if isinstance(attempt, bool) or not 1 <= attempt <= MAX_ATTEMPT:
        raise ValidationError("attempt", f"must be within 1..{MAX_ATTEMPT}")


class InterviewRepository(Repository):
    async def add_consent(
        self,
        session_id: uuid.UUID,
        *,
        attempt: int,
        text_version: str,
        answer: str,
        source: str,
        asked_at: dt.datetime | None,
        answered_at: dt.datetime | None,
    ) -> bool:
        """Keep an attempt's consent record; False if that attempt already has one (the first stands)."""
        _check("answer", answer, ANSWERS)
        _check("source", source, SOURCES)
        _check_attempt(attempt)
        if not text_version or len(text_version) > 64:
            raise ValidationError("text_version", "must be 1–64 characters")
        result = await self.session.execute(
            insert(_CR)
            .values(
                id=uuid.uuid4(),
                call_session_id=session_id,
                attempt=attempt,
                text_version=text_version,
                answer=answer,
                source=source,
                asked_at=asked_at,
                answered_at=answered_at,
                recorded_at=self.tx.now(),  # the engine's clock, not the column default
            )
            .on_conflict_do_nothing(constraint="uq_consent_records_session_attempt")
        )
        written = bool(result.rowcount)  # type: ignore[attr-defined]
        if written:
            self.tx.audit("write", "consent_records", session_id, f"attempt {attempt}: {answer} ({source})")
        return written

    async def consents(self, session_id: uuid.UUID) -> list[StoredConsent]:
        rows = await self.session.execute(
            select(
                _CR.c.attempt,
                _CR.c.text_version,
                _CR.c.answer,
                _CR.c.source,
                _CR.c.asked_at,
                _CR.c.answered_at,
                _CR.c.recorded_at,
            )
            .where(_CR.c.call_session_id == session_id)
            .order_by(_CR.c.attempt)
        )
        self.tx.audit("read", "consent_records", session_id)
        return [StoredConsent(*row) for row in rows]

    async def record_progress(
        self, session_id: uuid.UUID, *, question_id: str, status: str, source: str, attempt: int
    ) -> None:
        """Upsert one question's state; a tool's report replaces an inferred one, never the reverse."""
        _check("status", status, STATUSES)
        _check("source", source, SOURCES)
        _check_attempt(attempt)
        if not question_id or len(question_id) > 64:
            raise ValidationError("question_id", "must be 1–64 characters")
        stmt = insert(_IP).values(
            call_session_id=session_id,
            question_id=question_id,
            status=status,
            source=source,
            attempt=attempt,
            updated_at=self.tx.now(),
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["call_session_id", "question_id"],
                set_={
                    "status": stmt.excluded.status,
                    "source": stmt.excluded.source,
                    "attempt": stmt.excluded.attempt,
                    "updated_at": stmt.excluded.updated_at,
                },
                where=(_IP.c.source == "inferred") | (stmt.excluded.source == "tool"),
            )
        )

    async def claim_call_back(self, phone: str, host_id: str, now: dt.datetime) -> ClaimedCallBack | None:
        return await claim_waiting_for_caller(self, phone, host_id, now)

    async def progress(self, session_id: uuid.UUID) -> list[StoredProgress]:
        rows = await self.session.execute(
            select(_IP.c.question_id, _IP.c.status, _IP.c.source, _IP.c.attempt)
            .where(_IP.c.call_session_id == session_id)
            .order_by(_IP.c.updated_at, _IP.c.question_id)
        )
        return [StoredProgress(*row) for row in rows]


class ClaimedCallBack(msgspec.Struct, frozen=True):
    session_id: uuid.UUID
    store_id: uuid.UUID
    retry_count: int


async def claim_waiting_for_caller(
    repo: Repository, phone: str, host_id: str, now: dt.datetime
) -> ClaimedCallBack | None:
    """The caller's oldest session that waits for a (re)try, claimed for ``host_id`` (a call-back).

    Waiting = pending with a next attempt time; one being dialled (claimed, no time) is left alone, and
    ``SKIP LOCKED`` keeps a concurrent Dispatcher claim and this one apart.
    """
    from storage.models import FeedbackCallSession

    sessions = table_of(FeedbackCallSession)
    c = sessions.c
    if not host_id or len(host_id) > 100:
        raise ValidationError("host_id", "must be 1–100 characters")
    picked = (
        select(c.id)
        .where(
            c.phone_bidx == repo.tx.blind_index.of(phone),
            c.session_status == "pending",
            c.next_attempt_at.is_not(None),
        )
        .order_by(c.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).cte("picked")
    row = (
        await repo.session.execute(
            update(sessions)
            .where(c.id.in_(select(picked.c.id)))
            .values(next_attempt_at=None, host_id=host_id, phase="claimed", updated_at=now)
            .returning(c.id, c.store_id, c.retry_count)
        )
    ).one_or_none()
    if row is None:
        return None
    session_id, store_id, retry_count = row
    await repo.session.execute(
        insert(table_of(CallSessionEvent)).values(
            session_id=session_id,
            store_id=store_id,
            status=SessionStatus.PENDING.value,
            phase="claimed",
            detail="call-back",
            at=now,
        )
    )
    repo.tx.audit("read", "feedback_call_sessions", session_id, "claimed for a call-back")
    return ClaimedCallBack(session_id, store_id, retry_count or 0)
