"""Assess-and-store, fraud rows and folding, review workflow, weekly reports — on real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import openai

from engine.analysis import service
from engine.analysis.config import LLMConfig
from engine.analysis.llm import OpenAIStructuredLLM
from engine.analysis.report import monday_of
from engine.domain import CheckType, ReviewDecision
from storage import Database, Principal
from storage import records as rec
from tests.integration.analysis.conftest import Seeder
from tests.unit.analysis.conftest import ChatServer
from tests.unit.analysis.samples import DETAILED

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
# A past weekday afternoon inside every window the checks use (opening hours, 7-day pattern window).
CALL_DAY = NOW - dt.timedelta(days=(NOW.weekday() - 2) % 7 or 7)
AFTERNOON = dt.datetime.combine(CALL_DAY.date(), dt.time(13, 0), dt.UTC)


def unique_answers() -> list[str]:
    """Answers no other test (or earlier run) has stored, so near-duplicate checks only see this test."""
    return [f"{sentence} " + " ".join(uuid.uuid4().hex[:8] for _ in range(10)) for sentence in DETAILED]


async def _no_sleep(seconds: float) -> None:
    return None


def llm_for(server: ChatServer) -> OpenAIStructuredLLM:
    client = openai.AsyncOpenAI(api_key="x", base_url=server.base_url, max_retries=0)
    return OpenAIStructuredLLM(client, "gpt-4o-mini", LLMConfig(attempts=2), sleep=_no_sleep)


async def test_assess_and_store(database: Database, seeder: Seeder, chat_server: ChatServer) -> None:
    store = await seeder.store()
    sid = await seeder.call(store, DETAILED, call_at=NOW - dt.timedelta(hours=1))
    stored = await service.assess_session(database, llm_for(chat_server), sid, now=NOW)
    assert stored.call_session_id == sid and stored.store_id == store
    assert 2.0 <= stored.reward_percentage <= 15.0 and stored.overall_quality_score > 0.3
    md: dict[str, Any] = stored.analysis_metadata  # type: ignore[assignment]
    assert (
        md["prompt_version"] == "assessment-v1"
        and md["rules_only"] is False
        and md["llm"]["usage"]["total_tokens"] > 0
    )
    async with database.transaction(Principal.admin(None)) as tx:
        again = await tx.assessments.get_by_session(sid)
    assert again.analysis_summary == stored.analysis_summary and "Kunden" in (again.analysis_summary or "")
    assert any(i["department"] == "Kassa" for i in again.business_actionable_items or [])  # type: ignore[union-attr,index]
    # a re-run replaces, it does not add
    rerun = await service.assess_session(database, llm_for(chat_server), sid, now=NOW)
    assert rerun.id == stored.id


async def test_llm_down_gives_rules_only_and_missing_context_is_recorded(
    database: Database, seeder: Seeder, chat_server: ChatServer
) -> None:
    store = await seeder.store(with_context=False)
    sid = await seeder.call(store, DETAILED, call_at=NOW - dt.timedelta(hours=1))
    chat_server.emulator.inject_burst(500, 10)
    stored = await service.assess_session(database, llm_for(chat_server), sid, now=NOW)
    md: dict[str, Any] = stored.analysis_metadata  # type: ignore[assignment]
    assert md["rules_only"] is True and md["context_missing"] is True
    assert "llm_failed:InternalServerError" in md["reasons"] and "business_context_missing" in md["reasons"]
    verdict = await service.check_fraud(database, None, sid, now=NOW)
    ctx_check = next(c for c in verdict.checks if c.check_type == CheckType.CONTEXT)
    assert not ctx_check.is_suspicious and "no business context" in ctx_check.decision_reasoning


async def test_copied_script_is_flagged_folded_and_reviewable(database: Database, seeder: Seeder) -> None:
    store = await seeder.store()
    answers = unique_answers()
    original = await seeder.call(store, answers, call_at=AFTERNOON)
    copy = await seeder.call(store, answers, call_at=AFTERNOON + dt.timedelta(hours=2))
    for sid in (original, copy):
        await service.assess_session(database, None, sid, now=NOW)
    first = await service.check_fraud(database, None, original, now=NOW)
    second = await service.check_fraud(database, None, copy, now=NOW)
    assert not first.is_fraudulent
    pattern = next(c for c in second.checks if c.check_type == CheckType.PATTERN)
    assert "near_duplicate_transcript" in pattern.fraud_indicators and second.is_fraudulent
    # idempotent: a second run returns the stored verdict and adds no rows
    again = await service.check_fraud(database, None, copy, now=NOW)
    assert again.is_fraudulent
    async with database.transaction(Principal.admin(None)) as tx:
        rows = (await tx.fraud.list(rec.FraudFilter(call_session_id=copy))).items
        folded = await tx.assessments.get_by_session(copy)
    assert len(rows) == 4
    assert folded.is_fraudulent and folded.reward_percentage == 2.0 and folded.fraud_reasons
    pre = folded.analysis_metadata["pre_fraud"]  # type: ignore[index,call-overload]
    # admin review: the duplicate was a false positive → the assessment is restored
    pattern_row = next(r for r in rows if r.check_type == CheckType.PATTERN)
    admin = Principal.admin(None)
    reviewed = await service.review_fraud_result(
        database, admin, pattern_row.id, ReviewDecision.FALSE_POSITIVE
    )  # type: ignore[arg-type]
    assert reviewed.review_decision == ReviewDecision.FALSE_POSITIVE
    async with database.transaction(admin) as tx:
        restored = await tx.assessments.get_by_session(copy)
    assert not restored.is_fraudulent and restored.reward_percentage == pre["reward_percentage"]
    # a forced re-check (later: rows carry the time they were checked at) adds a fresh set of
    # rows; only the newest per check type counts
    await service.check_fraud(database, None, copy, now=NOW + dt.timedelta(minutes=5), force=True)
    async with database.transaction(admin) as tx:
        rows = (await tx.fraud.list(rec.FraudFilter(call_session_id=copy))).items
        rechecked = await tx.assessments.get_by_session(copy)
    assert len(rows) == 8 and rechecked.is_fraudulent
    assert [r["check_type"] for r in rechecked.fraud_reasons or []] == ["pattern"]  # type: ignore[index]


async def test_weekly_report_two_weeks_and_idempotent_rebuild(
    database: Database, seeder: Seeder, backdate: Any
) -> None:
    store = await seeder.store()
    week = monday_of(NOW.date()) - dt.timedelta(days=7)
    prev_week = week - dt.timedelta(days=7)
    queue = "Det var lång kö i kassan och bara en kassa öppen, det borde fixas."
    dairy = "Mejeriet hade slut på mjölk och yoghurten saknades helt, det var dåligt."
    good = "Bageriet var fräscht och bröden var goda, personalen var trevlig."
    plan = [(prev_week, queue, 3), (prev_week, good, 2), (week, queue, 2), (week, dairy, 3), (week, good, 2)]
    for monday, answer, n in plan:
        for i in range(n):
            at = dt.datetime.combine(monday + dt.timedelta(days=2), dt.time(12, i), dt.UTC)
            sid = await seeder.call(store, [answer, answer, answer], call_at=at)
            await service.assess_session(database, None, sid, now=at)
            backdate(sid, at + dt.timedelta(minutes=5))
    report = await service.build_weekly_report(database, None, store, week, now=NOW)
    assert report.total_feedback_count == 7
    new = [(i["department"], i["topic"]) for i in report.new_issues]  # type: ignore[union-attr,index]
    assert ("Mejeri", "sortiment och tillgång") in new and all(d != "Kassa" for d, _ in new)
    change = report.historical_comparison["change"]  # type: ignore[index,call-overload]
    assert change["feedback_count"] == 2 and change["feedback_count_pct"] == 40.0
    weeks = report.historical_comparison["weeks"]  # type: ignore[index,call-overload]
    assert [(w["week"], w["feedback_count"]) for w in weeks] == [
        (prev_week.isoformat(), 5),
        (week.isoformat(), 7),
    ]
    assert weeks[0]["average_quality"] == report.historical_comparison["previous_week"]["average_quality"]  # type: ignore[index,call-overload]
    rebuilt = await service.build_weekly_report(database, None, store, week, now=NOW + dt.timedelta(hours=1))
    assert rebuilt.id == report.id

    def stable(r: rec.WeeklyReport) -> dict[str, Any]:
        d = {f: getattr(r, f) for f in r.__struct_fields__ if f not in ("generated_at",)}
        d["report_metadata"] = {k: v for k, v in d["report_metadata"].items() if k != "build_ms"}
        return d

    assert stable(rebuilt) == stable(report)
    async with database.transaction(Principal.service()) as tx:
        listed = await tx.reports.list(store)
    assert [r.analysis_week for r in listed] == [week]


async def test_signature_index_reads_only_new_rows(database: Database, seeder: Seeder) -> None:
    from engine.analysis.signature_index import SignatureIndex

    store = await seeder.store()
    index = SignatureIndex(dt.timedelta(days=7), 2000, overlap=dt.timedelta(0))
    answers = unique_answers()
    a = await seeder.call(store, answers, call_at=AFTERNOON)
    b = await seeder.call(store, unique_answers(), call_at=AFTERNOON + dt.timedelta(minutes=5))
    c = await seeder.call(store, answers, call_at=AFTERNOON + dt.timedelta(minutes=10))
    await service.check_fraud(database, None, a, now=NOW, signatures=index)
    first = index.rows_read
    await service.check_fraud(database, None, b, now=NOW, signatures=index)
    assert index.rows_read - first <= 2  # the boundary row and the one new row, not the window again
    verdict = await service.check_fraud(database, None, c, now=NOW, signatures=index)
    pattern = next(ch for ch in verdict.checks if ch.check_type == CheckType.PATTERN)
    assert (
        pattern.details["duplicate_of"] == [str(a)]
        and "near_duplicate_transcript" in pattern.fraud_indicators
    )


async def test_schema_violating_jsonb_is_recorded_not_fatal(
    database: Database, seeder: Seeder, pg_server: Any
) -> None:
    import psycopg

    from tests.unit.analysis.samples import profile_payload

    bad = profile_payload()
    bad["departments"] = [{"name": 5}]
    store = await seeder.store(with_context=False)
    async with database.transaction(Principal.service()) as tx:
        await tx.contexts.put_new_version(rec.BusinessContext(store_id=store, **bad))
    sid = await seeder.call(store, DETAILED, call_at=AFTERNOON)
    stored = await service.assess_session(database, None, sid, now=NOW)
    md: dict[str, Any] = stored.analysis_metadata  # type: ignore[assignment]
    assert "business_context_invalid:departments[0].name" in md["reasons"] and md["context_missing"]
    # a stored actionable item with a broken shape is skipped and counted by the report
    with psycopg.connect(pg_server.owner_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE quality_assessments SET business_actionable_items = '[{\"topic\": 3}]'::jsonb WHERE call_session_id = %s",
            (sid,),
        )
    week = monday_of(dt.datetime.now(ZoneInfo("Europe/Stockholm")).date())  # the store's week
    report = await service.build_weekly_report(database, None, store, week)
    assert report.total_feedback_count == 1 and report.report_metadata["invalid_items_skipped"] == 1  # type: ignore[index,call-overload]


async def test_assessor_and_fraud_pool_racing_still_fold(database: Database, seeder: Seeder) -> None:
    """The pools run both jobs at once (asyncio.gather); whichever finishes last, the fold holds."""
    import asyncio

    store = await seeder.store()
    answers = unique_answers()
    original = await seeder.call(store, answers, call_at=AFTERNOON)
    await service.check_fraud(database, None, original, now=NOW)
    copies = [
        await seeder.call(store, answers, call_at=AFTERNOON + dt.timedelta(minutes=m)) for m in (5, 10, 15)
    ]
    for sid in copies:
        await asyncio.gather(
            service.assess_session(database, None, sid, now=NOW),
            service.check_fraud(database, None, sid, now=NOW),
        )
    async with database.transaction(Principal.admin(None)) as tx:
        folded = [await tx.assessments.get_by_session(sid) for sid in copies]
    assert all(a.is_fraudulent and a.reward_percentage == 2.0 and a.fraud_reasons for a in folded)
