"""PostgreSQL really stopped for 10 s mid-call, through the hang-up, on a server of this test's own:
the call completes once it is back, its status, every line (once, in order) and its analysis jobs
stored together; the number was rung once; and the queued jobs are run (the pools' handlers over
the durable queue) into a stored assessment."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from engine.domain import SessionStatus
from engine.jobs.kinds import ASSESS, FRAUD
from engine.jobs.runner import Job, JobRunner, KindOptions, PostgresJobStore
from engine.session.pgstore import PostgresSessionStore
from storage import Database, Principal, embedded, migrate
from tests.fixtures.postgres import PgFactory, PgServer, settings_for
from tests.integration.matrix import ended_at
from tests.integration.session.conftest import RigFactory

PHONE = "+46701749231"
OUTAGE_S = 10.0


@pytest.fixture
async def own_pg() -> AsyncIterator[tuple[Path, Database]]:
    data_dir = Path(tempfile.mkdtemp(prefix="callengine-outage-"))
    pgdata = data_dir / "pgdata"
    uri = await asyncio.to_thread(embedded.acquire, pgdata)
    db: Database | None = None
    try:
        await asyncio.to_thread(migrate.upgrade, uri)
        db = await Database.open(settings_for(PgServer(uri, data_dir, external=True), url=uri), upgrade=False)
        yield pgdata, db
    finally:
        if db is not None:
            await db.close()
        await asyncio.to_thread(embedded.release, pgdata)
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_postgres_stopped_mid_call_through_the_hang_up(
    rig: RigFactory, own_pg: tuple[Path, Database], no_leaks: None
) -> None:
    pgdata, db = own_pg
    factory = PgFactory(db)
    store_id = await factory.store()
    session_id = await factory.session(store_id, PHONE)
    scenario = {"name": "pgout", "phone": PHONE, "answers": ["Ja.", "Frukten var fin.", "Snabbt."]}
    r = await rig(scenarios=[scenario], store=PostgresSessionStore(db, host_id="host-1"))
    await r.host.start_call(_request(session_id, store_id))

    async def status() -> Any:
        async with db.transaction(Principal.service()) as tx:
            return (await tx.sessions.get(session_id)).session_status

    async with asyncio.timeout(30):
        while await status() is not SessionStatus.IN_PROGRESS:  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.1)
    await asyncio.to_thread(embedded.release, pgdata)  # the server stops, mid-call
    stopped = dt.datetime.now(dt.UTC)
    await asyncio.sleep(OUTAGE_S)  # the outage itself: the call goes on (and ends) without storage
    restarted = dt.datetime.now(dt.UTC)
    await asyncio.to_thread(embedded.acquire, pgdata)
    outcome = await r.outcome()
    assert outcome.status is SessionStatus.COMPLETED, outcome
    async with db.transaction(Principal.service()) as tx:
        record = await tx.sessions.get(session_id)
        lines = await tx.transcripts.list_lines(session_id)
        jobs = [await tx.jobs.find(kind, f"{kind}:{session_id}") for kind in (ASSESS, FRAUD)]
        metrics = await tx.metrics.list_for_session(session_id)
        consents = await tx.interviews.consents(session_id)
        progress = await tx.interviews.progress(session_id)
    assert record.session_status is SessionStatus.COMPLETED and record.call_ended_at is not None
    (placed,) = r.twilio.calls_to(PHONE)  # rung once
    assert stopped < ended_at(placed) < restarted, "the line went down inside the outage"
    assert [line.message_order for line in lines] == list(range(1, len(lines) + 1)), (
        "each line once, in order"
    )
    assert len(lines) >= 5
    # Written during the outage or held until it ended: the consent proof and the progress.
    assert [(c.attempt, c.answer) for c in consents] == [(1, "granted")] and progress
    assert all(job is not None and job.state == "queued" for job in jobs), "analysis enqueued with the status"
    counts = metrics[0].technical_errors["counts"]
    assert counts.get("transcript_flush_failed", 0) + counts.get("store_write_held", 0) >= 1, counts
    await _run_analysis(db, session_id)
    async with db.transaction(Principal.service()) as tx:
        assessment = await tx.assessments.get_by_session(session_id)
        jobs = [await tx.jobs.find(kind, f"{kind}:{session_id}") for kind in (ASSESS, FRAUD)]
    assert assessment.call_session_id == session_id, "the completed call is assessed"
    assert all(job is not None and job.state == "done" for job in jobs)


async def _run_analysis(db: Database, session_id: uuid.UUID) -> None:
    """The pools' work on this server's queue (rules-only), until the session's jobs are done."""
    from engine.analysis import service

    async def handle(job: Job) -> None:
        sid = uuid.UUID(str(job.payload["session_id"]))
        if job.kind == ASSESS:
            await service.assess_session(db, None, sid)
        else:
            await service.check_fraud(db, None, sid)

    runner = JobRunner(
        PostgresJobStore(db), {ASSESS: KindOptions(handle), FRAUD: KindOptions(handle)}, worker_id="test"
    )
    running = asyncio.create_task(runner.run())
    try:
        async with asyncio.timeout(30):
            while runner.stats.done < 2:  # noqa: ASYNC110 - the runner has no completion event
                await asyncio.sleep(0.05)
    finally:
        await runner.close()
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


def _request(session_id: uuid.UUID, store_id: uuid.UUID) -> Any:
    from engine.session.call import CallRequest

    return CallRequest(str(session_id), str(store_id), PHONE)
