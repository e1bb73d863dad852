"""Seeding helpers for analysis integration tests (real PostgreSQL) and the chat emulator server."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from engine.analysis.context import validate_business_context
from engine.domain import MessageType, SessionStatus, Speaker
from engine.emulators.chat import ChatCompletionsEmulator
from storage import Database, Principal
from storage import records as rec
from tests.fixtures.postgres import PgServer
from tests.unit.analysis.conftest import ChatServer, _start
from tests.unit.analysis.samples import QUESTIONS, profile_payload


class Seeder:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def store(
        self, payload: dict[str, Any] | None = None, *, with_context: bool = True, currency: str | None = None
    ) -> uuid.UUID:
        business_id, store_id = uuid.uuid4(), uuid.uuid4()
        async with self.db.transaction(Principal.service()) as tx:
            await tx.stores.upsert_business(business_id, "Analysbolaget AB")
            await tx.stores.upsert_store(
                store_id, business_id, f"Butik {store_id.hex[:6]}", "Europe/Stockholm", currency=currency
            )
            if with_context:
                p = payload or profile_payload()
                validate_business_context(p)
                await tx.contexts.put_new_version(rec.BusinessContext(store_id=store_id, **p))
        return store_id

    async def call(
        self,
        store_id: uuid.UUID,
        answers: Sequence[str],
        *,
        phone: str | None = None,
        call_at: dt.datetime,
        purchase_at: dt.datetime | None = None,
        duration: int = 120,
        questions: Sequence[str] = QUESTIONS,
        amount: Decimal = Decimal("199.00"),
    ) -> uuid.UUID:
        phone = phone or f"+4670{uuid.uuid4().int % 10_000_000:07d}"
        verification_id = uuid.uuid4()
        purchase_at = purchase_at or call_at - dt.timedelta(hours=2)
        async with self.db.transaction(Principal.service()) as tx:
            await tx.stores.upsert_verification(
                verification_id, store_id, phone, purchase_at, amount, purchase_at
            )
            s = await tx.sessions.create_pending(verification_id, store_id, phone, None, call_at)
            await tx.sessions.transition(
                s.id, SessionStatus.PENDING, SessionStatus.IN_PROGRESS, now=call_at, call_connected_at=call_at
            )
            end = call_at + dt.timedelta(seconds=duration)
            await tx.sessions.transition(
                s.id,
                SessionStatus.IN_PROGRESS,
                SessionStatus.COMPLETED,
                now=end,
                call_ended_at=end,
                duration_seconds=duration,
            )
            lines = [
                rec.TranscriptLine(
                    Speaker.AI, 0, "Hej! Är det okej att jag ställer några frågor?", 0, MessageType.SYSTEM
                )
            ]
            lines.append(
                rec.TranscriptLine(Speaker.CUSTOMER, 1, "Ja, det går bra.", 1500, MessageType.RESPONSE)
            )
            order = 2
            for q, a in zip(questions, answers, strict=False):
                lines.append(rec.TranscriptLine(Speaker.AI, order, q, order * 3000, MessageType.QUESTION))
                lines.append(
                    rec.TranscriptLine(
                        Speaker.CUSTOMER, order + 1, a, order * 3000 + 1500, MessageType.RESPONSE
                    )
                )
                order += 2
            await tx.transcripts.add_lines(s.id, lines)
        return s.id


@pytest.fixture
def seeder(database: Database) -> Seeder:
    return Seeder(database)


@pytest.fixture
def backdate(pg_server: PgServer) -> Any:
    """Move an assessment's created_at (test-only: the repository stamps it with the engine's clock)."""

    def move(session_id: uuid.UUID, at: dt.datetime) -> None:
        with psycopg.connect(pg_server.owner_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE quality_assessments SET created_at = %s WHERE call_session_id = %s", (at, session_id)
            )

    return move


@pytest.fixture
async def chat_server() -> AsyncIterator[ChatServer]:
    emulator = ChatCompletionsEmulator()
    runner, url = await _start(emulator)
    try:
        yield ChatServer(emulator, url)
    finally:
        await runner.cleanup()
