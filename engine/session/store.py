"""What a call session needs from storage: a narrow Protocol, and an in-memory implementation.

The adapter over the real repositories is :mod:`engine.session.pgstore`; unit
tests and the benchmark use :class:`MemorySessionStore`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import msgspec

from engine.domain import ConnectionQuality, MessageType, Speaker
from engine.errors import ConflictError, NotFoundError, UnavailableError
from engine.session.control import ConsentRecord, ProgressUpdate
from engine.session.conversation import BusinessContext, InterviewProgress
from engine.session.state import CallState
from engine.telephony.inbound import Waiting


class TranscriptLine(msgspec.Struct, frozen=True):
    speaker: Speaker
    message_order: int
    content: str
    timestamp_ms: int
    message_type: MessageType
    confidence_score: float | None = None
    language_detected: str = "sv"


class CallMetricsRecord(msgspec.Struct, frozen=True):
    connection_quality: ConnectionQuality
    audio_clarity_score: float | None
    latency_ms: int | None
    packet_loss_percentage: float | None
    openai_api_latency: int | None
    technical_errors: dict[str, Any]
    bandwidth_usage_kb: int
    device_info: dict[str, Any] | None = None


class SessionStore(Protocol):
    async def load_context(self, session_id: str, store_id: str) -> BusinessContext:
        """The store's current business context (NotFoundError if it has none)."""
        ...

    async def record_transition(
        self, session_id: str, old: CallState, new: CallState, fields: Mapping[str, Any]
    ) -> None:
        """Persist a state change before it is acted on. ConflictError if the stored status moved."""
        ...

    async def add_transcript_lines(self, session_id: str, lines: Sequence[TranscriptLine]) -> None:
        """Idempotent per (session, message_order): a re-sent batch writes nothing twice."""
        ...

    async def last_message_order(self, session_id: str) -> int:
        """The highest message_order stored for the session (0 if none): a retry continues after it."""
        ...

    async def record_call_sid(self, session_id: str, call_sid: str) -> None:
        """Store the Twilio CallSid the moment the create returned."""
        ...

    async def give_back(self, session_id: str, old: CallState, reason: str, retry_in_s: float) -> None:
        """Not dialled (a provider failed first): pending again, due in ``retry_in_s``, with
        ``reason`` as its failure_reason so GetCall says why it waits. No retry is counted."""
        ...

    async def add_call_metrics(self, session_id: str, metrics: CallMetricsRecord) -> None: ...

    async def add_opt_out(self, session_id: str, phone_e164: str) -> None:
        """Record that this number must never be dialled again."""
        ...

    async def is_opted_out(self, phone_e164: str) -> bool: ...

    async def record_consent(self, session_id: str, attempt: int, record: ConsentRecord) -> None:
        """Keep the attempt's consent record (audited; one per attempt, the first decision stands)."""
        ...

    async def record_progress(self, session_id: str, attempt: int, update: ProgressUpdate) -> None:
        """A question was answered or skipped (stored as the tool call arrives)."""
        ...

    async def load_progress(self, session_id: str) -> InterviewProgress:
        """What earlier attempts of the session got through (empty for a new session)."""
        ...

    async def claim_inbound(self, phone_e164: str, host_id: str) -> Waiting | None:
        """Claim this caller's session that waits for a (re)try, for a call-back on ``host_id``."""
        ...

    async def release_inbound(self, waiting: Waiting) -> None:
        """Give a claimed session back to the queue (the call-back could not take it), due now."""
        ...


