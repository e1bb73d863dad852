from __future__ import annotations

import datetime as dt

from engine.domain import MessageType, SessionStatus, Speaker
from storage import Database, Principal
from storage.records import TranscriptLine


async def test_session_lifecycle_and_transcripts(database: Database, pg_factory) -> None:
    now = dt.datetime.now(dt.UTC)
    store_id = await pg_factory.store()
    verification_id = await pg_factory.verification(store_id, "+46701234567")
    async with database.transaction(Principal.service()) as tx:
        first = await tx.sessions.create_pending(verification_id, store_id, "+46 70 123 45 67", None, now)
        again = await tx.sessions.create_pending(verification_id, store_id, "+46701234567", None, now)
    assert again.id == first.id
    assert first.session_status is SessionStatus.PENDING
    async with database.transaction(Principal.service()) as tx:
        claimed = await tx.sessions.claim_due(now, 100, "host-a", store_id=store_id)
    mine = [c for c in claimed if c.session.id == first.id]
    assert mine and mine[0].phone_e164 == "+46701234567"
    async with database.transaction(Principal.service()) as tx:
        await tx.sessions.transition(first.id, SessionStatus.PENDING, SessionStatus.IN_PROGRESS, now=now)
        lines = [
            TranscriptLine(Speaker.AI, 0, "Hej! Har du en minut?", 0, MessageType.QUESTION),
            TranscriptLine(Speaker.CUSTOMER, 1, "Ja, visst.", 1500, MessageType.RESPONSE, 0.93),
        ]
        await tx.transcripts.add_lines(first.id, lines)
    async with database.transaction(Principal.admin(None)) as tx:
        assert await tx.transcripts.list_lines(first.id) == lines
        events = await tx.sessions.events_since(first.id)
    assert [e.status for e in events] == [
        SessionStatus.PENDING,
        SessionStatus.PENDING,
        SessionStatus.IN_PROGRESS,
    ]
