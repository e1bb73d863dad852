"""Retention with a moved clock, GDPR erasure, and the append-only audit log."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest

from engine.domain import CheckType, ConnectionQuality, MessageType, SessionStatus, Speaker
from engine.errors import PermissionDeniedError
from storage import Database, Principal
from storage.records import Assessment, CallMetrics, FraudResult, TranscriptLine
from storage.retention import cleanup, erase_customer
from tests.fixtures.postgres import PgFactory, PgServer, settings_for
from tests.integration.storage.conftest import raw

T0 = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture
async def isolated_db(pg_server: PgServer, isolated_pg_url: str) -> AsyncIterator[Database]:
    db = await Database.open(settings_for(pg_server, url=isolated_pg_url))
    try:
        yield db
    finally:
        await db.close()


def _lines(n: int = 2) -> list[TranscriptLine]:
    return [TranscriptLine(Speaker.CUSTOMER, i, f"rad {i}", i * 1000, MessageType.RESPONSE) for i in range(n)]


async def _world(db: Database) -> dict[str, uuid.UUID]:
    f = PgFactory(db)
    store = await f.store()
    analysed = await f.session(store, now=T0)
    plain = await f.session(store, now=T0)
    recent = await f.session(store, now=T0 + 60 * DAY)
    async with db.transaction(Principal.service()) as tx:
        for sid in (analysed, plain, recent):
            await tx.transcripts.add_lines(sid, _lines())
        await tx.assessments.put(
            Assessment(analysed, 0.9, 0.6, 0.7, 0.75, 9.5, analysis_summary="bra", fraud_reasons=["x"])
        )
        await tx.metrics.add(analysed, CallMetrics(ConnectionQuality.GOOD), measured_at=T0)
        await tx.fraud.add_results(analysed, [FraudResult(CheckType.PATTERN, False, 0.2)])
    return {"analysed": analysed, "plain": plain, "recent": recent}


async def test_cleanup_with_moved_clock(isolated_db: Database, isolated_pg_url: str) -> None:
    ids = await _world(isolated_db)
    at_91 = T0 + 91 * DAY
    dry = await cleanup(isolated_db, at_91, dry_run=True)
    assert dry.dry_run
    real = await cleanup(isolated_db, at_91, batch=1)  # one row per transaction: batches add up
    assert dry.counts == real.counts
    assert real.counts == {
        "call_quality_metrics": 0,
        "fraud_detection_results": 0,
        "quality_assessments (anonymized)": 1,
        "customer_verifications (anonymized)": 2,
        "conversation_transcripts": 4,
        "call_session_events": 2,
        "feedback_call_sessions": 1,
        "feedback_call_sessions (anonymized)": 1,
        "jobs (done)": 0,
        "events": 1,  # the assessment's assessment.stored, 91 days old
    }
    async with isolated_db.transaction(Principal.admin(None)) as tx:
        assert await tx.transcripts.list_lines(ids["analysed"]) == []
        assert len(await tx.transcripts.list_lines(ids["recent"])) == 2
        assessment = await tx.assessments.get_by_session(ids["analysed"])
        assert assessment.analysis_summary is None and assessment.fraud_reasons is None
        assert assessment.overall_quality_score == 0.75 and assessment.reward_percentage == 9.5
        assert await tx.sessions.get_phone(ids["analysed"]) == ""
        assert len(await tx.sessions.get_phone(ids["recent"])) > 5
    with raw(isolated_pg_url, db_role=None) as conn:
        assert conn.execute(
            "SELECT count(*) FROM feedback_call_sessions WHERE id = %s", (ids["plain"],)
        ).fetchone() == (0,)
    again = await cleanup(isolated_db, at_91)
    assert sum(again.counts.values()) == 0  # idempotent

    later = await cleanup(isolated_db, T0 + 183 * DAY)
    assert later.counts["call_quality_metrics"] == 1 and later.counts["fraud_detection_results"] == 0
    assert later.counts["conversation_transcripts"] == 2  # the recent session expired by now
    final = await cleanup(isolated_db, T0 + 366 * DAY)
    assert final.counts["fraud_detection_results"] == 1
    with raw(isolated_pg_url, db_role=None) as conn:
        # the assessed session stays as an anonymized stub for the kept analytics
        assert conn.execute(
            "SELECT phone_number, phone_bidx FROM feedback_call_sessions WHERE id = %s", (ids["analysed"],)
        ).fetchone() == ("", None)


async def test_erase_customer(database: Database, pg_factory: PgFactory) -> None:
    phone = f"+4676{uuid.uuid4().int % 10_000_000:07d}"
    done = await pg_factory.session(phone=phone)
    pending = await pg_factory.session(phone=phone)  # another store, still queued
    bystander = await pg_factory.session()
    async with database.transaction(Principal.service()) as tx:
        await tx.sessions.transition(done, SessionStatus.PENDING, SessionStatus.COMPLETED, now=T0)
        for sid in (done, bystander):
            await tx.transcripts.add_lines(sid, _lines(3))
        await tx.assessments.put(Assessment(done, 0.5, 0.5, 0.5, 0.5, 5, analysis_summary="Anna sa hej"))
    admin = Principal.admin(uuid.uuid4())
    with pytest.raises(PermissionDeniedError):
        await erase_customer(database, Principal.store_owner(None, set()), phone)
    report = await erase_customer(database, admin, phone)
    assert report.counts["conversation_transcripts"] == 3
    assert report.counts["feedback_call_sessions"] == 2
    assert report.counts["customer_verifications"] == 2
    assert report.counts["quality_assessments"] == 1
    async with database.transaction(admin) as tx:
        assert await tx.transcripts.list_lines(done) == []
        assert len(await tx.transcripts.list_lines(bystander)) == 3
        assert await tx.sessions.get_phone(done) == ""
        assert (await tx.sessions.get(pending)).session_status is SessionStatus.FAILED
        assert (await tx.assessments.get_by_session(done)).analysis_summary is None
        assert len(await tx.sessions.get_phone(bystander)) > 5
        store = (await tx.sessions.get(pending)).store_id
        assert await tx.sessions.claim_due(T0 + DAY, 1000, "h", store_id=store) == []


async def test_audit_rows_appear_and_are_immutable(
    database: Database, pg_factory: PgFactory, owner_url: str
) -> None:
    session_id = await pg_factory.session()
    reader = uuid.uuid4()
    async with database.transaction(Principal.admin(reader)) as tx:
        await tx.transcripts.list_lines(session_id)
        await tx.sessions.get_phone(session_id)
    with raw(owner_url, role="admin") as conn:
        rows = conn.execute(
            "SELECT actor_id, actor_role, action, table_name, detail FROM audit_log WHERE record_id = %s ORDER BY id",
            (str(session_id),),
        ).fetchall()
        assert (None, "service", "write", "feedback_call_sessions", "create") in rows
        assert (reader, "admin", "read", "conversation_transcripts", "0 lines") in rows
        assert (reader, "admin", "read", "feedback_call_sessions", "phone_number") in rows
        for statement in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()
            conn.execute("SELECT set_config('callengine.role', 'admin', false)")
