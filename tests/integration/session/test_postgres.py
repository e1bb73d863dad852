"""A full call persisted in real PostgreSQL through the storage repositories."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from engine.domain import FailureReason, SessionStatus, Speaker
from engine.session.pgstore import PostgresSessionStore
from storage import Principal
from storage.records import BusinessContext
from tests.integration.session.conftest import RigFactory

PHONE = "+46701749201"


async def _store_with_context(pg_factory: Any, database: Any) -> uuid.UUID:
    store_id = await pg_factory.store()
    async with database.transaction(Principal.service()) as tx:
        await tx.contexts.put_new_version(
            BusinessContext(
                store_id=store_id,
                operating_hours={"mon": "08:00-20:00"},
                departments=["frukt och grönt", "kassan"],
                current_campaigns=[{"name": "kaffe"}],
                question_configuration={
                    "questions": [{"text": "Hittade du det du sökte?", "frequency": 1.0}]
                },
                baseline_facts={},
            )
        )
    return store_id


async def test_call_is_persisted(rig: RigFactory, database: Any, pg_factory: Any, no_leaks: None) -> None:
    store_id = await _store_with_context(pg_factory, database)
    session_id = await pg_factory.session(store_id, PHONE)
    scenario = {"name": "pg", "phone": PHONE, "answers": ["Ja, allt fanns.", "Frukten var fin.", "Snabbt."]}
    r = await rig(scenarios=[scenario], store=PostgresSessionStore(database, host_id="host-1"))
    outcome = await r.call(str(session_id), PHONE, store_id=str(store_id))
    assert outcome.status is SessionStatus.COMPLETED, outcome
    async with database.transaction(Principal.service()) as tx:
        record = await tx.sessions.get(session_id)
        lines = await tx.transcripts.list_lines(session_id)
        metrics = await tx.metrics.list_for_session(session_id)
    assert record.session_status is SessionStatus.COMPLETED
    assert (
        record.openai_session_id == outcome.openai_session_id and record.twilio_call_sid == outcome.call_sid
    )
    assert record.call_connected_at is not None and record.call_ended_at is not None
    assert record.phase == "completed" and record.duration_seconds is not None
    assert any("hittade du det du sökte" in line.content.lower() for line in lines)
    assert [line.content for line in lines if line.speaker is Speaker.CUSTOMER][1:3] == scenario["answers"][
        :2
    ]
    assert [line.message_order for line in lines] == list(range(1, len(lines) + 1))
    assert len(metrics) == 1 and metrics[0].packet_loss_percentage == 0.0
    async with database.transaction(Principal.service()) as tx:
        consents = await tx.interviews.consents(session_id)
        progress = await tx.interviews.progress(session_id)
    assert [(c.attempt, c.answer, c.source) for c in consents] == [(1, "granted", "tool")]
    assert consents[0].asked_at is not None and consents[0].answered_at >= consents[0].asked_at  # type: ignore[operator]
    assert {p.status for p in progress} == {"answered"} and len(progress) >= 2, (
        progress,
        r.openai.sessions[-1].tool_calls,
        outcome,
    )
    store = PostgresSessionStore(database)
    resumed = await store.load_progress(str(session_id))
    assert resumed.attempts == 1 and resumed.answered == {p.question_id for p in progress}


async def test_a_refusal_keeps_only_the_audited_consent_record(
    rig: RigFactory, database: Any, pg_factory: Any, no_leaks: None
) -> None:
    phone = "+46701749203"
    store_id = await _store_with_context(pg_factory, database)
    session_id = await pg_factory.session(store_id, phone)
    r = await rig(
        scenarios=[{"name": "pg-no", "phone": phone, "consent": "Nej tack, det vill jag inte."}],
        store=PostgresSessionStore(database),
    )
    outcome = await r.call(str(session_id), phone, store_id=str(store_id))
    assert (outcome.status, outcome.failure_reason) == (SessionStatus.ABANDONED, FailureReason.DECLINED)
    async with database.transaction(Principal.service()) as tx:
        lines = await tx.transcripts.list_lines(session_id)
        consents = await tx.interviews.consents(session_id)
        record = await tx.sessions.get(session_id)
    assert lines == []
    assert [(c.answer, c.source) for c in consents] == [("declined", "tool")]
    assert record.failure_reason == "declined"
    async with database.transaction(Principal.admin(None)) as tx:
        audited = await tx.session.execute(
            text(
                "SELECT action, detail FROM audit_log WHERE table_name = 'consent_records' AND record_id = :r"
            ),
            {"r": str(session_id)},
        )
        # Written once, audited; reading it is audited too.
        assert [tuple(row) for row in audited] == [("write", "attempt 1: declined (tool)"), ("read", None)]


async def test_opt_out_is_persisted(rig: RigFactory, database: Any, pg_factory: Any, no_leaks: None) -> None:
    phone = "+46701749202"
    store_id = await _store_with_context(pg_factory, database)
    session_id = await pg_factory.session(store_id, phone)
    r = await rig(
        scenarios=[{"name": "pg-opt", "phone": phone, "consent": "Nej, ring inte igen."}],
        store=PostgresSessionStore(database),
    )
    outcome = await r.call(str(session_id), phone, store_id=str(store_id))
    assert outcome.failure_reason is FailureReason.OPTED_OUT and not outcome.retry_due
    async with database.transaction(Principal.service()) as tx:
        assert await tx.opt_outs.is_opted_out(phone)
        record = await tx.sessions.get(session_id)
    assert record.session_status is SessionStatus.ABANDONED and record.failure_reason == "opted_out"


async def test_a_call_back_claims_the_waiting_session_once(database: Any, pg_factory: Any) -> None:
    phone = "+46701749204"
    store_id = await _store_with_context(pg_factory, database)
    session_id = await pg_factory.session(store_id, phone)
    store = PostgresSessionStore(database)
    waiting = await store.claim_inbound(phone, "host-7")
    assert waiting is not None and (waiting.session_id, waiting.attempt) == (str(session_id), 1)
    assert await store.claim_inbound(phone, "host-8") is None  # claimed: the Dispatcher cannot dial it
    async with database.transaction(Principal.service()) as tx:
        record = await tx.sessions.get(session_id)
    assert record.host_id == "host-7" and record.phase == "claimed" and record.next_attempt_at is None
    await store.release_inbound(waiting)  # the call-back could not take it after all
    again = await store.claim_inbound(phone, "host-8")
    assert again is not None and again.session_id == str(session_id)
    assert await store.claim_inbound("+46701749299", "host-8") is None


async def test_retention_removes_consent_and_progress_with_their_session(
    database: Any, pg_factory: Any
) -> None:
    import datetime as dt

    from engine.session.control import ConsentAnswer, ConsentRecord, ProgressUpdate, Source
    from storage.retention import cleanup

    session_id = await pg_factory.session()
    store = PostgresSessionStore(database)
    when = dt.datetime.now(dt.UTC)
    await store.record_consent(
        str(session_id), 1, ConsentRecord("v1", ConsentAnswer.DECLINED, Source.TOOL, when, when)
    )
    await store.record_progress(str(session_id), 1, ProgressUpdate("q1", "answered", Source.INFERRED))
    await store.record_progress(str(session_id), 2, ProgressUpdate("q1", "skipped", Source.TOOL))
    assert (await store.load_progress(str(session_id))).skipped == {"q1"}  # a tool report wins
    await store.record_progress(str(session_id), 3, ProgressUpdate("q1", "answered", Source.INFERRED))
    assert (await store.load_progress(str(session_id))).skipped == {"q1"}  # an inference never replaces it
    report = await cleanup(database, when + dt.timedelta(days=91))
    assert report.counts["feedback_call_sessions"] >= 1
    async with database.transaction(Principal.service()) as tx:
        assert await tx.interviews.consents(session_id) == []
        assert await tx.interviews.progress(session_id) == []
