"""Typed inputs and results of the analysis (msgspec Structs; JSONB payloads included)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec

from engine.domain import CheckType, MessageType, SessionStatus, Speaker

Sentiment = Literal["positive", "negative", "neutral"]
Priority = Literal["low", "medium", "high"]


class TranscriptLine(msgspec.Struct, frozen=True):
    speaker: Speaker
    content: str
    order: int = 0
    timestamp_ms: int = 0
    message_type: MessageType | None = None


class ActionableItem(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One entry of quality_assessments.business_actionable_items."""

    topic: str
    sentiment: Sentiment
    suggestion: str
    department: str | None = None
    priority: Priority = "medium"
    source: Literal["llm", "rules"] = "rules"


class Signals(msgspec.Struct, frozen=True):
    """Deterministic measurements of one transcript."""

    customer_turns: int
    customer_words: int
    mean_answer_words: float
    questions_asked: int
    questions_answered: int
    coverage: float
    departments: list[str]
    foreign_departments: list[str]
    products: list[str]
    times: int
    topics: list[str]
    specific_mentions: int
    generic_answers: int
    generic_ratio: float
    positive_mentions: int
    negative_mentions: int


class TokenUsage(msgspec.Struct, frozen=True):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class LLMCallInfo(msgspec.Struct, frozen=True):
    """What one structured LLM call cost and whether it produced a usable answer."""

    model: str
    prompt_version: str
    attempts: int
    latency_ms: float
    usage: TokenUsage | None = None
    error: str | None = None
    """Set when the answer was not used: the reason (exception type, malformed answer…)."""


class AssessmentMetadata(msgspec.Struct, frozen=True):
    """quality_assessments.analysis_metadata."""

    status: Literal["scored", "insufficient_transcript"]
    rules_only: bool
    reasons: list[str]
    prompt_version: str
    model: str | None
    llm: LLMCallInfo | None
    signals: Signals | None
    context_version: int | None
    context_missing: bool
    scoring_formula: str
    assessed_at: dt.datetime


class FraudReason(msgspec.Struct, frozen=True):
    """One entry of quality_assessments.fraud_reasons."""

    check_type: CheckType
    confidence: float
    indicators: list[str]


class Assessment(msgspec.Struct, frozen=True):
    """One quality_assessments row (minus ids)."""

    legitimacy_score: float
    depth_score: float
    usefulness_score: float
    overall_quality_score: float
    reward_percentage: float
    analysis_summary: str
    business_actionable_items: list[ActionableItem]
    analysis_metadata: AssessmentMetadata
    is_fraudulent: bool = False
    fraud_reasons: list[FraudReason] | None = None


class CallFacts(msgspec.Struct, frozen=True):
    """What the fraud checks know about a call besides its words."""

    session_id: str
    store_id: str
    status: SessionStatus
    call_initiated_at: dt.datetime
    call_connected_at: dt.datetime | None = None
    call_ended_at: dt.datetime | None = None
    duration_seconds: float | None = None
    purchase_at: dt.datetime | None = None
    """Purchase time of the verification (aware datetime)."""
    verified_at: dt.datetime | None = None
    phone_index: str | None = None
    """Blind index of the phone number; never the number."""


class PhoneUse(msgspec.Struct, frozen=True):
    """Another session of the same phone (by blind index)."""

    session_id: str
    store_id: str
    at: dt.datetime


class DuplicateCandidate(msgspec.Struct, frozen=True):
    """A recent call's MinHash signature, to compare against."""

    session_id: str
    phone_index: str | None
    signature: list[int]
    same_store: bool = True
    """Whether the call was at the same store (cross-store duplicates weigh less)."""


class PatternEvidence(msgspec.Struct, frozen=True):
    same_phone: list[PhoneUse] = []
    """Other sessions with the same phone index inside the window."""
    recent_signatures: list[DuplicateCandidate] = []
    store_sessions_in_burst_window: int = 0
    """Sessions of this store started inside the burst window ending at this call."""


class CheckResult(msgspec.Struct, frozen=True):
    """One fraud_detection_results row (minus ids and review fields)."""

    check_type: CheckType
    is_suspicious: bool
    confidence_level: float
    fraud_indicators: list[str]
    context_violations: list[str]
    decision_reasoning: str
    manual_review_required: bool = False
    details: dict[str, Any] = {}
    """Extra machine data kept in fraud_indicators' JSON (e.g. the MinHash signature)."""


class FraudVerdict(msgspec.Struct, frozen=True):
    checks: list[CheckResult]
    combined_confidence: float
    is_fraudulent: bool
    manual_review_required: bool
    fraud_reasons: list[FraudReason]
