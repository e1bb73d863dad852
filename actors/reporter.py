"""Reporter: a singleton named, detached actor for weekly reports and nightly retention cleanup.

Monday 03:00 Europe/Stockholm it builds last week's report for every store;
on start it first builds every week a store missed while it was down;
``build`` does one on demand; every night at 03:30 it runs the retention
cleanup. Runs are idempotent (a rebuild replaces), so a restart that repeats
a run does no harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from actors.process import enter
from engine.clock import clock_from_settings
from engine.config import Settings
from engine.dispatch.schedule import missed_weeks, next_daily, next_weekly, report_week
from engine.logs import get_logger

log = get_logger(__name__)


class ReporterActor:
    def __init__(self, settings: Settings) -> None:
        settings = enter(settings)
        self.settings = settings
        # Reports and retention go by the engine's date (shifted in the demo's earlier weeks).
        self.clock = clock_from_settings(settings)
        self._event_retention = timedelta(days=settings.events.retention_days)
        self._db: Any = None
        self._llm: Any = None
        self._config: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self.runs: dict[str, int] = {"weekly": 0, "cleanup": 0, "on_demand": 0}

    async def ready(self) -> bool:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._catch_up_loop(), name="reporter-catch-up"),
                asyncio.create_task(self._loop("weekly", next_weekly, self._weekly), name="reporter-weekly"),
                asyncio.create_task(
                    self._loop("cleanup", next_daily, self._cleanup), name="reporter-cleanup"
                ),
            ]
        return True

    async def _deps(self) -> tuple[Any, Any]:
        if self._db is None:
            from engine.analysis.config import load_config
            from engine.analysis.llm import llm_from_settings
            from storage import Database

            self._config = load_config(self.settings.analysis_config)
            self._db = await Database.open(self.settings, upgrade=False, clock=self.clock)
            # None without a key or base URL: the analysis then runs rules-only and says so.
            self._llm = llm_from_settings(self.settings.openai, self._config.llm)
        return self._db, self._llm

    async def _loop(self, name: str, next_at: Any, job: Any) -> None:
        while True:
            due = next_at(self.clock.now())
            await asyncio.sleep(max(0.0, (due - self.clock.now()).total_seconds()))
            try:
                await job(due)
                self.runs[name] += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reporter %s run failed; next run as scheduled", name)

    async def _catch_up_loop(self) -> None:
        """On start: build every week a store missed while the Reporter was down (retried
        until the database answers; idempotent, as every build replaces)."""
        delay = 1.0
        while True:
            try:
                built = await self.catch_up(self.clock.now())
                log.info("reporter catch-up: %d missed reports built", built)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("reporter catch-up failed (%s); retrying in %.0fs", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 300.0)

    async def catch_up(self, now: datetime) -> int:
        """Build each store's missed weeks (see ``missed_weeks``); returns how many were built."""
        from storage import Principal

        db, _ = await self._deps()
        async with db.transaction(Principal.service()) as tx:
            stores = await tx.stores.list_stores()
            latest = {}
            for store in stores:
                reports = await tx.reports.list(store.id, limit=1)
                latest[store.id] = reports[0].analysis_week if reports else None
        built = 0
        for store in stores:
            for week in missed_weeks(now, latest[store.id]):
                await self.build(str(store.id), week.isoformat())
                built += 1
        self.runs["catch_up"] = self.runs.get("catch_up", 0) + built
        return built

    async def _weekly(self, run_at: datetime) -> None:
        week = report_week(run_at)
        built = await self.build_all(week.isoformat())
        log.info("weekly reports for %s: %d stores", week, built)

    async def _cleanup(self, run_at: datetime) -> None:
        from storage.retention import cleanup

        db, _ = await self._deps()
        report = await cleanup(db, run_at, event_retention=self._event_retention)
        log.info("retention cleanup: %s", report)

    async def build_all(self, week: str) -> int:
        """Build ``week``'s report (its Monday, ISO date) for every store; returns how many."""
        from storage import Principal

        db, _ = await self._deps()
        async with db.transaction(Principal.service()) as tx:
            stores = await tx.stores.list_stores()
        built = 0
        for store in stores:
            try:
                await self.build(str(store.id), week)
                built += 1
            except Exception:
                log.exception("weekly report for store %s failed", store.id)
        return built

    async def build(self, store_id: str, week: str) -> str:
        """Build (or rebuild) one store's report for ``week``; returns the report id."""
        from engine.analysis import service

        db, llm = await self._deps()
        report = await service.build_weekly_report(
            db, llm, uuid.UUID(store_id), date.fromisoformat(week), config=self._config
        )
        self.runs["on_demand"] += 1
        return str(getattr(report, "id", ""))

    async def cleanup_now(self) -> str:
        from storage.retention import cleanup

        db, _ = await self._deps()
        return str(await cleanup(db, self.clock.now(), event_retention=self._event_retention))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        if self._db is not None:
            await self._db.close()
