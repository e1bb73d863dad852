"""Job actors: N assessor and N fraud actors, and the webhook delivery actors; each one a
:class:`~engine.jobs.runner.JobRunner` over the one job queue.

Hand-off is through the durable ``jobs`` table, not memory: a completed
session's ``analysis.assess`` and ``analysis.fraud`` jobs are written in the
same transaction as its status, and every pool actor claims its kind with
``SKIP LOCKED``. A killed actor stops renewing its leases, so another actor
(or its own restart: ``max_restarts=-1``, and the runner starts in
``__init__``) takes its jobs over; a Dispatcher restart loses nothing because
nothing travelled in memory. Handlers are idempotent (a re-run replaces).

Webhook deliveries (``events.webhook``, :mod:`engine.events.delivery`) run the same way
in their own actors (:class:`DeliveryActor`, ``CALLENGINE_WEBHOOK_ACTORS``, started only
when endpoints are configured): a slow or failing endpoint holds delivery slots, never
analysis slots, and the Dispatcher owns them like the analysis actors.

Why not procrastinate itself: its worker is its own process model and its
schema its own migrations, outside our alembic chain and RLS app role, and
its ``defer`` runs on its own connection, so a job could not be written in the
transaction of the status change it belongs to. The table follows its design
(and Oban's): state, run_at, attempts, lease, idempotency key.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import ray

from actors import _ray
from actors.metrics import RayMetrics
from engine import metrics as m
from engine.config import Settings
from engine.jobs import kinds
from engine.jobs.runner import JobRunner, KindOptions, PostgresJobStore
from engine.logs import get_logger

log = get_logger(__name__)

ASSESSOR = "assessor"
FRAUD = "fraud"
WEBHOOK = "webhook"
KIND_OF = {ASSESSOR: kinds.ASSESS, FRAUD: kinds.FRAUD}


async def open_database(settings: Settings, what: str) -> Any:
    """The database, retried: it may be down when the actor (re)starts."""
    from storage import Database

    delay = 0.5
    while True:
        try:
            return await Database.open(settings, upgrade=False)
        except Exception as exc:
            log.warning("%s: database not reachable (%s); retrying", what, type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


class _JobActor:
    """What every job actor has: its runner's loop, a liveness ping, its pid, stats and a stop."""

    _runner: JobRunner | None
    _loop: asyncio.Task[None]

    async def ping(self) -> bool:
        return not self._loop.done()

    async def pid(self) -> int:
        return os.getpid()

    def _runner_stats(self) -> dict[str, Any]:
        r = self._runner
        if r is None:
            return {"ready": False}
        return {"ready": True, "done": r.stats.done, "retried": r.stats.retried, "dead": r.stats.dead}

    async def _stop_runner(self) -> None:
        if self._runner is not None:
            await self._runner.close()
        self._loop.cancel()
        await asyncio.gather(self._loop, return_exceptions=True)


class AnalysisActor(_JobActor):
    """Runs one kind of post-call analysis from the job queue until stopped."""

    async def __init__(  # type: ignore[misc]  # Ray supports async __init__ for async actors
        self, settings: Settings, pool: str, concurrency: int = 8, lease_seconds: float = 30.0
    ) -> None:
        from actors.process import enter

        self.settings = enter(settings)
        self.pool = pool
        self._db: Any = None
        self._llm: Any = None
        self._config: Any = None
        self._metrics = RayMetrics()
        self._runner: JobRunner | None = None
        self._concurrency = concurrency
        self._lease = lease_seconds
        self._loop = asyncio.create_task(self._start(), name=f"{pool}-runner")

    async def _start(self) -> None:
        from engine.analysis.config import load_config
        from engine.analysis.jobs import AnalysisWork  # loads the analysis code now, not at the first job
        from engine.analysis.llm import llm_from_settings

        self._config = load_config(self.settings.analysis_config)
        self._db = await open_database(self.settings, f"{self.pool} pool")
        # None without a key or base URL: the analysis then runs rules-only and says so.
        self._llm = llm_from_settings(self.settings.openai, self._config.llm)
        work = AnalysisWork(self._db, self._llm, self._config)
        self._runner = JobRunner(
            PostgresJobStore(self._db),
            work.kinds(KIND_OF[self.pool]),
            worker_id=f"{self.pool}-{uuid.uuid4().hex[:8]}",
            concurrency=self._concurrency,
            lease_seconds=self._lease,
            on_finish=self._finished,
        )
        await self._runner.run()

    def _finished(self, kind: str, outcome: str, elapsed: float) -> None:
        self._metrics.count(m.JOB_RUNS.name, 1, {"kind": kind, "outcome": outcome})
        self._metrics.count(
            m.ANALYSES.name, 1, {"pool": self.pool, "outcome": "ok" if outcome == "done" else "error"}
        )
        if self._runner is not None:
            self._metrics.gauge(m.POOL_IN_FLIGHT.name, self._runner.in_flight, {"pool": self.pool})

    async def stats(self) -> dict[str, Any]:
        stats = self._runner_stats()
        if self._runner is not None:
            stats["in_flight"] = self._runner.in_flight
        return stats

    async def stop(self) -> None:
        await self._stop_runner()
        if self._db is not None:
            await self._db.close()


