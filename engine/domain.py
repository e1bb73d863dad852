"""Enums and small value types shared by every part of the engine.

Values are the exact strings the seed tables store (``storage/models/seed.py``).
"""

from __future__ import annotations

import enum


class SessionStatus(enum.StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    ABANDONED = "abandoned"

    @property
    def terminal(self) -> bool:
        return self in (SessionStatus.COMPLETED, SessionStatus.FAILED, SessionStatus.ABANDONED)


class Speaker(enum.StrEnum):
    AI = "ai"
    CUSTOMER = "customer"


class MessageType(enum.StrEnum):
    QUESTION = "question"
    RESPONSE = "response"
    SYSTEM = "system"
    ERROR = "error"


class ConnectionQuality(enum.StrEnum):
    EXCELLENT = "excellent"
    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"


class CheckType(enum.StrEnum):
    TIMING = "timing"
    CONTENT = "content"
    CONTEXT = "context"
    PATTERN = "pattern"


class ReviewDecision(enum.StrEnum):
    CONFIRMED_FRAUD = "confirmed_fraud"
    FALSE_POSITIVE = "false_positive"
    NEEDS_INVESTIGATION = "needs_investigation"


class Role(enum.StrEnum):
    """Who is acting. ``service`` is the engine itself and trusted backends."""

    ADMIN = "admin"
    STORE_OWNER = "store_owner"
    SERVICE = "service"


class BusinessUserRole(enum.StrEnum):
    OWNER = "owner"
    STAFF = "staff"
    ADMIN = "admin"


class FailureReason(enum.StrEnum):
    """failure_reason values the engine writes. Retryable ones get another attempt."""

    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CALL_FAILED = "call_failed"
    VOICEMAIL = "voicemail"
    HOST_LOST = "host_lost"
    CANCELED = "canceled"
    OPTED_OUT = "opted_out"
    REALTIME_LOST = "realtime_lost"
    INTERNAL = "internal_error"
    MAX_RETRIES = "max_retries_exceeded"
    DECLINED = "declined"
    """The customer refused consent after the AI disclosure (``end_call(declined)``)."""
    WRONG_PERSON = "wrong_person"
    """Someone other than the customer answered (``end_call(wrong_person)``)."""
    CALLBACK_REQUESTED = "callback_requested"
    """The customer asked to be called at another time (``end_call(callback_requested)``): retried."""
    LANGUAGE_BARRIER = "language_barrier"
    """The customer speaks neither Swedish nor English (``end_call(language_barrier)``)."""
    REALTIME_UNAVAILABLE = "realtime_unavailable"
    """Not dialled: the Realtime API failed before the phone rang; the session waits in the queue."""
    TWILIO_UNAVAILABLE = "twilio_unavailable"
    """Not dialled: Twilio kept failing the create; the session waits in the queue."""

    @property
    def retryable(self) -> bool:
        return self in _RETRYABLE


_RETRYABLE = frozenset(
    {
        FailureReason.NO_ANSWER,
        FailureReason.BUSY,
        FailureReason.CALL_FAILED,
        FailureReason.VOICEMAIL,
        FailureReason.HOST_LOST,
        FailureReason.CALLBACK_REQUESTED,
    }
)

MAX_RETRIES = 3
