"""The jobs table on real PostgreSQL: enqueued with the completed status, SKIP LOCKED claims,
leases taken over, dead letters, idempotency keys."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from engine.domain import SessionStatus
from engine.jobs.kinds import ASSESS, FRAUD
from engine.jobs.runner import PostgresJobStore
from storage import Database, Principal
from tests.fixtures.postgres import PgFactory

LEASE = dt.timedelta(seconds=30)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def test_completed_status_and_its_analysis_jobs_commit_together(
    database: Database, pg_factory: PgFactory
) -> None:
    sid = await pg_factory.session()
    async with database.transaction(Principal.service()) as tx:
        await tx.sessions.transition(sid, SessionStatus.PENDING, SessionStatus.IN_PROGRESS, now=_now())
    try:
        async with database.transaction(Principal.service()) as tx:
            await tx.sessions.transition(sid, SessionStatus.IN_PROGRESS, SessionStatus.COMPLETED, now=_now())
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    async with database.transaction(Principal.service()) as tx:
        assert await tx.jobs.find(ASSESS, f"{ASSESS}:{sid}") is None, "no job without the status"
        await tx.sessions.transition(sid, SessionStatus.IN_PROGRESS, SessionStatus.COMPLETED, now=_now())
    async with database.transaction(Principal.service()) as tx:
        for kind in (ASSESS, FRAUD):
            job = await tx.jobs.find(kind, f"{kind}:{sid}")
            assert job is not None and job.state == "queued"
        again = await tx.jobs.enqueue(
            ASSESS, {"session_id": str(sid)}, now=_now(), idempotency_key=f"{ASSESS}:{sid}"
        )
        assert again is None, "the same job is never enqueued twice"


async def test_concurrent_claimers_never_share_a_job(database: Database) -> None:
    kind = f"test.claim{uuid.uuid4().hex[:8]}"
    async with database.transaction(Principal.service()) as tx:
        for n in range(40):
            await tx.jobs.enqueue(kind, {"n": n}, now=_now())
    store = PostgresJobStore(database)
    results = await asyncio.gather(*(store.claim([kind], 7, f"w{i}", 30.0) for i in range(8)))
    ids = [job.id for batch in results for job in batch]
    assert len(ids) == len(set(ids)) == 40


async def test_expired_lease_is_taken_over_and_attempts_bound_to_dead(database: Database) -> None:
    kind = f"test.lease{uuid.uuid4().hex[:8]}"
    t0 = _now()
    async with database.transaction(Principal.service()) as tx:
        jid = await tx.jobs.enqueue(kind, {}, now=t0, max_attempts=2)
        assert jid is not None
        first = await tx.jobs.claim([kind], 5, "crashed", LEASE, t0)
        assert [j.id for j in first] == [jid]
        assert await tx.jobs.claim([kind], 5, "other", LEASE, t0 + dt.timedelta(seconds=10)) == []
        second = await tx.jobs.claim([kind], 5, "other", LEASE, t0 + dt.timedelta(seconds=31))
        assert [(j.id, j.attempts) for j in second] == [(jid, 2)]
        assert not await tx.jobs.complete(jid, "crashed", t0), "a worker that lost its lease cannot finish it"
        state = await tx.jobs.fail(jid, "other", "UnavailableError: llm", t0 + dt.timedelta(seconds=40), t0)
        assert state == "dead", "two attempts used"
        row = await tx.jobs.get(jid)
        assert row is not None and row.last_error == "UnavailableError: llm" and row.finished_at is not None
        assert await tx.jobs.requeue(jid, t0)
        again = await tx.jobs.claim([kind], 5, "ops", LEASE, t0 + dt.timedelta(seconds=1))
        assert [j.id for j in again] == [jid]
        assert await tx.jobs.complete(jid, "ops", t0)
        counts = await tx.jobs.counts()
        assert counts[(kind, "done")] == 1


async def test_a_listening_runner_claims_a_committed_job_at_once(database: Database) -> None:
    from engine.jobs.runner import Job, JobRunner, KindOptions

    kind = f"test.notify{uuid.uuid4().hex[:8]}"
    ran = asyncio.Event()

    async def handler(job: Job) -> None:
        ran.set()

    # A 60 s poll: only the notification can start the job quickly.
    runner = JobRunner(
        PostgresJobStore(database), {kind: KindOptions(handler)}, worker_id="n1", poll_seconds=60
    )
    task = asyncio.create_task(runner.run())
    try:
        await asyncio.sleep(0.5)  # the first (empty) claim and LISTEN are in place
        async with database.transaction(Principal.service()) as tx:
            await tx.jobs.enqueue(kind, {}, now=_now())
        async with asyncio.timeout(5):
            await ran.wait()
    finally:
        await runner.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_kind_yields_to_another_while_it_is_due_or_running_never_for_longer_than_its_wait(
    database: Database,
) -> None:
    first, second = f"test.first{uuid.uuid4().hex[:8]}", f"test.second{uuid.uuid4().hex[:8]}"
    now = _now()
    async with database.transaction(Principal.service()) as tx:
        await tx.jobs.enqueue(first, {"n": 1}, now=now)
        await tx.jobs.enqueue(second, {"n": 1}, now=now)
        await tx.jobs.enqueue(second, {"n": 2}, now=now - dt.timedelta(seconds=10))  # waited long
    store = PostgresJobStore(database)
    yields = {second: ((first,), 5.0)}
    late = await store.claim([second], 10, "w2", 30.0, yields=yields)
    assert [j.payload["n"] for j in late] == [2], "only the one that waited past its bound"
    (job,) = await store.claim([first], 10, "w1", 30.0)
    assert await store.claim([second], 10, "w2", 30.0, yields=yields) == [], "the first kind is running"
    assert [j.payload["n"] for j in await store.claim([second], 10, "w3", 30.0)] == [1], "no yield asked"
    async with database.transaction(Principal.service()) as tx:
        await tx.jobs.enqueue(second, {"n": 3}, now=_now())
    await store.complete(job.id, "w1")
    assert [j.payload["n"] for j in await store.claim([second], 10, "w2", 30.0, yields=yields)] == [3]