class DeliveryActor(_JobActor):
    """Delivers outgoing events to the configured webhook endpoints from the job queue until stopped."""

    async def __init__(  # type: ignore[misc]  # Ray supports async __init__ for async actors
        self, settings: Settings, concurrency: int = 16, lease_seconds: float = 30.0
    ) -> None:
        from actors.process import enter

        self.settings = enter(settings)
        self._db: Any = None
        self._delivery: Any = None
        self._runner: JobRunner | None = None
        self._metrics = RayMetrics()
        self._concurrency = concurrency
        self._lease = lease_seconds
        self._loop = asyncio.create_task(self._start(), name="webhook-runner")

    async def _start(self) -> None:
        from engine.events.delivery import WebhookDelivery
        from engine.events.endpoints import parse_endpoints
        from engine.events.types import WEBHOOK_KIND

        ev = self.settings.events
        self._db = await open_database(self.settings, "webhook delivery")
        self._delivery = WebhookDelivery(
            self._db,
            parse_endpoints(ev.webhook_endpoints, ev.webhook_secrets),
            ca_file=ev.webhook_ca_file,
            timeout_seconds=ev.webhook_timeout_seconds,
            metrics=self._metrics,
        )
        await self._delivery.start()
        self._runner = JobRunner(
            PostgresJobStore(self._db),
            {
                WEBHOOK_KIND: KindOptions(
                    self._delivery.handle,
                    backoff_seconds=tuple(ev.webhook_backoff_seconds),
                    timeout_seconds=ev.webhook_timeout_seconds + 5.0,
                )
            },
            worker_id=f"webhook-{uuid.uuid4().hex[:8]}",
            concurrency=self._concurrency,
            lease_seconds=self._lease,
            on_finish=self._finished,
            clock=self._db.clock,
        )
        await self._runner.run()

    def _finished(self, kind: str, outcome: str, elapsed: float) -> None:
        self._metrics.count(m.JOB_RUNS.name, 1, {"kind": kind, "outcome": outcome})

    async def stats(self) -> dict[str, Any]:
        return self._runner_stats()

    async def stop(self) -> None:
        await self._stop_runner()
        if self._delivery is not None:
            await self._delivery.close()
        if self._db is not None:
            await self._db.close()


class AnalysisPools:
    """Starts the job actors (analysis, and webhook delivery when endpoints are configured; owned by
    the Dispatcher, restarted on crash) and stops them."""

    def __init__(self, settings: Settings, *, per_worker: int = 8) -> None:
        self.actors: dict[str, list[Any]] = {}
        cls: Any = ray.remote(AnalysisActor)
        for pool, size in (
            (ASSESSOR, settings.dispatch.assessor_actors),
            (FRAUD, settings.dispatch.fraud_actors),
        ):
            prefix = _ray.ASSESSOR_PREFIX if pool == ASSESSOR else _ray.FRAUD_PREFIX
            self.actors[pool] = [
                # Owned by the Dispatcher (not detached): they share its fate and are
                # rebuilt with it; max_restarts covers crashes in between.
                cls.options(
                    name=f"{prefix}{index}-{uuid.uuid4().hex[:6]}",
                    namespace=_ray.NAMESPACE,
                    num_cpus=0,
                    max_restarts=-1,
                    max_concurrency=per_worker * 2 + 4,
                    resources=_ray.control_resources(),
                ).remote(settings, pool, per_worker, settings.dispatch.job_lease_seconds)
                for index in range(max(1, size))
            ]
        if settings.events.webhook_endpoints and settings.events.delivery_actors > 0:
            delivery: Any = ray.remote(DeliveryActor)
            self.actors[WEBHOOK] = [
                delivery.options(
                    name=f"{_ray.WEBHOOK_PREFIX}{index}-{uuid.uuid4().hex[:6]}",
                    namespace=_ray.NAMESPACE,
                    num_cpus=0,
                    max_restarts=-1,
                    max_concurrency=8,
                    resources=_ray.control_resources(),
                ).remote(settings, 16, settings.dispatch.job_lease_seconds)
                for index in range(settings.events.delivery_actors)
            ]

    def handles(self) -> list[Any]:
        return [a for actors in self.actors.values() for a in actors]

    async def close(self) -> None:
        for actor in self.handles():
            try:
                await _ray.call(actor.stop.remote(), "analysis actor stop", 15.0)
            except Exception as exc:
                log.warning("analysis actor did not stop cleanly: %s", type(exc).__name__)
            _ray.kill(actor)
