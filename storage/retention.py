"""Data lifecycle (the seed's "Data Lifecycle Management") and GDPR erasure.

- sessions: at ``expires_at`` (90 days) the transcripts and status events are
  deleted; the session row is deleted when nothing references it any more,
  otherwise anonymized (phone erased, blind index and provider ids cleared),
  because kept analytics (assessments) reference it with NOT NULL foreign keys;
- assessments: customer-linked fields (analysis_summary, fraud_reasons) cleared
  after 90 days, scores kept;
- call metrics: deleted after 6 months; fraud results: after 1 year;
- customer verifications: phone erased after 90 days;
- finished jobs: after 30 days (dead-lettered jobs are kept for an operator);
- outgoing events: after ``CALLENGINE_EVENT_RETENTION_DAYS`` (30; a dead delivery whose
  event is gone can no longer be retried);
- weekly reports, the reward ledger (bookkeeping, no personal data) and the audit log: kept.

Each rule runs in bounded batches (:data:`BATCH` rows per transaction).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Table, delete, exists, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from engine.errors import PermissionDeniedError
from storage.database import Database
from storage.models import (
    CallQualityMetric,
    CallSessionEvent,
    ConversationTranscript,
    CustomerVerification,
    FeedbackCallSession,
    FraudDetectionResult,
    Job,
    OutgoingEvent,
    QualityAssessment,
    RewardLedgerEntry,
)
from storage.models.base import table_of
from storage.principal import Principal
from storage.records import CleanupReport, ErasureReport
from storage.types import ERASED

SESSION_RETENTION = dt.timedelta(days=90)
ASSESSMENT_CUSTOMER_DATA = dt.timedelta(days=90)
METRICS_RETENTION = dt.timedelta(days=182)
FRAUD_RETENTION = dt.timedelta(days=365)
VERIFICATION_RETENTION = dt.timedelta(days=90)

_S = table_of(FeedbackCallSession)
_TR = table_of(ConversationTranscript)
_EV = table_of(CallSessionEvent)
_QA = table_of(QualityAssessment)
_M = table_of(CallQualityMetric)
_F = table_of(FraudDetectionResult)
_V = table_of(CustomerVerification)
_J = table_of(Job)
_RL = table_of(RewardLedgerEntry)
_OE = table_of(OutgoingEvent)
_ERASED = literal(ERASED)  # a plain literal: bypasses the encrypting column type


async def _count(session: AsyncSession, stmt: Any) -> int:
    return int((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


BATCH = 1000
"""Rows per retention transaction: each rule runs in bounded batches, so no run holds long
locks or one huge transaction, and a run cut short resumes where it stopped."""
JOBS_RETENTION = dt.timedelta(days=30)
EVENTS_RETENTION = dt.timedelta(days=30)


def _rules(
    now: dt.datetime, events: dt.timedelta = EVENTS_RETENTION
) -> list[tuple[str, Table, Any, dict[str, Any] | None]]:
    """(report key, table, rows the rule applies to, None = delete / values = update)."""
    expired = select(_S.c.id).where(_S.c.expires_at <= now)
    referenced = (
        exists().where(_QA.c.call_session_id == _S.c.id)
        | exists().where(_M.c.call_session_id == _S.c.id)
        | exists().where(_F.c.call_session_id == _S.c.id)
        | exists().where(_RL.c.call_session_id == _S.c.id)
    )
    return [
        ("call_quality_metrics", _M, _M.c.measured_at <= now - METRICS_RETENTION, None),
        ("fraud_detection_results", _F, _F.c.created_at <= now - FRAUD_RETENTION, None),
        (
            "quality_assessments (anonymized)",
            _QA,
            (_QA.c.created_at <= now - ASSESSMENT_CUSTOMER_DATA) & _QA.c.anonymized_at.is_(None),
            {"analysis_summary": None, "fraud_reasons": None, "anonymized_at": now},
        ),
        (
            "customer_verifications (anonymized)",
            _V,
            (_V.c.verified_at <= now - VERIFICATION_RETENTION) & _V.c.phone_bidx.is_not(None),
            {"phone_number": _ERASED, "phone_bidx": None},
        ),
        ("conversation_transcripts", _TR, _TR.c.call_session_id.in_(expired), None),
        ("call_session_events", _EV, _EV.c.session_id.in_(expired), None),
        ("feedback_call_sessions", _S, (_S.c.expires_at <= now) & ~referenced, None),
        (
            "feedback_call_sessions (anonymized)",
            _S,
            (_S.c.expires_at <= now) & _S.c.anonymized_at.is_(None),
            _anonymized_session(now),
        ),
        ("jobs (done)", _J, (_J.c.state == "done") & (_J.c.finished_at < now - JOBS_RETENTION), None),
        ("events", _OE, _OE.c.occurred_at < now - events, None),
    ]


def _statement(table: Table, where: Any, values: dict[str, Any] | None, limit: int | None) -> Any:
    target = where
    if limit is not None:
        target = table.c.id.in_(select(table.c.id).where(where).limit(limit).scalar_subquery())
    return delete(table).where(target) if values is None else update(table).where(target).values(**values)


async def cleanup(
    db: Database,
    now: dt.datetime,
    *,
    dry_run: bool = False,
    batch: int = BATCH,
    event_retention: dt.timedelta = EVENTS_RETENTION,
) -> CleanupReport:
    """Apply the retention rules as of ``now``; with ``dry_run`` count but change nothing.

    A real run applies each rule in transactions of at most ``batch`` rows until
    nothing is left (idempotent: a run repeated or cut short is harmless).
    """
    counts: dict[str, int] = {}
    if dry_run:
        async with db.transaction(Principal.service()) as tx:
            savepoint = await tx.session.begin_nested()
            for key, table, where, values in _rules(now, event_retention):
                counts[key] = await _count(tx.session, _statement(table, where, values, None))
            await savepoint.rollback()
            tx.audit("cleanup", "*", None, f"dry-run {sum(counts.values())} rows")
        return CleanupReport(True, counts)
    for key, table, where, values in _rules(now, event_retention):
        counts[key] = 0
        while True:
            async with db.transaction(Principal.service()) as tx:
                n = await _count(tx.session, _statement(table, where, values, batch))
            counts[key] += n
            if n < batch:
                break
    async with db.transaction(Principal.service()) as tx:
        tx.audit("cleanup", "*", None, f"{sum(counts.values())} rows")
    return CleanupReport(False, counts)


def _anonymized_session(now: dt.datetime) -> dict[str, Any]:
    return {
        "phone_number": _ERASED,
        "phone_bidx": None,
        "twilio_call_sid": None,
        "openai_session_id": None,
        "anonymized_at": now,
        "updated_at": now,
    }


async def erase_customer(
    db: Database, principal: Principal, phone: str, now: dt.datetime | None = None
) -> ErasureReport:
    """GDPR erasure: every row linked to ``phone`` (by blind index) removed or anonymized, atomically.

    Transcripts are deleted; sessions, verifications, assessments and fraud rows keep
    only non-identifying fields; a live session is failed (``customer_erased``). The
    opt-out list keeps its blind index so the number is still never called.
    """
    if not principal.privileged:
        raise PermissionDeniedError("erasing customer data requires an admin or the service")
    now = now or db.clock.now()
    counts: dict[str, int] = {}
    bidx = db.blind_index.of(phone)
    async with db.transaction(principal) as tx:
        s = tx.session
        ids = list((await s.execute(select(_S.c.id).where(_S.c.phone_bidx == bidx))).scalars())
        counts["conversation_transcripts"] = await _count(
            s, delete(_TR).where(_TR.c.call_session_id.in_(ids))
        )
        counts["quality_assessments"] = await _count(
            s,
            update(_QA)
            .where(_QA.c.call_session_id.in_(ids))
            .values(analysis_summary=None, fraud_reasons=None, anonymized_at=now),
        )
        counts["fraud_detection_results"] = await _count(
            s,
            update(_F)
            .where(_F.c.call_session_id.in_(ids))
            .values(decision_reasoning=None, fraud_indicators=None, context_violations=None),
        )
        counts["call_quality_metrics"] = await _count(
            s, update(_M).where(_M.c.call_session_id.in_(ids)).values(device_info=None)
        )
        await s.execute(
            update(_S)
            .where(_S.c.id.in_(ids), _S.c.session_status.in_(("pending", "in_progress")))
            .values(session_status="failed", failure_reason="customer_erased", next_attempt_at=None)
        )
        counts["feedback_call_sessions"] = await _count(
            s, update(_S).where(_S.c.id.in_(ids)).values(**_anonymized_session(now))
        )
        counts["customer_verifications"] = await _count(
            s, update(_V).where(_V.c.phone_bidx == bidx).values(phone_number=_ERASED, phone_bidx=None)
        )
        tx.audit("erase", "*", None, f"customer erasure: {len(ids)} sessions")
        for sid in ids:
            tx.audit("erase", "feedback_call_sessions", sid)
    return ErasureReport(counts)
