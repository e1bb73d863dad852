"""The seven seed tables of the shared data model, column for column.

Seed columns keep the seed's names, types, defaults and nullability, except
where encryption forces a change (documented in docs/storage.md):
``feedback_call_sessions.phone_number`` is TEXT, because an AES-GCM envelope
does not fit VARCHAR(20) (the plaintext is still validated E.164, <= 16 chars).
Columns marked "engine addition" are not in the seed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from engine.domain import CheckType, ConnectionQuality, MessageType, ReviewDecision, SessionStatus, Speaker
from storage.models.base import UTC_NOW, Base, between, in_list
from storage.types import EncryptedText, UtcDateTime

JSON = dict[str, Any] | list[Any]


class FeedbackCallSession(Base):
    __tablename__ = "feedback_call_sessions"
    __table_args__ = (
        CheckConstraint(in_list("session_status", SessionStatus), name="session_status"),
        CheckConstraint("retry_count IS NULL OR (retry_count >= 0 AND retry_count <= 3)", name="retry_count"),
        CheckConstraint("duration_seconds IS NULL OR duration_seconds >= 0", name="duration_seconds"),
        Index("idx_feedback_call_sessions_store_status", "store_id", "session_status"),
        Index("idx_feedback_call_sessions_expires", "expires_at"),
        Index("idx_feedback_call_sessions_verification", "customer_verification_id"),
        # engine additions
        Index(
            "uq_feedback_call_sessions_live_verification",
            "customer_verification_id",
            unique=True,
            postgresql_where=text("session_status IN ('pending', 'in_progress')"),
        ),
        Index(
            "idx_feedback_call_sessions_due",
            "next_attempt_at",
            postgresql_where=text("session_status = 'pending' AND next_attempt_at IS NOT NULL"),
        ),
        Index("idx_feedback_call_sessions_host", "host_id"),
        Index("idx_feedback_call_sessions_phone_bidx", "phone_bidx"),
        Index("idx_feedback_call_sessions_created", "store_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    customer_verification_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("customer_verifications.id"), nullable=False
    )
    store_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("stores.id"), nullable=False)
    phone_number: Mapped[str] = mapped_column(
        EncryptedText("customer_verifications", "phone_number", row_column="customer_verification_id"),
        nullable=False,
    )
    session_status: Mapped[str] = mapped_column(String(20), nullable=False)
    call_initiated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)
    call_connected_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    call_ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    retry_count: Mapped[int | None] = mapped_column(Integer, server_default=text("0"))
    failure_reason: Mapped[str | None] = mapped_column(String(100))
    openai_session_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, server_default=UTC_NOW)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)
    # engine additions
    phone_bidx: Mapped[str | None] = mapped_column(String(64))
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    host_id: Mapped[str | None] = mapped_column(String(100))
    phase: Mapped[str | None] = mapped_column(String(20))
    twilio_call_sid: Mapped[str | None] = mapped_column(String(64))
    anonymized_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    """Renewed by the host that holds the live call; once past, the reconciler may settle it."""
    updated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, server_default=UTC_NOW)


class ConversationTranscript(Base):
    __tablename__ = "conversation_transcripts"
    __table_args__ = (
        CheckConstraint(in_list("speaker", Speaker), name="speaker"),
        CheckConstraint(in_list("message_type", MessageType), name="message_type"),
        CheckConstraint(between("confidence_score", "0", "1"), name="confidence_score"),
        CheckConstraint("message_order >= 0", name="message_order"),
        CheckConstraint("timestamp_ms >= 0", name="timestamp_ms"),
        # unique: a retried call continues the order, it never reuses it
        Index("idx_conversation_transcripts_session_order", "call_session_id", "message_order", unique=True),
        Index("idx_conversation_transcripts_speaker", "call_session_id", "speaker"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    call_session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("feedback_call_sessions.id"), nullable=False
    )
    speaker: Mapped[str] = mapped_column(String(10), nullable=False)
    message_order: Mapped[int] = mapped_column(Integer, nullable=False)
    content: Mapped[str] = mapped_column(EncryptedText("conversation_transcripts", "content"), nullable=False)
    timestamp_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    confidence_score: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    language_detected: Mapped[str | None] = mapped_column(String(10), server_default=text("'sv'"))
    message_type: Mapped[str] = mapped_column(String(20), nullable=False)
    created_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, server_default=UTC_NOW)


class QualityAssessment(Base):
    __tablename__ = "quality_assessments"
    __table_args__ = (
        CheckConstraint(between("legitimacy_score", "0", "1"), name="legitimacy_score"),
        CheckConstraint(between("depth_score", "0", "1"), name="depth_score"),
        CheckConstraint(between("usefulness_score", "0", "1"), name="usefulness_score"),
        CheckConstraint(between("overall_quality_score", "0", "1"), name="overall_quality_score"),
        CheckConstraint(between("reward_percentage", "2", "15"), name="reward_percentage"),
        # one assessment per session (the seed's 1:1)
        Index("idx_quality_assessments_session", "call_session_id", unique=True),
        Index("idx_quality_assessments_store_quality", "store_id", "overall_quality_score"),
        Index("idx_quality_assessments_fraud", "is_fraudulent", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    call_session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("feedback_call_sessions.id"), nullable=False
    )
    legitimacy_score: Mapped[Decimal] = mapped_column(Numeric(3, 2), nullable=False)
    depth_score: Mapped[Decimal] = mapped_column(Numeric(3, 2), nullable=False)
    usefulness_score: Mapped[Decimal] = mapped_column(Numeric(3, 2), nullable=False)
    overall_quality_score: Mapped[Decimal] = mapped_column(Numeric(3, 2), nullable=False)
    reward_percentage: Mapped[Decimal] = mapped_column(Numeric(4, 2), nullable=False)
    is_fraudulent: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    fraud_reasons: Mapped[JSON | None] = mapped_column(JSONB)
    analysis_summary: Mapped[str | None] = mapped_column(
        EncryptedText("quality_assessments", "analysis_summary")
    )
    business_actionable_items: Mapped[JSON | None] = mapped_column(JSONB)
    analysis_metadata: Mapped[JSON | None] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, server_default=UTC_NOW)
    # engine additions: the seed indexes (store_id, overall_quality_score) "via session"
    store_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("stores.id"), nullable=False)
    anonymized_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class BusinessContextProfile(Base):
    __tablename__ = "business_context_profiles"
    __table_args__ = (
        CheckConstraint(between("context_completeness_score", "0", "1"), name="context_completeness_score"),
        CheckConstraint("context_version IS NULL OR context_version >= 1", name="context_version"),
        # unique: one row per (store, version); the seed names this index
        Index("idx_business_context_profiles_store", "store_id", "context_version", unique=True),
        Index("idx_business_context_profiles_updated", "last_updated_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    store_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("stores.id"), nullable=False)
    context_version: Mapped[int | None] = mapped_column(Integer, server_default=text("1"))
    operating_hours: Mapped[JSON] = mapped_column(JSONB, nullable=False)
    departments: Mapped[JSON] = mapped_column(JSONB, nullable=False)
    current_campaigns: Mapped[JSON | None] = mapped_column(JSONB)
    question_configuration: Mapped[JSON] = mapped_column(JSONB, nullable=False)
    baseline_facts: Mapped[JSON] = mapped_column(JSONB, nullable=False)
    context_completeness_score: Mapped[Decimal | None] = mapped_column(
        Numeric(3, 2), server_default=text("0.50")
    )
    last_updated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, server_default=UTC_NOW)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class WeeklyAnalysisReport(Base):
    __tablename__ = "weekly_analysis_reports"
    __table_args__ = (
        CheckConstraint("total_feedback_count >= 0", name="total_feedback_count"),
        CheckConstraint(between("average_quality_score", "0", "1"), name="average_quality_score"),
        CheckConstraint("EXTRACT(ISODOW FROM analysis_week) = 1", name="analysis_week_monday"),
        # unique: a rebuild replaces the store's report for that week
        Index("idx_weekly_analysis_reports_store_week", "store_id", "analysis_week", unique=True),
        Index("idx_weekly_analysis_reports_generated", "generated_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    store_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("stores.id"), nullable=False)
    analysis_week: Mapped[dt.date] = mapped_column(Date, nullable=False)
    total_feedback_count: Mapped[int] = mapped_column(Integer, nullable=False)
    average_quality_score: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    positive_trends: Mapped[JSON | None] = mapped_column(JSONB)
    negative_issues: Mapped[JSON | None] = mapped_column(JSONB)
    new_issues: Mapped[JSON | None] = mapped_column(JSONB)
    department_insights: Mapped[JSON | None] = mapped_column(JSONB)
    historical_comparison: Mapped[JSON | None] = mapped_column(JSONB)
    predictive_insights: Mapped[JSON | None] = mapped_column(JSONB)
    actionable_recommendations: Mapped[JSON | None] = mapped_column(JSONB)
    report_metadata: Mapped[JSON | None] = mapped_column(JSONB)
    generated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, server_default=UTC_NOW)


class CallQualityMetric(Base):
    __tablename__ = "call_quality_metrics"
    __table_args__ = (
        CheckConstraint(in_list("connection_quality", ConnectionQuality), name="connection_quality"),
        CheckConstraint(between("audio_clarity_score", "0", "1"), name="audio_clarity_score"),
        CheckConstraint(between("packet_loss_percentage", "0", "100"), name="packet_loss_percentage"),
        Index("idx_call_quality_metrics_session", "call_session_id"),
        Index("idx_call_quality_metrics_quality", "connection_quality", "measured_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    call_session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("feedback_call_sessions.id"), nullable=False
    )
    connection_quality: Mapped[str] = mapped_column(String(20), nullable=False)
    audio_clarity_score: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    packet_loss_percentage: Mapped[Decimal | None] = mapped_column(Numeric(4, 2))
    openai_api_latency: Mapped[int | None] = mapped_column(Integer)
    technical_errors: Mapped[JSON | None] = mapped_column(JSONB)
    bandwidth_usage_kb: Mapped[int | None] = mapped_column(Integer)
    device_info: Mapped[JSON | None] = mapped_column(JSONB)
    measured_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, server_default=UTC_NOW)


class FraudDetectionResult(Base):
    __tablename__ = "fraud_detection_results"
    __table_args__ = (
        CheckConstraint(in_list("check_type", CheckType), name="check_type"),
        CheckConstraint(between("confidence_level", "0", "1"), name="confidence_level"),
        CheckConstraint(
            f"review_decision IS NULL OR {in_list('review_decision', ReviewDecision)}", name="review_decision"
        ),
        Index("idx_fraud_detection_results_session", "call_session_id", "check_type"),
        Index("idx_fraud_detection_results_suspicious", "is_suspicious", "created_at"),
        Index("idx_fraud_detection_results_review", "manual_review_required", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    call_session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("feedback_call_sessions.id"), nullable=False
    )
    check_type: Mapped[str] = mapped_column(String(50), nullable=False)
    is_suspicious: Mapped[bool] = mapped_column(Boolean, nullable=False)
    confidence_level: Mapped[Decimal] = mapped_column(Numeric(3, 2), nullable=False)
    fraud_indicators: Mapped[JSON | None] = mapped_column(JSONB)
    context_violations: Mapped[JSON | None] = mapped_column(JSONB)
    decision_reasoning: Mapped[str | None] = mapped_column(
        EncryptedText("fraud_detection_results", "decision_reasoning")
    )
    manual_review_required: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    review_decision: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, server_default=UTC_NOW)
