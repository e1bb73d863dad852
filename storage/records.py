"""Typed records crossing the storage boundary (msgspec Structs; never ORM objects or dicts).

Scores are floats with two decimals (the seed's DECIMAL(3,2)); timestamps are
timezone-aware UTC. Fields a repository fills in on write (ids, created_at)
default to None on input.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, Generic, TypeVar

import msgspec

from engine.domain import CheckType, ConnectionQuality, MessageType, ReviewDecision, SessionStatus, Speaker
from engine.rewards.ledger import RewardState
from engine.rewards.money import Money

JSON = dict[str, Any] | list[Any]
T = TypeVar("T")


class Page(msgspec.Struct, Generic[T], frozen=True):
    items: list[T]
    next_page_token: str | None = None


class StoreRecord(msgspec.Struct, frozen=True):
    id: uuid.UUID
    business_id: uuid.UUID
    name: str
    timezone: str = "Europe/Stockholm"
    call_windows: JSON | None = None
    currency: str = "SEK"


class VerificationRecord(msgspec.Struct, frozen=True):
    id: uuid.UUID
    store_id: uuid.UUID
    phone_e164: str
    purchased_at: dt.datetime
    amount: float
    verified_at: dt.datetime

    def __repr__(self) -> str:
        return f"VerificationRecord(id={self.id}, store_id={self.store_id}, phone=<redacted>)"


class CallSessionRecord(msgspec.Struct, frozen=True):
    """A feedback_call_sessions row without the phone number (see ClaimedSession)."""

    id: uuid.UUID
    customer_verification_id: uuid.UUID
    store_id: uuid.UUID
    session_status: SessionStatus
    call_initiated_at: dt.datetime
    expires_at: dt.datetime
    retry_count: int = 0
    call_connected_at: dt.datetime | None = None
    call_ended_at: dt.datetime | None = None
    duration_seconds: int | None = None
    failure_reason: str | None = None
    openai_session_id: str | None = None
    created_at: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None
    host_id: str | None = None
    phase: str | None = None
    twilio_call_sid: str | None = None
    updated_at: dt.datetime | None = None


class ClaimedSession(msgspec.Struct, frozen=True):
    """A session claimed for dialing, with the decrypted number (never log it)."""

    session: CallSessionRecord
    phone_e164: str

    def __repr__(self) -> str:
        return f"ClaimedSession(session={self.session.id}, phone=<redacted>)"


class SessionEvent(msgspec.Struct, frozen=True):
    id: int
    session_id: uuid.UUID
    status: SessionStatus
    at: dt.datetime
    phase: str | None = None
    detail: str | None = None


class TranscriptLine(msgspec.Struct, frozen=True):
    speaker: Speaker
    message_order: int
    content: str
    timestamp_ms: int
    message_type: MessageType
    confidence_score: float | None = None
    language_detected: str | None = "sv"

    def __repr__(self) -> str:
        return f"TranscriptLine({self.speaker}, #{self.message_order}, <redacted>)"


class CallMetrics(msgspec.Struct, frozen=True):
    connection_quality: ConnectionQuality
    audio_clarity_score: float | None = None
    latency_ms: int | None = None
    packet_loss_percentage: float | None = None
    openai_api_latency: int | None = None
    technical_errors: JSON | None = None
    bandwidth_usage_kb: int | None = None
    device_info: JSON | None = None
    id: uuid.UUID | None = None
    call_session_id: uuid.UUID | None = None
    measured_at: dt.datetime | None = None


class Assessment(msgspec.Struct, frozen=True):
    call_session_id: uuid.UUID
    legitimacy_score: float
    depth_score: float
    usefulness_score: float
    overall_quality_score: float
    reward_percentage: float
    is_fraudulent: bool = False
    fraud_reasons: JSON | None = None
    analysis_summary: str | None = None
    business_actionable_items: JSON | None = None
    analysis_metadata: JSON | None = None
    id: uuid.UUID | None = None
    store_id: uuid.UUID | None = None
    created_at: dt.datetime | None = None
    anonymized_at: dt.datetime | None = None


class FraudResult(msgspec.Struct, frozen=True):
    check_type: CheckType
    is_suspicious: bool
    confidence_level: float
    fraud_indicators: JSON | None = None
    context_violations: JSON | None = None
    decision_reasoning: str | None = None
    manual_review_required: bool = False
    reviewed_by: uuid.UUID | None = None
    review_decision: ReviewDecision | None = None
    id: uuid.UUID | None = None
    call_session_id: uuid.UUID | None = None
    created_at: dt.datetime | None = None


class FraudFilter(msgspec.Struct, frozen=True):
    store_id: uuid.UUID | None = None
    call_session_id: uuid.UUID | None = None
    check_type: CheckType | None = None
    suspicious_only: bool = False
    review_required_only: bool = False
    since: dt.datetime | None = None
    until: dt.datetime | None = None


class FraudStatistics(msgspec.Struct, frozen=True):
    check_type: CheckType
    total: int
    suspicious: int
    manual_review: int
    confirmed_fraud: int
    false_positive: int


class QualityStatistics(msgspec.Struct, frozen=True):
    """Call quality aggregated per connection_quality for one store (no per-call data)."""

    connection_quality: ConnectionQuality
    calls: int
    avg_latency_ms: float | None
    avg_packet_loss: float | None


class BusinessContext(msgspec.Struct, frozen=True):
    store_id: uuid.UUID
    operating_hours: JSON
    departments: JSON
    question_configuration: JSON
    baseline_facts: JSON
    current_campaigns: JSON | None = None
    context_completeness_score: float | None = None
    context_version: int | None = None
    id: uuid.UUID | None = None
    last_updated_at: dt.datetime | None = None
    updated_by: uuid.UUID | None = None


class WeeklyReport(msgspec.Struct, frozen=True):
    store_id: uuid.UUID
    analysis_week: dt.date
    total_feedback_count: int
    average_quality_score: float | None = None
    positive_trends: JSON | None = None
    negative_issues: JSON | None = None
    new_issues: JSON | None = None
    department_insights: JSON | None = None
    historical_comparison: JSON | None = None
    predictive_insights: JSON | None = None
    actionable_recommendations: JSON | None = None
    report_metadata: JSON | None = None
    id: uuid.UUID | None = None
    generated_at: dt.datetime | None = None


class CleanupReport(msgspec.Struct, frozen=True):
    """Rows removed or anonymized per table (or that would be, with dry_run)."""

    dry_run: bool
    counts: dict[str, int]


class ErasureReport(msgspec.Struct, frozen=True):
    counts: dict[str, int]


class RewardEntry(msgspec.Struct, frozen=True):
    """One reward_ledger row: what a call's customer is owed, and whether it may be paid."""

    id: uuid.UUID
    call_session_id: uuid.UUID
    assessment_id: uuid.UUID
    store_id: uuid.UUID
    state: RewardState
    state_reason: str
    purchase: Money
    reward_percentage: Decimal
    amount: Money
    created_at: dt.datetime
    updated_at: dt.datetime
    settlement_reference: str | None = None
    settled_by: uuid.UUID | None = None
    paid_at: dt.datetime | None = None


class RewardFilter(msgspec.Struct, frozen=True):
    store_id: uuid.UUID | None = None
    state: RewardState | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


class RewardTotal(msgspec.Struct, frozen=True):
    """A store's rewards in one state and currency (what a store owner may see)."""

    state: RewardState
    entries: int
    amount: Money


class StoreStatistics(msgspec.Struct, frozen=True):
    """A store's aggregates over [since, until): no per-call or per-customer data."""

    store_id: uuid.UUID
    since: dt.datetime
    until: dt.datetime
    calls_by_status: dict[str, int]
    assessed_calls: int
    average_quality: float | None
    average_reward_percentage: float | None
    fraudulent_calls: int
    fraud: list[FraudStatistics]
    call_quality: list[QualityStatistics]
    rewards: list[RewardTotal]
