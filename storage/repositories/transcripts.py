"""conversation_transcripts: batched encrypted inserts, ordered decrypted reads (admin/service only)."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Sequence

from sqlalchemy import func, select

from engine.domain import MessageType, Speaker
from engine.errors import ValidationError
from storage.errors import translated
from storage.models import ConversationTranscript
from storage.models.base import table_of
from storage.records import TranscriptLine
from storage.repositories._common import Repository, as_float

_T = table_of(ConversationTranscript)
_C = _T.c
_TABLE = "conversation_transcripts"
# Raw psycopg with binary (%b) array parameters: ~10x cheaper to adapt than text arrays.
_INSERT_MANY = (
    f"INSERT INTO {_TABLE} (id, call_session_id, speaker, message_order, content, timestamp_ms, "
    "confidence_score, language_detected, message_type, created_at) "
    "SELECT id, %(session_id)b, speaker, message_order, content, timestamp_ms, "
    "confidence_score::numeric(3, 2), coalesce(language_detected, 'sv'), message_type, %(created_at)s "
    "FROM unnest("
    "%(ids)b::uuid[], %(speakers)b::varchar[], %(orders)b::integer[], %(contents)b::text[], "
    "%(stamps)b::bigint[], %(confidences)b::float8[], %(languages)b::varchar[], %(types)b::varchar[]) "
    "AS t(id, speaker, message_order, content, timestamp_ms, confidence_score, language_detected, message_type) "
    # (session, message_order) is unique: a batch re-sent after a lost reply writes nothing twice.
    "ON CONFLICT (call_session_id, message_order) DO NOTHING"
)


_SPEAKERS = {s.value: s.value for s in Speaker}
_MESSAGE_TYPES = {t.value: t.value for t in MessageType}


def _new_ids(n: int) -> list[uuid.UUID]:
    """n random (version 4) UUIDs from one urandom call: uuid4() per row is a measurable cost."""
    raw = os.urandom(16 * n)
    return [uuid.UUID(bytes=raw[i : i + 16], version=4) for i in range(0, 16 * n, 16)]


def _confidence(value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ValidationError("confidence_score", "must be within 0.00–1.00")
    return float(value)


class TranscriptRepository(Repository):
    async def add_lines(self, session_id: uuid.UUID, lines: Sequence[TranscriptLine]) -> int:
        """Insert ``lines`` in one statement and one round trip; returns how many were written.

        ``INSERT … SELECT FROM unnest(arrays)`` (COPY is not allowed on RLS tables):
        each column travels as one array parameter, so the cost per row is the
        encryption plus a few list appends. All lines are validated before anything
        is sent, so a bad line leaves nothing written.
        """
        if not lines:
            return 0
        n = len(lines)
        ids = _new_ids(n)
        speakers, orders, contents, stamps, confidences, languages, types = [], [], [], [], [], [], []
        encrypt = self.tx.keyring.encrypt
        prefix = f"{_TABLE}.content:".encode()  # == storage.crypto.aad(_TABLE, "content", row_id) below
        for row_id, line in zip(ids, lines, strict=True):
            if line.message_order < 0 or line.timestamp_ms < 0:
                raise ValidationError("message_order", "message_order and timestamp_ms must be >= 0")
            if line.language_detected is not None and len(line.language_detected) > 10:
                raise ValidationError("language_detected", "must be at most 10 characters")
            if not isinstance(line.content, str):
                raise ValidationError("content", "must be text")
            try:
                speakers.append(_SPEAKERS[line.speaker])
                types.append(_MESSAGE_TYPES[line.message_type])
            except KeyError as exc:
                raise ValidationError("speaker", "speaker or message_type is not a known value") from exc
            orders.append(line.message_order)
            stamps.append(line.timestamp_ms)
            confidences.append(_confidence(line.confidence_score))
            languages.append(line.language_detected)
            contents.append(encrypt(line.content, prefix + row_id.bytes))
        connection = await self.session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        with translated():
            async with driver.cursor() as cursor:  # same connection, same transaction
                await cursor.execute(
                    _INSERT_MANY,
                    {
                        "ids": ids,
                        "session_id": session_id,
                        "speakers": speakers,
                        "orders": orders,
                        "contents": contents,
                        "stamps": stamps,
                        "confidences": confidences,
                        "languages": languages,
                        "types": types,
                        # the engine's clock, not the column default (a shifted demo week stays shifted)
                        "created_at": self.tx.now().astimezone(dt.UTC).replace(tzinfo=None),
                    },
                )
        self.tx.audit("write", _TABLE, session_id, f"{n} lines")
        return n

    async def last_order(self, session_id: uuid.UUID) -> int:
        """The highest message_order stored for the session; 0 when it has none."""
        value = (
            await self.session.execute(
                select(func.max(_C.message_order)).where(_C.call_session_id == session_id)
            )
        ).scalar()
        return int(value or 0)

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
