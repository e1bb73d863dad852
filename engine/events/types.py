"""What the engine tells backend services: event types, their payloads, the envelope and the cursor.

Every event is written in the transaction of the change it reports (storage calls
``tx.events.emit``), so it exists exactly when the change committed. Its id,
``type:subject:version``, is its idempotency key: the same on every webhook retry and
every WatchEvents replay; ``version`` counts the events of one subject (a reward's
third change is ``reward.changed:<session>:3``), so a receiver that gets them out of
order can keep the newest. Payloads carry ids, states, scores and amounts — never a
phone number, a transcript or a summary.

=====================  ==========================  ==================================================
type                   subject                     when
=====================  ==========================  ==================================================
``call.settled``       the session id              a session reached its final status: completed,
                                                   abandoned, or failed with no retry to follow
``assessment.stored``  the session id              a call's assessment was stored or changed
``fraud.verdict``      the session id              fraud checks stored, or a review decided
``reward.changed``     the session id              the reward ledger entry was created or changed
``report.ready``       ``<store id>:<week>``       a weekly report was built (or rebuilt)
=====================  ==========================  ==================================================
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import uuid
from typing import Any

from engine.domain import FailureReason, SessionStatus
from engine.errors import ValidationError

CALL_SETTLED = "call.settled"
ASSESSMENT_STORED = "assessment.stored"
FRAUD_VERDICT = "fraud.verdict"
REWARD_CHANGED = "reward.changed"
REPORT_READY = "report.ready"
EVENT_TYPES = (CALL_SETTLED, ASSESSMENT_STORED, FRAUD_VERDICT, REWARD_CHANGED, REPORT_READY)

WEBHOOK_KIND = "events.webhook"
"""Job kind of one delivery. Payload: ``{"event_id": str, "endpoint": name}``."""
NOTIFY_CHANNEL = "callengine_events"
"""``NOTIFY`` channel of committed events (payload: the store id): wakes WatchEvents readers."""


def is_settled(status: SessionStatus, failure_reason: str | None) -> bool:
    """A terminal status nothing more will follow (a retryable failure waits for its retry decision)."""
    if not status.terminal:
        return False
    if status is not SessionStatus.FAILED or not failure_reason:
        return True
    try:
        return not FailureReason(failure_reason).retryable
    except ValueError:
        return True  # a reason this version does not know is never retried by it


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def call_settled_payload(
    *,
    session_id: uuid.UUID,
    verification_id: uuid.UUID,
    store_id: uuid.UUID,
    status: SessionStatus,
    failure_reason: str | None,
    retry_count: int,
    duration_seconds: int | None,
    call_initiated_at: dt.datetime | None,
    call_connected_at: dt.datetime | None,
    call_ended_at: dt.datetime | None,
) -> dict[str, Any]:
    return {
        "session_id": str(session_id),
        "customer_verification_id": str(verification_id),
        "store_id": str(store_id),
        "status": status.value,
        "failure_reason": failure_reason,
        "attempts": retry_count + 1,
        "duration_seconds": duration_seconds,
        "call_initiated_at": _iso(call_initiated_at),
        "call_connected_at": _iso(call_connected_at),
        "call_ended_at": _iso(call_ended_at),
        # Analysis follows a completed call: assessment.stored / fraud.verdict / reward.changed.
        "analysis_follows": status is SessionStatus.COMPLETED,
    }


@dataclasses.dataclass(frozen=True)
class Cursor:
    """A position in the event feed: after the event of transaction ``tx_id`` numbered ``seq``."""

    tx_id: int
    seq: int

    _RE = re.compile(r"^v1\.(\d{1,19})\.(-1|\d{1,19})$")

    def encode(self) -> str:
        return f"v1.{self.tx_id}.{self.seq}"

    @classmethod
    def decode(cls, text: str, field: str = "cursor") -> Cursor:
        m = cls._RE.fullmatch(text)
        if m is None:
            raise ValidationError(field, "is not a cursor returned by WatchEvents")
        return cls(int(m.group(1)), int(m.group(2)))


@dataclasses.dataclass(frozen=True)
class Event:
    """One stored event as readers see it."""

    id: str
    seq: int
    tx_id: int
    type: str
    store_id: uuid.UUID
    subject: str
    version: int
    occurred_at: dt.datetime
    payload: dict[str, Any]

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.tx_id, self.seq)

    def envelope(self) -> dict[str, Any]:
        """The webhook body (Standard Webhooks' ``type``/``timestamp``/``data``, plus ids)."""
        return {
            "id": self.id,
            "type": self.type,
            "timestamp": _iso(self.occurred_at),
            "store_id": str(self.store_id),
            "subject": self.subject,
            "version": self.version,
            "data": self.payload,
        }

    def body(self) -> bytes:
        """The exact bytes POSTed (and signed); the same on every attempt."""
        return json.dumps(self.envelope(), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
