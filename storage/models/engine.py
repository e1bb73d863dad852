"""Engine additions beyond the seed: opt-outs, session status events, audit log, consent, interview progress."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from engine.domain import Role, SessionStatus
from storage.models.base import UTC_NOW, Base, in_list
from storage.types import UtcDateTime

JOB_STATES = ("queued", "running", "done", "dead")
"""queued → running → done; a failed run goes back to queued (later) or, at max_attempts, dead."""


class PhoneOptOut(Base):
    """Numbers that asked never to be called again, by blind index only."""

    __tablename__ = "phone_opt_outs"

    phone_bidx: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    created_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, server_default=UTC_NOW)


class CallSessionEvent(Base):
    """Append-only history of a session's status changes (WatchCall reads it)."""

    __tablename__ = "call_session_events"
    __table_args__ = (
        CheckConstraint(in_list("status", SessionStatus), name="status"),
        Index("idx_call_session_events_session", "session_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("feedback_call_sessions.id", ondelete="CASCADE"), nullable=False
    )
    store_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    phase: Mapped[str | None] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False, server_default=UTC_NOW)


class AuditLog(Base):
    """Who read or changed which record, when. The app role may only INSERT and SELECT."""

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint(in_list("actor_role", Role), name="actor_role"),
        Index("idx_audit_log_at", "at"),
        Index("idx_audit_log_record", "table_name", "record_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False, server_default=UTC_NOW)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_role: Mapped[str] = mapped_column(String(20), nullable=False)
    action: Mapped[str] = mapped_column(String(20), nullable=False)
    table_name: Mapped[str] = mapped_column(String(64), nullable=False)
    record_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(200))


class Job(Base):
    """The engine's one durable job queue (analysis jobs, outgoing events): see ``storage.repositories.jobs``.

    A row is enqueued in the same transaction as the change that calls for it,
    claimed with ``FOR UPDATE SKIP LOCKED`` under a lease (``locked_until``),
    retried with backoff and set ``dead`` after ``max_attempts``.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(in_list("state", JOB_STATES), name="state"),
        CheckConstraint("attempts >= 0 AND max_attempts >= 1", name="attempts"),
        Index("uq_jobs_kind_key", "kind", "idempotency_key", unique=True),
        Index("idx_jobs_due", "run_at", postgresql_where=text("state = 'queued'")),
        Index("idx_jobs_running", "locked_until", postgresql_where=text("state = 'running'")),
        Index("idx_jobs_finished", "finished_at", postgresql_where=text("state IN ('done', 'dead')")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'"))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), nullable=False, server_default=text("'queued'"))
    run_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False, server_default=UTC_NOW)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    max_attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("8"))
    last_error: Mapped[str | None] = mapped_column(String(500))
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False, server_default=UTC_NOW)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class ConsentRecordRow(Base):
    """Per attempt: which disclosure/consent rules the AI had, when it asked, what the customer answered.

    The proof GDPR art. 7(1) asks for. Append-only for the application role (INSERT, SELECT); every
    insert is also in the audit log. No personal data: the session id links it to the call.
    """

    __tablename__ = "consent_records"
    __table_args__ = (
        CheckConstraint("answer IN ('granted', 'declined', 'no_answer')", name="answer"),
        CheckConstraint("source IN ('tool', 'inferred')", name="source"),
        CheckConstraint("attempt >= 1 AND attempt <= 10", name="attempt"),
        UniqueConstraint("call_session_id", "attempt", name="uq_consent_records_session_attempt"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    call_session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("feedback_call_sessions.id", ondelete="CASCADE"), nullable=False
    )
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    text_version: Mapped[str] = mapped_column(String(64), nullable=False)
    answer: Mapped[str] = mapped_column(String(20), nullable=False)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    asked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False, server_default=UTC_NOW)


class InterviewProgressRow(Base):
    """Which planned questions a session got answered (or skipped), written as the model reports them.

    A retry of the session reads it and asks only what is left.
    """

    __tablename__ = "interview_progress"
    __table_args__ = (
        CheckConstraint("status IN ('answered', 'skipped')", name="status"),
        CheckConstraint("source IN ('tool', 'inferred')", name="source"),
    )

    call_session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("feedback_call_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False, server_default=UTC_NOW)
