"""Data lifecycle (the seed's "Data Lifecycle Management") and GDPR erasure.

- sessions: at ``expires_at`` (90 days) the transcripts and status events are
  deleted; the session row is deleted when nothing references it any more,
  otherwise anonymized (phone erased, blind index and provider ids cleared),
  because kept analytics (assessments) reference it with NOT NULL foreign keys;
- assessments: customer-linked fields (analysis_summary, fraud_reasons) cleared
  after 90 days, scores kept;
- call metrics: deleted after 6 months; fraud results: after 1 year;
- customer verifications: phone erased after 90 days;
- weekly reports, the reward ledger (bookkeeping, no personal data) and the audit log: kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, exists, literal, select, update
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
_RL = table_of(RewardLedgerEntry)
_ERASED = literal(ERASED)  # a plain literal: bypasses the encrypting column type


async def _count(session: AsyncSession, stmt: Any) -> int:
    return int((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def cleanup(db: Database, now: dt.datetime, *, dry_run: bool = False) -> CleanupReport:
    """Apply the retention rules as of ``now``; with ``dry_run`` count but change nothing."""
    counts: dict[str, int] = {}
    async with db.transaction(Principal.service()) as tx:
        s = tx.session
        savepoint = await s.begin_nested()
        counts["call_quality_metrics"] = await _count(
            s, delete(_M).where(_M.c.measured_at <= now - METRICS_RETENTION)
        )
        counts["fraud_detection_results"] = await _count(
            s, delete(_F).where(_F.c.created_at <= now - FRAUD_RETENTION)
        )
        counts["quality_assessments (anonymized)"] = await _count(
            s,
            update(_QA)
            .where(_QA.c.created_at <= now - ASSESSMENT_CUSTOMER_DATA, _QA.c.anonymized_at.is_(None))
            .values(analysis_summary=None, fraud_reasons=None, anonymized_at=now),
        )
        counts["customer_verifications (anonymized)"] = await _count(
            s,
            update(_V)
            .where(_V.c.verified_at <= now - VERIFICATION_RETENTION, _V.c.phone_bidx.is_not(None))
            .values(phone_number=_ERASED, phone_bidx=None),
        )
        expired = select(_S.c.id).where(_S.c.expires_at <= now).scalar_subquery()
        counts["conversation_transcripts"] = await _count(
            s, delete(_TR).where(_TR.c.call_session_id.in_(expired))
        )
        counts["call_session_events"] = await _count(s, delete(_EV).where(_EV.c.session_id.in_(expired)))
        referenced = (
            exists().where(_QA.c.call_session_id == _S.c.id)
            | exists().where(_M.c.call_session_id == _S.c.id)
            | exists().where(_F.c.call_session_id == _S.c.id)
            | exists().where(_RL.c.call_session_id == _S.c.id)
        )
        counts["feedback_call_sessions"] = await _count(
            s, delete(_S).where(_S.c.expires_at <= now, ~referenced)
        )
        counts["feedback_call_sessions (anonymized)"] = await _count(
            s,
            update(_S)
            .where(_S.c.expires_at <= now, _S.c.anonymized_at.is_(None))
            .values(**_anonymized_session(now)),
        )
        if dry_run:
            await savepoint.rollback()
        else:
            await savepoint.commit()
        tx.audit("cleanup", "*", None, ("dry-run " if dry_run else "") + f"{sum(counts.values())} rows")
    return CleanupReport(dry_run, counts)


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
    now = now or dt.datetime.now(dt.UTC)
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
