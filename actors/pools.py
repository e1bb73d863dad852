"""AssessorPool and FraudPool: N analysis actors each behind our own :class:`AsyncPool`.

The actors are thin: each holds a database pool and an LLM client and calls
``engine.analysis.service.assess_session`` / ``check_fraud``. Jobs are
idempotent (a re-run replaces), so a job whose actor died is retried once on
its replacement.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import ray

from actors import _ray
from actors.metrics import RayMetrics
from engine import metrics as m
from engine.analysis.pool import AsyncPool
from engine.config import Settings
from engine.dispatch.ports import HostLostError
from engine.logs import get_logger

log = get_logger(__name__)

ASSESSOR = "assessor"
FRAUD = "fraud"


class AnalysisActor:
    """Runs one kind of post-call analysis for whoever submits it."""

    def __init__(self, settings: Settings, kind: str) -> None:
        from actors.process import enter

        self.settings = enter(settings)
        self.kind = kind
        self._db: Any = None
        self._llm: Any = None
        self._config: Any = None

    async def _deps(self) -> tuple[Any, Any]:
        if self._db is None:
            from engine.analysis.config import load_config
            from engine.analysis.llm import llm_from_settings
            from storage import Database

            self._config = load_config(self.settings.analysis_config)
            self._db = await Database.open(self.settings, upgrade=False)
            # None without a key or base URL: the analysis then runs rules-only and says so.
            self._llm = llm_from_settings(self.settings.openai, self._config.llm)
        return self._db, self._llm

    async def run(self, session_id: str) -> str:
        from engine.analysis import service

        db, llm = await self._deps()
        sid = uuid.UUID(session_id)
        if self.kind == ASSESSOR:
            await service.assess_session(db, llm, sid, config=self._config)
        else:
            await service.check_fraud(db, llm, sid, config=self._config)
        return session_id

    async def ping(self) -> bool:
        return True


class AnalysisPools:
    """:class:`engine.dispatch.ports.AnalysisSink`: feeds a finished session to both pools."""

    def __init__(self, settings: Settings, *, per_worker: int = 8, max_waiting: int = 10_000) -> None:
        self.metrics = RayMetrics()
        self.pools = {
            ASSESSOR: self._pool(
                settings, ASSESSOR, settings.dispatch.assessor_actors, per_worker, max_waiting
            ),
            FRAUD: self._pool(settings, FRAUD, settings.dispatch.fraud_actors, per_worker, max_waiting),
        }

    @staticmethod
    def _pool(settings: Settings, kind: str, size: int, per_worker: int, max_waiting: int) -> AsyncPool[Any]:
        prefix = _ray.ASSESSOR_PREFIX if kind == ASSESSOR else _ray.FRAUD_PREFIX
        cls: Any = ray.remote(AnalysisActor)

        def factory(index: int) -> Any:
            # Owned by the Dispatcher (not detached): they share its fate and are
            # rebuilt with it; max_restarts covers crashes in between.
            return cls.options(
                name=f"{prefix}{index}-{uuid.uuid4().hex[:6]}",
                namespace=_ray.NAMESPACE,
                num_cpus=0,
                max_restarts=-1,
                max_concurrency=per_worker * 2,
                resources=_ray.control_resources(),
            ).remote(settings, kind)

        return AsyncPool(
            factory,
            size=max(1, size),
            per_worker=per_worker,
            max_waiting=max_waiting,
            is_dead=lambda exc: isinstance(exc, HostLostError),
            name=f"{kind}-pool",
        )

    async def session_finished(self, session_id: str) -> None:
        await asyncio.gather(*(self._run(kind, session_id) for kind in self.pools))

    async def _run(self, kind: str, session_id: str) -> None:
        pool = self.pools[kind]
        try:
            await pool.submit(lambda w: _ray.call(w.run.remote(session_id), f"{kind} run", 300.0))
            self.metrics.count(m.ANALYSES.name, 1, {"pool": kind, "outcome": "ok"})
        except Exception as exc:
            self.metrics.count(m.ANALYSES.name, 1, {"pool": kind, "outcome": "error"})
            log.warning("%s analysis of session %s failed: %s", kind, session_id, exc)
        self.metrics.gauge(m.POOL_IN_FLIGHT.name, pool.in_flight, {"pool": kind})

    async def close(self) -> None:
        for pool in self.pools.values():
            await pool.close()
            for worker in pool.workers():
                _ray.kill(worker)
