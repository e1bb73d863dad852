"""Storage records → protobuf messages. Pure functions; the phone number never leaves."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2

from engine.api.gen import callengine_pb2 as pb
from engine.api.validation import CHECK_TYPE_TO_PB, REVIEW_TO_PB, SESSION_STATUS_TO_PB
from engine.domain import SessionStatus
from storage import records as r


def timestamp(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
    return ts


def json_value(data: Any) -> struct_pb2.Value | None:
    """Any JSON document as a ``google.protobuf.Value``; None → unset."""
    if data is None:
        return None
    holder = struct_pb2.ListValue()
    holder.append(_finite(data))
    return holder.values[0]


def _finite(data: Any) -> Any:
    # protobuf Value cannot hold NaN/inf in JSON form; stored JSONB never has them, be safe anyway.
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {str(k): _finite(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_finite(v) for v in data]
    return data


def _set(msg: Any, **fields: Any) -> Any:
    for name, value in fields.items():
        if value is None:
            continue
        target = getattr(msg, name)
        if hasattr(target, "CopyFrom"):
            target.CopyFrom(value)
        else:
            setattr(msg, name, value)
    return msg


def call_session(rec: r.CallSessionRecord) -> pb.CallSession:
    return _set(
        pb.CallSession(
            session_id=str(rec.id),
            customer_verification_id=str(rec.customer_verification_id),
            store_id=str(rec.store_id),
            status=SESSION_STATUS_TO_PB[rec.session_status],
            duration_seconds=rec.duration_seconds or 0,
            retry_count=rec.retry_count,
            failure_reason=rec.failure_reason or "",
        ),
        call_initiated_at=timestamp(rec.call_initiated_at),
        call_connected_at=timestamp(rec.call_connected_at),
        call_ended_at=timestamp(rec.call_ended_at),
        created_at=timestamp(rec.created_at),
        expires_at=timestamp(rec.expires_at),
    )


def status_event(event: r.SessionEvent, session: r.CallSessionRecord) -> pb.CallStatusEvent:
    reason = ""
    if event.status is SessionStatus.FAILED:
        reason = session.failure_reason or event.detail or ""
    return _set(
        pb.CallStatusEvent(
            session_id=str(event.session_id),
            status=SESSION_STATUS_TO_PB[event.status],
            failure_reason=reason,
            retry_count=session.retry_count,
        ),
        occurred_at=timestamp(event.at),
    )


def assessment(rec: r.Assessment) -> pb.Assessment:
    return _set(
        pb.Assessment(
            assessment_id=str(rec.id or ""),
            session_id=str(rec.call_session_id),
            legitimacy_score=rec.legitimacy_score,
            depth_score=rec.depth_score,
            usefulness_score=rec.usefulness_score,
            overall_quality_score=rec.overall_quality_score,
            reward_percentage=rec.reward_percentage,
            is_fraudulent=rec.is_fraudulent,
            analysis_summary=rec.analysis_summary or "",
        ),
        fraud_reasons=json_value(rec.fraud_reasons),
        business_actionable_items=json_value(rec.business_actionable_items),
        analysis_metadata=json_value(rec.analysis_metadata),
        created_at=timestamp(rec.created_at),
    )


def business_context(rec: r.BusinessContext) -> pb.BusinessContext:
    return _set(
        pb.BusinessContext(
            profile_id=str(rec.id or ""),
            store_id=str(rec.store_id),
            context_version=rec.context_version or 0,
            context_completeness_score=rec.context_completeness_score or 0.0,
            updated_by=str(rec.updated_by or ""),
        ),
        operating_hours=json_value(rec.operating_hours),
        departments=json_value(rec.departments),
        current_campaigns=json_value(rec.current_campaigns),
        question_configuration=json_value(rec.question_configuration),
        baseline_facts=json_value(rec.baseline_facts),
        last_updated_at=timestamp(rec.last_updated_at),
    )


def weekly_report(rec: r.WeeklyReport) -> pb.WeeklyReport:
    msg = pb.WeeklyReport(
        report_id=str(rec.id or ""),
        store_id=str(rec.store_id),
        analysis_week=rec.analysis_week.isoformat(),
        total_feedback_count=rec.total_feedback_count,
    )
    if rec.average_quality_score is not None:
        msg.average_quality_score = rec.average_quality_score
    return _set(
        msg,
        positive_trends=json_value(rec.positive_trends),
        negative_issues=json_value(rec.negative_issues),
        new_issues=json_value(rec.new_issues),
        department_insights=json_value(rec.department_insights),
        historical_comparison=json_value(rec.historical_comparison),
        predictive_insights=json_value(rec.predictive_insights),
        actionable_recommendations=json_value(rec.actionable_recommendations),
        report_metadata=json_value(rec.report_metadata),
        generated_at=timestamp(rec.generated_at),
    )


def fraud_result(rec: r.FraudResult) -> pb.FraudResult:
    return _set(
        pb.FraudResult(
            fraud_result_id=str(rec.id or ""),
            session_id=str(rec.call_session_id or ""),
            check_type=CHECK_TYPE_TO_PB[rec.check_type],
            is_suspicious=rec.is_suspicious,
            confidence_level=rec.confidence_level,
            decision_reasoning=rec.decision_reasoning or "",
            manual_review_required=rec.manual_review_required,
            reviewed_by=str(rec.reviewed_by or ""),
            review_decision=(
                REVIEW_TO_PB[rec.review_decision] if rec.review_decision else pb.REVIEW_DECISION_UNSPECIFIED
            ),
        ),
        fraud_indicators=json_value(rec.fraud_indicators),
        context_violations=json_value(rec.context_violations),
        created_at=timestamp(rec.created_at),
    )


def store(rec: r.StoreRecord) -> pb.Store:
    return pb.Store(
        store_id=str(rec.id),
        business_id=str(rec.business_id),
        name=rec.name,
        timezone=rec.timezone,
        currency=rec.currency,
    )


def verification(rec: r.VerificationRecord) -> pb.Verification:
    return _set(
        pb.Verification(
            customer_verification_id=str(rec.id),
            store_id=str(rec.store_id),
            purchase_amount=f"{rec.amount:.2f}",
        ),
        purchase_time=timestamp(rec.purchased_at),
        verified_at=timestamp(rec.verified_at),
    )
