"""JobRunner over an in-memory job store with the table's semantics (claims, leases, backoff, dead)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from engine.errors import NotFoundError, UnavailableError
from engine.jobs.runner import Job, JobRunner, KindOptions


@dataclass
class Row:
    job: Job
    state: str = "queued"
    run_at: float = 0.0
    locked_by: str | None = None
    locked_until: float = 0.0
    attempts: int = 0
    last_error: str | None = None


@dataclass
class MemoryJobs:
    now: float = 0.0
    rows: dict[int, Row] = field(default_factory=dict)
    down: bool = False
    claims: int = 0

    def add(self, kind: str, payload: dict[str, object], max_attempts: int = 3) -> int:
        jid = len(self.rows) + 1
        self.rows[jid] = Row(Job(jid, kind, payload, 0, max_attempts))
        return jid

    def _check(self) -> None:
        if self.down:
            raise UnavailableError("database down (test)")

    async def claim(self, kinds: Sequence[str], limit: int, worker: str, lease_s: float) -> list[Job]:
        self._check()
        self.claims += 1
        out = []
        for r in self.rows.values():
            due = (r.state == "queued" and r.run_at <= self.now) or (
                r.state == "running" and r.locked_until < self.now
            )
            if r.job.kind in kinds and due and len(out) < limit:
                r.state, r.locked_by, r.locked_until = "running", worker, self.now + lease_s
                r.attempts += 1
                out.append(Job(r.job.id, r.job.kind, r.job.payload, r.attempts, r.job.max_attempts))
        return out

    async def extend(self, ids: Sequence[int], worker: str, lease_s: float) -> None:
        self._check()
        for i in ids:
            if self.rows[i].locked_by == worker:
                self.rows[i].locked_until = self.now + lease_s

    async def complete(self, job_id: int, worker: str) -> None:
        self._check()
        r = self.rows[job_id]
        if r.state == "running" and r.locked_by == worker:
            r.state, r.locked_by = "done", None

    async def fail(self, job_id: int, worker: str, error: str, retry_in_s: float | None) -> str | None:
        self._check()
        r = self.rows[job_id]
        if r.locked_by != worker:
            return None
        r.last_error, r.locked_by = error, None
        if retry_in_s is None or r.attempts >= r.job.max_attempts:
            r.state = "dead"
        else:
            r.state, r.run_at = "queued", self.now + retry_in_s
        return r.state


def runner(store: MemoryJobs, handler: object, **kw: object) -> JobRunner:
    return JobRunner(
        store,
        {"k": KindOptions(handler, backoff_seconds=(1.0, 2.0))},  # type: ignore[arg-type]
        worker_id="w1",
        rng=random.Random(1),
        **kw,  # type: ignore[arg-type]
    )


async def drain(r: JobRunner) -> None:
    await r.run_once()
    while r.in_flight:  # noqa: ASYNC110 - handlers here finish within a few loop turns
        await asyncio.sleep(0)


async def test_runs_each_job_and_marks_it_done() -> None:
    store = MemoryJobs()
    seen: list[object] = []

    async def handler(job: Job) -> None:
        seen.append(job.payload["n"])

    for n in range(3):
        store.add("k", {"n": n})
    store.add("other", {"n": 99})
    r = runner(store, handler)
    await drain(r)
    assert sorted(seen) == [0, 1, 2]  # type: ignore[type-var]
    assert [row.state for row in store.rows.values()] == ["done", "done", "done", "queued"]
    assert r.stats.done == 3


async def test_failure_retries_with_backoff_then_dead_letters() -> None:
    store = MemoryJobs()
    calls = 0

    async def handler(job: Job) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("llm hiccup")

    jid = store.add("k", {}, max_attempts=3)
    r = runner(store, handler)
    await drain(r)
    row = store.rows[jid]
    assert row.state == "queued" and 0.8 <= row.run_at <= 1.2  # first backoff, with jitter
    await drain(r)
    assert calls == 1, "not due yet"
    store.now = 1.5
    await drain(r)
    assert row.state == "queued" and 1.5 + 1.6 <= row.run_at <= 1.5 + 2.4
    store.now = 10
    await drain(r)
    assert row.state == "dead" and row.last_error == "RuntimeError" and calls == 3
    assert r.stats.dead == 1 and r.stats.retried == 2


async def test_non_retryable_engine_error_is_dead_at_once() -> None:
    store = MemoryJobs()

    async def handler(job: Job) -> None:
        raise NotFoundError("session is gone")

    jid = store.add("k", {}, max_attempts=5)
    await drain(runner(store, handler))
    assert store.rows[jid].state == "dead" and "session is gone" in (store.rows[jid].last_error or "")


async def test_a_dead_workers_job_is_taken_over_after_its_lease() -> None:
    store = MemoryJobs()
    jid = store.add("k", {})
    await store.claim(["k"], 1, "crashed-worker", 30.0)  # claimed, never finished
    done: list[int] = []

    async def handler(job: Job) -> None:
        done.append(job.attempts)

    r = runner(store, handler)
    await drain(r)
    assert done == [], "lease still held"
    store.now = 31
    await drain(r)
    assert done == [2] and store.rows[jid].state == "done"


async def test_database_outage_never_stops_the_loop() -> None:
    store = MemoryJobs(down=True)
    ran = asyncio.Event()

    async def handler(job: Job) -> None:
        ran.set()

    store.add("k", {})
    r = runner(store, handler, poll_seconds=0.01, max_idle_seconds=0.05)
    task = asyncio.create_task(r.run())
    try:
        while r.stats.claim_errors < 3:  # noqa: ASYNC110 - the runner has no event for this
            await asyncio.sleep(0.01)
        store.down = False
        async with asyncio.timeout(5):
            await ran.wait()
    finally:
        await r.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert r.stats.claim_errors >= 3


async def test_close_lets_running_jobs_finish() -> None:
    store = MemoryJobs()
    release = asyncio.Event()
    finished: list[int] = []

    async def handler(job: Job) -> None:
        await release.wait()
        finished.append(job.id)

    store.add("k", {})
    r = runner(store, handler)
    await r.run_once()
    closing = asyncio.create_task(r.close(grace_seconds=5))
    await asyncio.sleep(0)
    release.set()
    await closing
    assert finished == [1] and store.rows[1].state == "done"


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError):
        JobRunner(MemoryJobs(), {}, worker_id="w", concurrency=0)


async def test_a_kind_that_yields_asks_the_store_to_let_the_other_kinds_go_first() -> None:
    from engine.analysis.jobs import FRAUD_YIELD_SECONDS, AnalysisWork
    from engine.jobs.kinds import ASSESS, FRAUD

    asked: list[object] = []

    class Yielding(MemoryJobs):
        async def claim(  # type: ignore[override]
            self, kinds: Sequence[str], limit: int, worker: str, lease_s: float, *, yields: object = None
        ) -> list[Job]:
            asked.append(yields)
            return await super().claim(kinds, limit, worker, lease_s)

    work = AnalysisWork(db=None, llm=None, config=None)  # type: ignore[arg-type]
    options = work.kinds(FRAUD)
    assert options[FRAUD].yields_to == (ASSESS,) and not work.kinds(ASSESS)[ASSESS].yields_to
    runner = JobRunner(Yielding(), options, worker_id="w")
    await runner.run_once()
    assert asked == [{FRAUD: ((ASSESS,), FRAUD_YIELD_SECONDS)}]
