"""Shared set-up for the runtime's integration tests: an isolated database, the call log, the engine."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from actors.sim_host import CALL_LOG, CallLog
from engine.config import DispatchSettings, HostSettings, Settings, TwilioSettings
from tests.fixtures.postgres import PgFactory, PgServer, settings_for
from tests.fixtures.ray_cluster import RayCluster

SIM_FACTORY = "actors.sim_host:factory"


async def wait_for(predicate: Callable[[], Awaitable[bool]], limit_s: float, what: str) -> None:
    """Poll an async predicate until true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + limit_s
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit_s:.0f}s waiting for {what}")
        await asyncio.sleep(0.1)


@dataclasses.dataclass
class Rig:
    settings: Settings
    factory: PgFactory
    db: Any
    cluster: RayCluster
    pgdata: Path | None = None
    """With ``own_pg_rig``: the server's data directory (stop and start it with ``storage.embedded``)."""

    def call_log(self, hold_by_attempt: dict[int, float], default_hold: float = 0.5) -> Any:
        import ray

        return (
            ray.remote(CallLog)
            # on the head (control): a node-removal test must not take the call log with it
            .options(name=CALL_LOG, namespace="callengine", num_cpus=0, resources={"control": 0.001})
            .remote(hold_by_attempt, default_hold)
        )

    def configure(
        self, *, slots: int = 3, cps: float = 20.0, backoff: float = 0.2, **dispatch: Any
    ) -> Settings:
        s = self.settings
        return dataclasses.replace(
            s,
            host=HostSettings(sessions_per_host=slots, drain_seconds=2.0),
            twilio=TwilioSettings(account_sid="ACtest", calls_per_second=cps),
            dispatch=DispatchSettings(
                retry_backoff_seconds=(backoff,),
                poll_seconds=0.1,
                respect_call_windows=False,
                **dispatch,
            ),
        )

    async def sessions(self, n: int) -> list[uuid.UUID]:
        store = await self.factory.store()
        return [await self.factory.session(store) for _ in range(n)]

    async def statuses(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
        from storage import Principal

        async with self.db.transaction(Principal.service()) as tx:
            return {sid: await tx.sessions.get(sid) for sid in ids}

    async def all_in(self, ids: list[uuid.UUID], *statuses: str) -> bool:
        recs = await self.statuses(ids)
        return all(r.session_status.value in statuses for r in recs.values())


@pytest.fixture
async def rig(ray_clean: RayCluster, pg_server: PgServer, isolated_pg_url: str) -> AsyncIterator[Rig]:
    from storage import Database

    settings = settings_for(pg_server, url=isolated_pg_url)
    db = await Database.open(settings, upgrade=False)
    try:
        yield Rig(settings, PgFactory(db), db, ray_clean)
    finally:
        from actors.bootstrap import stop_engine

        await asyncio.to_thread(stop_engine, drain_hosts=False, timeout=20)
        await db.close()


@pytest.fixture
async def own_pg_rig(ray_clean: RayCluster) -> AsyncIterator[Rig]:
    """Like ``rig``, on a PostgreSQL server of this test's own, which the test may stop and start
    (``embedded.release(rig.pgdata)`` / ``embedded.acquire(rig.pgdata)``; same socket, same URL)."""
    from actors.bootstrap import stop_engine
    from storage import Database, embedded, migrate

    data_dir = Path(tempfile.mkdtemp(prefix="callengine-outage-"))
    pgdata = data_dir / "pgdata"
    uri = await asyncio.to_thread(embedded.acquire, pgdata)
    db: Any = None
    try:
        await asyncio.to_thread(migrate.upgrade, uri)
        settings = settings_for(PgServer(uri, data_dir, external=True), url=uri)
        db = await Database.open(settings, upgrade=False)
        yield Rig(settings, PgFactory(db), db, ray_clean, pgdata)
    finally:
        await asyncio.to_thread(stop_engine, drain_hosts=False, timeout=20)
        if db is not None:
            await db.close()
        await asyncio.to_thread(embedded.release, pgdata)
        shutil.rmtree(data_dir, ignore_errors=True)