class MemorySessionStore:
    """Everything in dicts; the same contract (compare-and-set on status) as the real store."""

    def __init__(self, contexts: Mapping[str, BusinessContext] | None = None) -> None:
        self.contexts: dict[str, BusinessContext] = dict(contexts or {})
        self.status: dict[str, str] = {}
        self.fields: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[tuple[str, str]]] = {}
        self.transcripts: dict[str, list[TranscriptLine]] = {}
        self.flushes: dict[str, list[float]] = {}
        self.metrics: dict[str, CallMetricsRecord] = {}
        self.opted_out: set[str] = set()
        self.consents: dict[str, dict[int, ConsentRecord]] = {}
        self.progress: dict[str, dict[str, tuple[int, ProgressUpdate]]] = {}
        self.waiting: dict[str, Waiting] = {}
        """Sessions waiting for a (re)try, by phone (tests put them here)."""
        self.claimed_by_call_back: dict[str, tuple[str, Waiting]] = {}
        self.fail_writes = False
        self.fail_reads = False
        """Tests: the database is away for reads (what a dial needs) too."""

    def _read(self) -> None:
        if self.fail_reads:
            raise UnavailableError("store unavailable (test)")

    async def load_context(self, session_id: str, store_id: str) -> BusinessContext:
        self._read()
        ctx = self.contexts.get(store_id) or self.contexts.get("*")
        if ctx is None:
            raise NotFoundError(f"no business context for store {store_id}")
        return ctx

    async def record_transition(
        self, session_id: str, old: CallState, new: CallState, fields: Mapping[str, Any]
    ) -> None:
        if self.fail_writes:
            raise UnavailableError("store unavailable (test)")
        current = self.status.get(session_id, "pending")
        if current != old.status.value:
            raise ConflictError(f"session {session_id}: stored status {current}, expected {old.status}")
        self.status[session_id] = new.status.value
        self.fields.setdefault(session_id, {}).update(fields)
        self.events.setdefault(session_id, []).append((old.phase.value, new.phase.value))

    async def add_transcript_lines(self, session_id: str, lines: Sequence[TranscriptLine]) -> None:
        if self.fail_writes:
            raise UnavailableError("store unavailable (test)")
        stored = self.transcripts.setdefault(session_id, [])
        have = {line.message_order for line in stored}
        stored.extend(line for line in lines if line.message_order not in have)
        self.flushes.setdefault(session_id, []).append(asyncio.get_running_loop().time())

    async def last_message_order(self, session_id: str) -> int:
        self._read()
        return max((line.message_order for line in self.transcripts.get(session_id, [])), default=0)

    async def record_call_sid(self, session_id: str, call_sid: str) -> None:
        if self.fail_writes:
            raise UnavailableError("store unavailable (test)")
        self.fields.setdefault(session_id, {})["twilio_call_sid"] = call_sid

    async def give_back(self, session_id: str, old: CallState, reason: str, retry_in_s: float) -> None:
        if self.fail_writes:
            raise UnavailableError("store unavailable (test)")
        self.status[session_id] = "pending"
        self.fields.setdefault(session_id, {}).update(failure_reason=reason, retry_in_s=retry_in_s)
        self.events.setdefault(session_id, []).append((old.phase.value, "pending"))

    async def add_call_metrics(self, session_id: str, metrics: CallMetricsRecord) -> None:
        self.metrics[session_id] = metrics

    async def add_opt_out(self, session_id: str, phone_e164: str) -> None:
        self.opted_out.add(phone_e164)

    async def is_opted_out(self, phone_e164: str) -> bool:
        self._read()
        return phone_e164 in self.opted_out

    async def record_consent(self, session_id: str, attempt: int, record: ConsentRecord) -> None:
        self.consents.setdefault(session_id, {}).setdefault(attempt, record)

    async def record_progress(self, session_id: str, attempt: int, update: ProgressUpdate) -> None:
        self.progress.setdefault(session_id, {})[update.question_id] = (attempt, update)

    async def load_progress(self, session_id: str) -> InterviewProgress:
        self._read()
        done = self.progress.get(session_id, {})
        reached = {a for a, r in self.consents.get(session_id, {}).items() if r.asked_at is not None}
        return InterviewProgress(
            answered=frozenset(q for q, (_, u) in done.items() if u.status == "answered"),
            skipped=frozenset(q for q, (_, u) in done.items() if u.status == "skipped"),
            attempts=len(reached),
        )

    async def claim_inbound(self, phone_e164: str, host_id: str) -> Waiting | None:
        waiting = self.waiting.pop(phone_e164, None)
        if waiting is not None:
            self.claimed_by_call_back[waiting.session_id] = (phone_e164, waiting)
        return waiting

    async def release_inbound(self, waiting: Waiting) -> None:
        phone, _ = self.claimed_by_call_back.pop(waiting.session_id)
        self.waiting[phone] = waiting

    def lines(self, session_id: str) -> list[TranscriptLine]:
        return sorted(self.transcripts.get(session_id, []), key=lambda line: line.message_order)
