"""JobRunner: claims due jobs of some kinds and runs their handlers, at least once each.

A plain asyncio class (the pool actors in ``actors/pools.py`` only host one).
Each loop turn claims as many due jobs as it has free slots (``SKIP LOCKED``
in the store, so any number of runners share the table), runs each handler
in an owned task, and finishes the job:

- handler returned → ``done``;
- handler raised a non-retryable :class:`~engine.errors.CallEngineError`
  (e.g. the session no longer exists) → ``dead`` at once;
- anything else → queued again after the kind's backoff (with jitter), ``dead``
  once ``max_attempts`` runs failed.

Leases: a claimed job is held for ``lease_seconds`` and extended every third
of that while its handler runs; a runner that dies stops extending, and another
runner takes the job once the lease ran out. So handlers must be idempotent.

Due jobs are looked for every ``poll_seconds`` (and at once when a slot frees).
The database going away never stops the loop: a failed claim backs off (up
to ``max_idle_seconds``) and tries again; a failed ``complete`` leaves the job
running until its lease expires, and it is run again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from engine.clock import Clock, SystemClock
from engine.errors import CallEngineError
from engine.logs import get_logger

log = get_logger(__name__)


class Job(msgspec.Struct, frozen=True):
    """A claimed job as a handler sees it."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    """Runs so far including this one (1 on the first)."""
    max_attempts: int
    idempotency_key: str | None = None


Handler = Callable[[Job], Awaitable[None]]


@dataclass(frozen=True)
class KindOptions:
    """How one kind is run."""

    handler: Handler
    backoff_seconds: Sequence[float] = (1.0, 5.0, 30.0, 120.0, 600.0)
    """Delay before run n+1 after n failed runs; the last repeats. Jitter: ±20 %."""
    timeout_seconds: float = 300.0
    """A run taking longer is cancelled and counts as failed."""
    yields_to: tuple[str, ...] = ()
    """Kinds that go first: a job of this kind is not claimed while jobs of these kinds are due
    or running (any worker's), unless it has waited ``yield_max_seconds`` — late, never starved."""
    yield_max_seconds: float = 2.0


Yields = Mapping[str, tuple[tuple[str, ...], float]]
"""kind → (kinds that go first, longest wait in seconds); see :attr:`KindOptions.yields_to`."""


class JobStore(Protocol):
    async def claim(
        self, kinds: Sequence[str], limit: int, worker: str, lease_s: float, *, yields: Yields | None = None
    ) -> list[Job]: ...

    async def extend(self, ids: Sequence[int], worker: str, lease_s: float) -> None: ...

    async def complete(self, job_id: int, worker: str) -> None: ...

    async def fail(self, job_id: int, worker: str, error: str, retry_in_s: float | None) -> str | None:
        """Re-queue after ``retry_in_s`` (None: dead now); the new state."""
        ...


@dataclass
class RunnerStats:
    done: int = 0
    retried: int = 0
    dead: int = 0
    claim_errors: int = 0
    latency_s: list[float] = field(default_factory=list)


class JobRunner:
    def __init__(
        self,
        store: JobStore,
        kinds: Mapping[str, KindOptions],
        *,
        worker_id: str,
        concurrency: int = 8,
        poll_seconds: float = 0.2,
        lease_seconds: float = 30.0,
        max_idle_seconds: float = 5.0,
        clock: Clock | None = None,
        on_finish: Callable[[str, str, float], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.store = store
        self.kinds = dict(kinds)
        self.worker_id = worker_id
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds
        self.max_idle_seconds = max_idle_seconds
        self.clock = clock or SystemClock()
        self._on_finish = on_finish
        self._rng = rng or random.Random()
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._yields: dict[str, tuple[tuple[str, ...], float]] = {
            kind: (opts.yields_to, opts.yield_max_seconds)
            for kind, opts in self.kinds.items()
            if opts.yields_to
        }
        self._wake = asyncio.Event()
        self._stopping = False
        self.stats = RunnerStats()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Claim and run until :meth:`close`; never raises for a failing database."""
        listen = getattr(self.store, "listen", None)
        listener = None
        if listen is not None:
            listener = asyncio.create_task(
                listen(list(self.kinds), self.wake), name=f"jobs-listen-{self.worker_id}"
            )
        try:
            await self._loop()
        finally:
            if listener is not None:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)

    async def _loop(self) -> None:
        idle = self.poll_seconds
        next_extend = self.clock.monotonic() + self.lease_seconds / 3
        while not self._stopping:
            try:
                await self.run_once()
                # A steady poll (one indexed query per poll per runner) bounds the hand-off
                # latency; only a failing database makes the loop back off.
                idle = self.poll_seconds
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats.claim_errors += 1
                idle = min(max(idle, self.poll_seconds) * 2, self.max_idle_seconds)
                log.warning("job runner %s: claim failed (%s); again in %.1fs", self.worker_id, exc, idle)
            if self.clock.monotonic() >= next_extend:
                await self._extend()
                next_extend = self.clock.monotonic() + self.lease_seconds / 3
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), idle if len(self._tasks) < self.concurrency else 0.5
                )
            self._wake.clear()

    async def run_once(self) -> int:
        """One claim: start handlers for up to the free slots; returns how many were claimed."""
        free = self.concurrency - len(self._tasks)
        if free <= 0:
            return 0
        if self._yields:
            jobs = await self.store.claim(
                list(self.kinds), free, self.worker_id, self.lease_seconds, yields=self._yields
            )
        else:
            jobs = await self.store.claim(list(self.kinds), free, self.worker_id, self.lease_seconds)
        for job in jobs:
            task = asyncio.create_task(self._run_job(job), name=f"job-{job.kind}-{job.id}")
            self._tasks[job.id] = task
            task.add_done_callback(functools.partial(self._done, job.id))
        return len(jobs)

    def _done(self, job_id: int, _task: object = None) -> None:
        self._tasks.pop(job_id, None)
        self._wake.set()  # a free slot: claim again now

    async def _extend(self) -> None:
        if not self._tasks:
            return
        try:
            await self.store.extend(list(self._tasks), self.worker_id, self.lease_seconds)
        except CallEngineError as exc:
            log.warning("job runner %s: lease extension failed: %s", self.worker_id, exc)

    async def _run_job(self, job: Job) -> None:
        opts = self.kinds[job.kind]
        started = self.clock.monotonic()
        try:
            async with asyncio.timeout(opts.timeout_seconds):
                await opts.handler(job)
        except asyncio.CancelledError:
            if self._stopping:
                return  # shutting down: the lease runs out and another runner takes it
            raise
        except Exception as exc:
            await self._failed(job, opts, exc, self.clock.monotonic() - started)
            return
        elapsed = self.clock.monotonic() - started
        try:
            await self.store.complete(job.id, self.worker_id)
        except CallEngineError as exc:
            # The work is done but not recorded: the job runs again once its lease expires.
            log.warning("job %s %d done but not recorded (%s); it will run again", job.kind, job.id, exc)
            return
        self.stats.done += 1
        self._finish(job.kind, "done", elapsed)

    async def _failed(self, job: Job, opts: KindOptions, exc: Exception, elapsed: float) -> None:
        retryable = exc.retryable if isinstance(exc, CallEngineError) else True
        if isinstance(exc, TimeoutError):
            retryable = True
        error = f"{type(exc).__name__}: {exc}" if isinstance(exc, CallEngineError) else type(exc).__name__
        retry_in = self.backoff(opts, job.attempts) if retryable and job.attempts < job.max_attempts else None
        try:
            state = await self.store.fail(job.id, self.worker_id, error, retry_in)
        except CallEngineError as db_exc:
            log.warning("job %s %d failed and not recorded (%s)", job.kind, job.id, db_exc)
            return
        outcome = "dead" if state == "dead" else "retry"
        if outcome == "dead":
            self.stats.dead += 1
            log.error("job %s %d dead after %d attempts: %s", job.kind, job.id, job.attempts, error)
        else:
            self.stats.retried += 1
            log.warning(
                "job %s %d failed (attempt %d), retry in %.1fs: %s",
                job.kind,
                job.id,
                job.attempts,
                retry_in or 0,
                error,
            )
        self._finish(job.kind, outcome, elapsed)

    def backoff(self, opts: KindOptions, attempts: int) -> float:
        seq = tuple(opts.backoff_seconds) or (1.0,)
        base = seq[min(max(attempts, 1) - 1, len(seq) - 1)]
        return base * self._rng.uniform(0.8, 1.2)

    def _finish(self, kind: str, outcome: str, elapsed: float) -> None:
        if self._on_finish is not None:
            with contextlib.suppress(Exception):
                self._on_finish(kind, outcome, elapsed)

    async def close(self, grace_seconds: float = 5.0) -> None:
        """Stop claiming; let running handlers finish for ``grace_seconds``, then cancel them."""
        self._stopping = True
        self._wake.set()
        tasks = list(self._tasks.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace_seconds)
            for t in late:
                t.cancel()
            if late:
                await asyncio.wait(late, timeout=grace_seconds)


class PostgresJobStore:
    """:class:`JobStore` over ``storage`` (one short transaction per call, as the service).

    :meth:`listen` keeps one connection ``LISTEN``-ing for committed jobs, so a runner claims
    a new job within milliseconds rather than at its next poll (the poll stays as the
    safety net: a notification can be missed while reconnecting).
    """

    def __init__(self, db: Any) -> None:
        self.db = db
        self.listening = asyncio.Event()
        """Set while a LISTEN connection is up."""

    async def listen(self, kinds: Sequence[str], wake: Callable[[], None]) -> None:
        import psycopg

        from storage.repositories.jobs import NOTIFY_CHANNEL
        from storage.rls import APP_ROLE

        wanted = set(kinds)
        delay = 0.5
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    _conninfo(self.db.owner_url),
                    autocommit=True,
                    connect_timeout=5,
                    options=f"-c role={APP_ROLE}",
                )
                async with conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    delay = 0.5
                    self.listening.set()
                    wake()  # anything committed while we were not listening
                    async for note in conn.notifies():
                        if note.payload in wanted:
                            wake()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the poll covers the gap; reconnect with backoff
                self.listening.clear()
                log.warning("job notifications lost (%s); reconnecting in %.1fs", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    def _tx(self) -> Any:
        from storage import Principal

        return self.db.transaction(Principal.service())

    def _now(self) -> dt.datetime:
        # The database's clock: run_at and leases are compared with the times jobs were written at.
        clock = getattr(self.db, "clock", None)
        return clock.now() if clock is not None else dt.datetime.now(dt.UTC)

    async def claim(
        self, kinds: Sequence[str], limit: int, worker: str, lease_s: float, *, yields: Yields | None = None
    ) -> list[Job]:
        waits = {k: (others, dt.timedelta(seconds=s)) for k, (others, s) in (yields or {}).items()}
        async with self._tx() as tx:
            rows = await tx.jobs.claim(
                kinds, limit, worker, dt.timedelta(seconds=lease_s), self._now(), yields=waits or None
            )
        return [Job(r.id, r.kind, r.payload, r.attempts, r.max_attempts, r.idempotency_key) for r in rows]

    async def extend(self, ids: Sequence[int], worker: str, lease_s: float) -> None:
        async with self._tx() as tx:
            await tx.jobs.extend(ids, worker, dt.timedelta(seconds=lease_s), self._now())

    async def complete(self, job_id: int, worker: str) -> None:
        async with self._tx() as tx:
            await tx.jobs.complete(job_id, worker, self._now())

    async def fail(self, job_id: int, worker: str, error: str, retry_in_s: float | None) -> str | None:
        now = self._now()
        retry_at = None if retry_in_s is None else now + dt.timedelta(seconds=retry_in_s)
        async with self._tx() as tx:
            return await tx.jobs.fail(job_id, worker, error, retry_at, now)


def _conninfo(url: str) -> str:
    """A libpq URL from the engine's database URL (which may name the SQLAlchemy driver)."""
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url
