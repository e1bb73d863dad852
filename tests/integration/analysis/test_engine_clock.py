"""The engine's clock decides every stored time: a whole call's life — dispatch, status changes,
transcript, metrics, opt-out, consent and interview progress, assessment, fraud checks and a review, the reward ledger and its
payout, a weekly report, events, jobs and audit rows — run on a clock set years back leaves no
timestamp in any table that a database default (``now()``) wrote."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest

from engine.analysis import service
from engine.clock import SteppingClock
from engine.domain import CheckType, ConnectionQuality, ReviewDecision
from storage import Database, Principal
from storage import records as rec
from storage.repositories._dispatch import NO_LIMITS
from tests.fixtures.postgres import PgServer, settings_for
from tests.integration.analysis.conftest import Seeder
from tests.unit.analysis.samples import DETAILED

T0 = dt.datetime(2021, 3, 1, 9, 0, tzinfo=dt.UTC)  # a Monday, years before any test runs


@pytest.fixture
async def shifted_db(
    pg_server: PgServer, isolated_pg_url: str
) -> AsyncIterator[tuple[Database, SteppingClock]]:
    clock = SteppingClock(T0)
    db = await Database.open(settings_for(pg_server, url=isolated_pg_url), upgrade=False, clock=clock)
    try:
        yield db, clock
    finally:
        await db.close()


def _timestamps(url: str) -> dict[str, dt.datetime]:
    """The latest value of every timestamp column of every table (as the owner: RLS aside)."""
    out: dict[str, dt.datetime] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND data_type LIKE 'timestamp%' AND table_name <> 'alembic_version'"
        ).fetchall()
        for table, column in columns:
            latest = conn.execute(f'SELECT max("{column}") FROM "{table}"').fetchone()[0]  # type: ignore[index]
            if latest is not None:
                out[f"{table}.{column}"] = latest.replace(tzinfo=dt.UTC)
    return out


async def test_no_stored_time_comes_from_the_database(
    shifted_db: tuple[Database, SteppingClock], isolated_pg_url: str
) -> None:
    db, clock = shifted_db
    seeder = Seeder(db)
    store = await seeder.store()
    sid = await seeder.call(store, DETAILED, call_at=T0 + dt.timedelta(hours=1))
    clock.advance(7200)
    async with db.transaction(Principal.service()) as tx:
        await tx.metrics.add(sid, rec.CallMetrics(ConnectionQuality.GOOD))
        await tx.opt_outs.add_opt_out("+46701234567")
        await tx.interviews.add_consent(
            sid,
            attempt=1,
            text_version="v1",
            answer="granted",
            source="tool",
            asked_at=None,
            answered_at=None,
        )
        for source in ("inferred", "tool"):  # the tool's report replaces the inferred one (an update)
            await tx.interviews.record_progress(
                sid, question_id="q1", status="answered", source=source, attempt=1
            )
        verification = uuid.uuid4()
        await tx.stores.upsert_verification(verification, store, "+46701234568", T0, 99, T0)
    dispatched = await db.dispatch(
        Principal.service(), verification, store, None, None, clock.now(), NO_LIMITS
    )
    await service.assess_session(db, None, sid)
    await service.check_fraud(db, None, sid)
    async with db.transaction(Principal.admin(None)) as tx:
        rows = (await tx.fraud.list(rec.FraudFilter(call_session_id=sid))).items
    timing = next(r for r in rows if r.check_type == CheckType.TIMING)
    assert timing.id is not None
    await service.review_fraud_result(db, Principal.admin(None), timing.id, ReviewDecision.FALSE_POSITIVE)
    async with db.transaction(Principal.service()) as tx:
        await tx.rewards.settle([sid], "payout-1", None, clock.now())
    await service.build_weekly_report(db, None, store, T0.date())
    stamps = _timestamps(isolated_pg_url)
    expected = {
        "audit_log.at",
        "businesses.created_at",
        "stores.created_at",
        "customer_verifications.created_at",
        "business_context_profiles.last_updated_at",
        "feedback_call_sessions.created_at",
        "feedback_call_sessions.updated_at",
        "call_session_events.at",
        "conversation_transcripts.created_at",
        "call_quality_metrics.measured_at",
        "phone_opt_outs.created_at",
        "quality_assessments.created_at",
        "fraud_detection_results.created_at",
        "reward_ledger.created_at",
        "reward_ledger.paid_at",
        "weekly_analysis_reports.generated_at",
        "jobs.created_at",
        "jobs.run_at",
        "events.occurred_at",
        "consent_records.recorded_at",
        "interview_progress.updated_at",
    }
    assert expected <= set(stamps), sorted(expected - set(stamps))
    # a session expires 90 days after it was created: the only time meant to lie ahead
    assert stamps.pop("feedback_call_sessions.expires_at") <= clock.now() + dt.timedelta(days=90)
    late = {name: at for name, at in stamps.items() if at > clock.now() + dt.timedelta(minutes=1)}
    assert late == {}, "written by a database default, not the engine's clock"
    assert dispatched.created_at == clock.now()
