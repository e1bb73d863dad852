"""conversation_transcripts: batched encrypted inserts, ordered decrypted reads (admin/service only)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import insert, select

from engine.domain import MessageType, Speaker
from engine.errors import ValidationError
from storage.models import ConversationTranscript
from storage.models.base import table_of
from storage.records import TranscriptLine
from storage.repositories._common import Repository, as_float
from storage.types import ForRow

_T = table_of(ConversationTranscript)
_C = _T.c


def _confidence(value: float | None) -> Decimal | None:
    if value is None:
        return None
    if not 0.0 <= value <= 1.0:
        raise ValidationError("confidence_score", "must be within 0.00–1.00")
    return Decimal(f"{value:.2f}")


class TranscriptRepository(Repository):
    async def add_lines(self, session_id: uuid.UUID, lines: Sequence[TranscriptLine]) -> int:
        """Insert ``lines`` in one batch (one statement); returns how many were written."""
        if not lines:
            return 0
        rows = []
        for line in lines:
            if line.message_order < 0 or line.timestamp_ms < 0:
                raise ValidationError("message_order", "message_order and timestamp_ms must be >= 0")
            if line.language_detected is not None and len(line.language_detected) > 10:
                raise ValidationError("language_detected", "must be at most 10 characters")
            row_id = uuid.uuid4()
            rows.append(
                {
                    "id": row_id,
                    "call_session_id": session_id,
                    "speaker": Speaker(line.speaker).value,
                    "message_order": line.message_order,
                    "content": ForRow(row_id, line.content),
                    "timestamp_ms": line.timestamp_ms,
                    "confidence_score": _confidence(line.confidence_score),
                    "language_detected": line.language_detected,
                    "message_type": MessageType(line.message_type).value,
                }
            )
        await self.session.execute(insert(_T), rows)
        self.tx.audit("write", "conversation_transcripts", session_id, f"{len(rows)} lines")
        return len(rows)

    async def list_lines(self, session_id: uuid.UUID) -> list[TranscriptLine]:
        """All lines of a session in message order, decrypted (audited read)."""
        result = await self.session.execute(
            select(
                _C.speaker,
                _C.message_order,
                _C.content,
                _C.timestamp_ms,
                _C.message_type,
                _C.confidence_score,
                _C.language_detected,
            )
            .where(_C.call_session_id == session_id)
            .order_by(_C.message_order, _C.timestamp_ms)
        )
        lines = [
            TranscriptLine(
                Speaker(r.speaker),
                r.message_order,
                r.content,
                r.timestamp_ms,
                MessageType(r.message_type),
                as_float(r.confidence_score),
                r.language_detected,
            )
            for r in result
        ]
        self.tx.audit("read", "conversation_transcripts", session_id, f"{len(lines)} lines")
        return lines
