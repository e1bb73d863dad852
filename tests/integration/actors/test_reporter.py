"""Reporter and analysis pools come up as named actors; on-demand report and cleanup run through them."""

from __future__ import annotations

import asyncio
import datetime as dt
import zoneinfo

import pytest

from actors import _ray, handles
from actors.bootstrap import start_engine
from engine.domain import MessageType, SessionStatus, Speaker
from engine.jobs.kinds import ASSESS, FRAUD
from storage import Principal
from storage.records import TranscriptLine
from tests.integration.actors.conftest import SIM_FACTORY, Rig, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

STOCKHOLM = zoneinfo.ZoneInfo("Europe/Stockholm")


def _lines(n: int) -> list[TranscriptLine]:
    return [TranscriptLine(Speaker.CUSTOMER, i, f"rad {i}", i * 1000, MessageType.RESPONSE) for i in range(n)]


async def test_reporter_builds_on_demand_and_cleans_up(rig: Rig) -> None:
    now = dt.datetime.now(dt.UTC)
    store = await rig.factory.store()
    assessed = await rig.factory.session(store, now=now)
    expired = await rig.factory.session(store, now=now - dt.timedelta(days=91))
    async with rig.db.transaction(Principal.service()) as tx:
        await tx.sessions.transition(assessed, SessionStatus.PENDING, SessionStatus.COMPLETED, now=now)
        for sid in (assessed, expired):
            await tx.transcripts.add_lines(sid, _lines(2))

    settings = rig.configure(assessor_actors=1, fraud_actors=1)
    engine = await asyncio.to_thread(
        start_engine, settings, call_host_factory=SIM_FACTORY, analysis=True, reporter=True
    )
    # singleton: a second bootstrap finds the same actors
    again = await asyncio.to_thread(
        start_engine, settings, call_host_factory=SIM_FACTORY, analysis=True, reporter=True
    )
    assert again.reporter._actor_id == engine.reporter._actor_id
    assert again.dispatcher._actor_id == engine.dispatcher._actor_id
    assert any(n.startswith(_ray.ASSESSOR_PREFIX) for n in _ray.named_actors("callengine-"))

    # The completed call is analysed through the job queue; the report waits for nothing, so
    # let the assessment (with fraud folded in) settle first.
    async def analysed() -> bool:
        async with rig.db.transaction(Principal.service()) as tx:
            jobs = [await tx.jobs.find(kind, f"{kind}:{assessed}") for kind in (ASSESS, FRAUD)]
        return all(job is not None and job.state == "done" for job in jobs)

    await wait_for(analysed, 120, "the completed call's analysis jobs done")
    async with rig.db.transaction(Principal.service()) as tx:
        assessment = await tx.assessments.get_by_session(assessed)
    assert assessment is not None

    # This week's report (the store's week) counts the one assessed call and is the row stored.
    today = now.astimezone(STOCKHOLM).date()
    monday = today - dt.timedelta(days=today.weekday())
    report_id = await handles.build_report(str(store), monday.isoformat())
    async with rig.db.transaction(Principal.service()) as tx:
        stored = await tx.reports.list(store)
    # (The reporter also catches up earlier weeks on start: one row per week, never two.)
    by_week = {r.analysis_week: r for r in stored}
    assert len(by_week) == len(stored)
    this_week = by_week[monday]
    assert (str(this_week.id), this_week.total_feedback_count) == (report_id, 1)
    assert this_week.average_quality_score == pytest.approx(assessment.overall_quality_score, abs=0.005)

    # Cleanup through the actor applies the retention rules to the engine's database:
    # the expired session's transcript goes, the recent one's stays.
    summary = await _ray.call(engine.reporter.cleanup_now.remote(), "cleanup", 60.0)
    assert "'conversation_transcripts': 2" in summary
    async with rig.db.transaction(Principal.admin(None)) as tx:
        assert await tx.transcripts.list_lines(expired) == []
        assert [line.content for line in await tx.transcripts.list_lines(assessed)] == ["rad 0", "rad 1"]
        assert len(await tx.sessions.get_phone(assessed)) > 5
