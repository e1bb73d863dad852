"""Analysis-side repositories, typed errors for bad input, and all-or-nothing writes."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from engine.domain import CheckType, ConnectionQuality, MessageType, ReviewDecision, Speaker
from engine.errors import ConflictError, NotFoundError, ValidationError
from storage import Database, Principal
from storage.records import (
    Assessment,
    BusinessContext,
    CallMetrics,
    FraudFilter,
    FraudResult,
    TranscriptLine,
    WeeklyReport,
)
from tests.fixtures.postgres import PgFactory
from tests.integration.storage.conftest import raw

SERVICE = Principal.service()
MONDAY = dt.date(2026, 11, 16)


async def test_assessment_put_replaces(database: Database, pg_factory: PgFactory) -> None:
    sid = await pg_factory.session()
    async with database.transaction(SERVICE) as tx:
        first = await tx.assessments.put(
            Assessment(sid, 0.9, 0.5, 0.5, 0.63, 7.25, analysis_summary="Första")
        )
        second = await tx.assessments.put(
            Assessment(
                sid,
                0.8,
                0.6,
                0.7,
                0.7,
                9.0,
                is_fraudulent=True,
                analysis_summary="Andra",
                fraud_reasons=["x"],
            )
        )
        assert second.id == first.id
        got = await tx.assessments.get_by_session(sid)
    assert (got.reward_percentage, got.analysis_summary, got.is_fraudulent) == (9.0, "Andra", True)
    assert got.store_id is not None


async def test_contexts_are_versioned(database: Database, pg_factory: PgFactory) -> None:
    store = await pg_factory.store()
    user = uuid.uuid4()
    async with database.transaction(SERVICE) as tx:
        with pytest.raises(NotFoundError):
            await tx.contexts.get_current(store)
        v1 = await tx.contexts.put_new_version(
            BusinessContext(
                store,
                {"mon": ["09:00", "20:00"]},
                ["chark"],
                {"questions": []},
                {"parking": True},
                None,
                0.4,
                updated_by=user,
            )
        )
        v2 = await tx.contexts.put_new_version(
            BusinessContext(store, {}, ["chark", "bageri"], {}, {}, [{"name": "Vecka 47"}], 0.8),
            expected_version=1,
        )
        with pytest.raises(ConflictError):
            await tx.contexts.put_new_version(BusinessContext(store, {}, [], {}, {}), expected_version=1)
        current = await tx.contexts.get_current(store)
        history = await tx.contexts.history(store)
    assert (v1.context_version, v2.context_version, current.context_version) == (1, 2, 2)
    assert current.departments == ["chark", "bageri"] and current.context_completeness_score == 0.8
    assert [h.context_version for h in history] == [2, 1] and history[1].updated_by == user


async def test_weekly_reports_upsert_replaces(database: Database, pg_factory: PgFactory) -> None:
    store = await pg_factory.store()
    async with database.transaction(SERVICE) as tx:
        a = await tx.reports.upsert(WeeklyReport(store, MONDAY, 3, 0.5, new_issues=[{"topic": "kö"}]))
        b = await tx.reports.upsert(WeeklyReport(store, MONDAY, 4, 0.6))
        await tx.reports.upsert(WeeklyReport(store, MONDAY - dt.timedelta(days=7), 2))
        assert a.id == b.id
        got = await tx.reports.get(store, MONDAY)
        assert (got.total_feedback_count, got.average_quality_score, got.new_issues) == (4, 0.6, None)
        assert [r.analysis_week for r in await tx.reports.list(store)] == [
            MONDAY,
            MONDAY - dt.timedelta(days=7),
        ]
        with pytest.raises(ValidationError) as info:
            await tx.reports.upsert(WeeklyReport(store, MONDAY + dt.timedelta(days=1), 1))
        assert info.value.field == "analysis_week"
        with pytest.raises(NotFoundError):
            await tx.reports.get(store, MONDAY + dt.timedelta(days=7))


async def test_fraud_results_metrics_and_review(database: Database, pg_factory: PgFactory) -> None:
    store = await pg_factory.store()
    sid = await pg_factory.session(store)
    reviewer = uuid.uuid4()
    async with database.transaction(SERVICE) as tx:
        stored = await tx.fraud.add_results(
            sid,
            [
                FraudResult(CheckType.TIMING, False, 0.1),
                FraudResult(
                    CheckType.CONTENT, True, 0.72, {"generic": 0.9}, None, "Svaren var generiska", True
                ),
            ],
        )
        metrics = await tx.metrics.add(
            sid, CallMetrics(ConnectionQuality.FAIR, 0.8, 340, 1.25, 420, bandwidth_usage_kb=900)
        )
        assert metrics.packet_loss_percentage == 1.25 and metrics.call_session_id == sid
    assert [r.check_type for r in stored] == [CheckType.TIMING, CheckType.CONTENT]
    admin = Principal.admin(reviewer)
    async with database.transaction(admin) as tx:
        page = await tx.fraud.list(FraudFilter(store_id=store, review_required_only=True))
        assert [r.decision_reasoning for r in page.items] == ["Svaren var generiska"]
        reviewed = await tx.fraud.review(page.items[0].id, ReviewDecision.FALSE_POSITIVE, reviewer)  # type: ignore[arg-type]
        assert (reviewed.review_decision, reviewed.reviewed_by) == (ReviewDecision.FALSE_POSITIVE, reviewer)
        assert (await tx.fraud.list(FraudFilter(store_id=store, review_required_only=True))).items == []
        with pytest.raises(NotFoundError):
            await tx.fraud.review(uuid.uuid4(), ReviewDecision.CONFIRMED_FRAUD, reviewer)
        with pytest.raises(ValidationError):
            await tx.fraud.review(stored[0].id, "maybe", reviewer)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "assessment,field",
    [
        (dict(legitimacy_score=1.2), "legitimacy_score"),
        (dict(reward_percentage=1.5), "reward_percentage"),
        (dict(reward_percentage=15.5), "reward_percentage"),
        (dict(depth_score=float("nan")), "depth_score"),
    ],
)
async def test_bad_scores_are_validation_errors(
    database: Database, pg_factory: PgFactory, assessment: dict[str, float], field: str
) -> None:
    sid = await pg_factory.session()
    values = dict(
        legitimacy_score=0.5,
        depth_score=0.5,
        usefulness_score=0.5,
        overall_quality_score=0.5,
        reward_percentage=5.0,
    )
    values.update(assessment)
    with pytest.raises(ValidationError) as info:
        async with database.transaction(SERVICE) as tx:
            await tx.assessments.put(Assessment(sid, **values))
    assert info.value.field == field


async def test_unknown_references_are_not_found(database: Database, pg_factory: PgFactory) -> None:
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(NotFoundError):
        async with database.transaction(SERVICE) as tx:
            await tx.stores.upsert_verification(uuid.uuid4(), uuid.uuid4(), "+46701234567", now, 10, now)
    with pytest.raises(NotFoundError):
        async with database.transaction(SERVICE) as tx:
            await tx.assessments.put(Assessment(uuid.uuid4(), 0.5, 0.5, 0.5, 0.5, 5))
    with pytest.raises(NotFoundError):
        async with database.transaction(SERVICE) as tx:
            await tx.stores.get_store(uuid.uuid4())
    with pytest.raises(ValidationError) as info:
        async with database.transaction(SERVICE) as tx:
            await tx.stores.upsert_store(uuid.uuid4(), uuid.uuid4(), "X", "Mars/Olympus")
    assert info.value.field == "timezone"
    with pytest.raises(ValidationError) as info:
        async with database.transaction(SERVICE) as tx:
            await tx.stores.upsert_verification(
                uuid.uuid4(), uuid.uuid4(), "+46701234567", now.replace(tzinfo=None), 1, now
            )
    assert info.value.field == "purchased_at"


async def test_a_failed_operation_leaves_nothing_written(
    database: Database, pg_factory: PgFactory, owner_url: str
) -> None:
    sid = await pg_factory.session()
    good = TranscriptLine(Speaker.AI, 0, "Hej", 0, MessageType.QUESTION)
    with pytest.raises(ValidationError):
        async with database.transaction(SERVICE) as tx:
            await tx.transcripts.add_lines(
                sid, [good, TranscriptLine(Speaker.CUSTOMER, 1, "x", 5, MessageType.RESPONSE, 1.5)]
            )
    with pytest.raises(NotFoundError):
        async with database.transaction(SERVICE) as tx:
            await tx.transcripts.add_lines(sid, [good])  # would succeed alone …
            await tx.metrics.add(uuid.uuid4(), CallMetrics(ConnectionQuality.GOOD))  # … but this fails (FK)
    with raw(owner_url, db_role=None) as conn:
        assert conn.execute(
            "SELECT count(*) FROM conversation_transcripts WHERE call_session_id = %s", (sid,)
        ).fetchone() == (0,)
        audit = conn.execute(
            "SELECT count(*) FROM audit_log WHERE record_id = %s AND table_name = 'conversation_transcripts'",
            (str(sid),),
        ).fetchone()
        assert audit == (0,)  # the audit row went with the rolled-back transaction
