"""SessionStore over the real repositories (storage/): PostgreSQL, encrypted, RLS as the service.

One short transaction per call (never a session shared between tasks). Status
changes are compare-and-set on ``session_status``; internal phases (dialling,
ringing, closing) are written to the ``phase`` column and the session events,
so a phase-only change is a CAS on the unchanged status.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any

from engine.errors import ConflictError, NotFoundError
from engine.session.control import ConsentRecord, ProgressUpdate
from engine.session.conversation import BusinessContext, InterviewProgress, context_from_profile
from engine.session.state import CallState
from engine.session.store import CallMetricsRecord, TranscriptLine
from engine.telephony.inbound import Waiting
from storage import Database, Principal
from storage.records import CallMetrics as StoredMetrics
from storage.records import TranscriptLine as StoredLine
from storage.repositories.sessions import UPDATABLE

log = logging.getLogger(__name__)


def _local_today(timezone: str, now: dt.datetime) -> dt.date:
    """The store's date at ``now`` (campaign dates are local); UTC if the zone is unknown."""
    try:
        return now.astimezone(zoneinfo.ZoneInfo(timezone)).date()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return now.astimezone(dt.UTC).date()


def _uuid(value: str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


class PostgresSessionStore:
    def __init__(self, db: Database, *, host_id: str | None = None) -> None:
        self._db = db
        self._principal = Principal.service()
        self._host_id = host_id

    async def load_context(self, session_id: str, store_id: str) -> BusinessContext:
        sid = _uuid(store_id)
        async with self._db.transaction(self._principal) as tx:
            store = await tx.stores.get_store(sid)
            try:
                profile = await tx.contexts.get_current(sid)
            except NotFoundError:
                log.warning(
                    "[session=%s store=%s] no business context; generic interview", session_id, store_id
                )
                return BusinessContext(store_name=store.name)
        return context_from_profile(
            store.name,
            profile.departments,
            profile.current_campaigns,
            profile.question_configuration,
            today=_local_today(store.timezone, self._db.clock.now()),
        )

    async def record_transition(
        self, session_id: str, old: CallState, new: CallState, fields: Mapping[str, Any]
    ) -> None:
        values = {k: v for k, v in fields.items() if k in UPDATABLE}
        values["phase"] = new.phase.value
        if self._host_id is not None:
            values.setdefault("host_id", self._host_id)
        sid = _uuid(session_id)
        try:
            async with self._db.transaction(self._principal) as tx:
                await tx.sessions.transition(
                    sid,
                    old.status,
                    new.status,
                    now=self._db.clock.now(),
                    detail=f"{old.phase.value}->{new.phase.value}",
                    **values,
                )
        except ConflictError:
            # A write retried after a lost reply may already have committed: then it is done.
            async with self._db.transaction(self._principal) as tx:
                current = await tx.sessions.get(sid)
            if (
                current.session_status is new.status
                and current.phase == new.phase.value
                and (self._host_id is None or current.host_id == self._host_id)
            ):
                return
            raise

    async def add_transcript_lines(self, session_id: str, lines: Sequence[TranscriptLine]) -> None:
        stored = [
            StoredLine(
                speaker=line.speaker,
                message_order=line.message_order,
                content=line.content,
                timestamp_ms=line.timestamp_ms,
                message_type=line.message_type,
                confidence_score=line.confidence_score,
                language_detected=line.language_detected,
            )
            for line in lines
        ]
        async with self._db.transaction(self._principal) as tx:
            await tx.transcripts.add_lines(_uuid(session_id), stored)

    async def last_message_order(self, session_id: str) -> int:
        async with self._db.transaction(self._principal) as tx:
            return await tx.transcripts.last_order(_uuid(session_id))

    async def record_call_sid(self, session_id: str, call_sid: str) -> None:
        async with self._db.transaction(self._principal) as tx:
            await tx.sessions.set_call_sid(_uuid(session_id), call_sid, self._db.clock.now())

    async def give_back(self, session_id: str, old: CallState, reason: str, retry_in_s: float) -> None:
        now = self._db.clock.now()
        async with self._db.transaction(self._principal) as tx:
            await tx.sessions.give_back(
                _uuid(session_id), reason, now + dt.timedelta(seconds=retry_in_s), now, host_id=self._host_id
            )

    async def add_call_metrics(self, session_id: str, metrics: CallMetricsRecord) -> None:
        stored = StoredMetrics(
            connection_quality=metrics.connection_quality,
            audio_clarity_score=metrics.audio_clarity_score,
            latency_ms=metrics.latency_ms,
            packet_loss_percentage=min(metrics.packet_loss_percentage or 0.0, 99.99),
            openai_api_latency=metrics.openai_api_latency,
            technical_errors=metrics.technical_errors,
            bandwidth_usage_kb=metrics.bandwidth_usage_kb,
            device_info=metrics.device_info,
        )
        async with self._db.transaction(self._principal) as tx:
            await tx.metrics.add(_uuid(session_id), stored)

    async def add_opt_out(self, session_id: str, phone_e164: str) -> None:
        async with self._db.transaction(self._principal) as tx:
            await tx.opt_outs.add_opt_out(phone_e164)

    async def is_opted_out(self, phone_e164: str) -> bool:
        async with self._db.transaction(self._principal) as tx:
            return await tx.opt_outs.is_opted_out(phone_e164)

    async def record_consent(self, session_id: str, attempt: int, record: ConsentRecord) -> None:
        async with self._db.transaction(self._principal) as tx:
            await tx.interviews.add_consent(
                _uuid(session_id),
                attempt=attempt,
                text_version=record.text_version,
                answer=record.answer.value,
                source=record.source.value,
                asked_at=record.asked_at,
                answered_at=record.answered_at,
            )

    async def record_progress(self, session_id: str, attempt: int, update: ProgressUpdate) -> None:
        async with self._db.transaction(self._principal) as tx:
            await tx.interviews.record_progress(
                _uuid(session_id),
                question_id=update.question_id,
                status=update.status,
                source=update.source.value,
                attempt=attempt,
            )

    async def load_progress(self, session_id: str) -> InterviewProgress:
        sid = _uuid(session_id)
        async with self._db.transaction(self._principal) as tx:
            rows = await tx.interviews.progress(sid)
            consents = await tx.interviews.consents(sid)
        return InterviewProgress(
            answered=frozenset(r.question_id for r in rows if r.status == "answered"),
            skipped=frozenset(r.question_id for r in rows if r.status == "skipped"),
            attempts=sum(1 for c in consents if c.asked_at is not None),
        )

    async def claim_inbound(self, phone_e164: str, host_id: str) -> Waiting | None:
        async with self._db.transaction(self._principal) as tx:
            claimed = await tx.interviews.claim_call_back(phone_e164, host_id, self._db.clock.now())
        if claimed is None:
            return None
        return Waiting(str(claimed.session_id), str(claimed.store_id), claimed.retry_count + 1)

    async def release_inbound(self, waiting: Waiting) -> None:
        now = self._db.clock.now()
        async with self._db.transaction(self._principal) as tx:
            await tx.sessions.defer(_uuid(waiting.session_id), now, now)
