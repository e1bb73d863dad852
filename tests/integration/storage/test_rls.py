"""Row-level security enforced by PostgreSQL itself, checked with raw SQL as the application role."""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg
import pytest

from engine.domain import CheckType, ConnectionQuality, MessageType, Speaker
from engine.errors import NotFoundError, PermissionDeniedError
from storage import Database, Principal
from storage.records import (
    Assessment,
    BusinessContext,
    CallMetrics,
    FraudResult,
    TranscriptLine,
    WeeklyReport,
)
from tests.integration.storage.conftest import raw

NOW = dt.datetime.now(dt.UTC)
OWNER_TABLES = (
    "feedback_call_sessions",
    "quality_assessments",
    "business_context_profiles",
    "weekly_analysis_reports",
    "call_session_events",
)
ADMIN_ONLY = ("conversation_transcripts", "call_quality_metrics", "fraud_detection_results")


async def _populate(db: Database, factory: object, store_id: uuid.UUID) -> uuid.UUID:
    session_id = await factory.session(store_id)  # type: ignore[attr-defined]
    async with db.transaction(Principal.service()) as tx:
        await tx.transcripts.add_lines(
            session_id, [TranscriptLine(Speaker.AI, 0, "Hej", 0, MessageType.QUESTION)]
        )
        await tx.metrics.add(session_id, CallMetrics(ConnectionQuality.GOOD, latency_ms=120))
        await tx.fraud.add_results(session_id, [FraudResult(CheckType.TIMING, True, 0.8)])
        await tx.assessments.put(Assessment(session_id, 0.9, 0.5, 0.6, 0.7, 8.5))
        await tx.contexts.put_new_version(BusinessContext(store_id, {}, [], {}, {}))
        await tx.reports.upsert(WeeklyReport(store_id, dt.date(2026, 11, 16), 1))
    return session_id


def _count(conn: psycopg.Connection, table: str, store_col: str, store_id: uuid.UUID) -> int:
    if table in ADMIN_ONLY:
        query = (
            f"SELECT count(*) FROM {table} t JOIN (SELECT %s::uuid AS id) s ON true "
            f"WHERE t.call_session_id IN (SELECT id FROM feedback_call_sessions WHERE store_id = s.id)"
        )
        # the session subquery is itself RLS-filtered; count directly by session id too
        row = conn.execute(query, (store_id,)).fetchone()
    else:
        row = conn.execute(f"SELECT count(*) FROM {table} WHERE {store_col} = %s", (store_id,)).fetchone()
    assert row is not None
    return int(row[0])


async def test_rls_matrix(database: Database, pg_factory: object, owner_url: str) -> None:
    store_a = await pg_factory.store()  # type: ignore[attr-defined]
    store_b = await pg_factory.store()  # type: ignore[attr-defined]
    session_a = await _populate(database, pg_factory, store_a)
    session_b = await _populate(database, pg_factory, store_b)
    owner_a = {"role": "store_owner", "user_id": str(uuid.uuid4()), "store_ids": f"{{{store_a}}}"}

    with raw(owner_url, **owner_a) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("callengine_app",)
        for table in OWNER_TABLES:
            assert _count(conn, table, "store_id", store_a) >= 1, table
            assert _count(conn, table, "store_id", store_b) == 0, table
        for table in ADMIN_ONLY:
            rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert rows == (0,), f"store owner sees {table}"
        assert conn.execute("SELECT count(*) FROM customer_verifications").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == (0,)
        # writes outside their own rights are refused by PostgreSQL
        n = conn.execute("UPDATE feedback_call_sessions SET failure_reason = 'x' WHERE id = %s", (session_b,))
        assert n.rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO business_context_profiles (id, store_id, operating_hours, departments, "
                "question_configuration, baseline_facts) VALUES (%s, %s, '{}', '[]', '{}', '{}')",
                (uuid.uuid4(), store_b),
            )

    with raw(owner_url) as conn:  # no principal set at all: nothing visible
        for table in (*OWNER_TABLES, *ADMIN_ONLY, "stores", "customer_verifications"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table

    with raw(owner_url, role="admin") as conn:
        for table in (*OWNER_TABLES, "stores"):
            assert _count(conn, table, "store_id" if table != "stores" else "id", store_a) >= 1, table
            assert _count(conn, table, "store_id" if table != "stores" else "id", store_b) >= 1, table
        for session_id in (session_a, session_b):
            for table in ADMIN_ONLY:
                row = conn.execute(f"SELECT count(*) FROM {table} WHERE call_session_id = %s", (session_id,))
                assert row.fetchone() == (1,), table
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] > 0  # type: ignore[index]


async def test_repositories_enforce_the_same_rules(database: Database, pg_factory: object) -> None:
    store_a = await pg_factory.store()  # type: ignore[attr-defined]
    store_b = await pg_factory.store()  # type: ignore[attr-defined]
    session_b = await _populate(database, pg_factory, store_b)
    owner = Principal.store_owner(uuid.uuid4(), {store_a})
    async with database.transaction(owner) as tx:
        with pytest.raises(NotFoundError):
            await tx.sessions.get(session_b)
        with pytest.raises(NotFoundError):
            await tx.assessments.get_by_session(session_b)
        assert await tx.transcripts.list_lines(session_b) == []
        page = await tx.sessions.list(store_b)
        assert page.items == []
    with pytest.raises(PermissionDeniedError):
        async with database.transaction(owner) as tx:
            await tx.contexts.put_new_version(BusinessContext(store_b, {}, [], {}, {}))
    owner_b = Principal.store_owner(uuid.uuid4(), {store_b})
    async with database.transaction(owner_b) as tx:
        assert (await tx.sessions.get(session_b)).store_id == store_b
        stats = await tx.fraud.statistics(store_b, NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1))
        assert [(s.check_type, s.total, s.suspicious) for s in stats] == [(CheckType.TIMING, 1, 1)]
        quality = await tx.metrics.statistics(store_b, NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1))
        assert [(q.connection_quality, q.calls, q.avg_latency_ms) for q in quality] == [
            (ConnectionQuality.GOOD, 1, 120.0)
        ]
        version = await tx.contexts.put_new_version(BusinessContext(store_b, {"mon": "9-18"}, [], {}, {}))
        assert version.context_version == 2
    with pytest.raises(PermissionDeniedError):
        async with database.transaction(owner) as tx:
            await tx.fraud.statistics(store_b, NOW - dt.timedelta(days=1), NOW)
