"""Dispatcher: the named, detached, restartable actor hosting :class:`DispatcherCore`.

Its queue is PostgreSQL, so a restart (``max_restarts=-1``) simply starts the
loop again: its first step, ``DispatcherCore.recover`` (retried until the
database answers), adopts running hosts, fails the sessions of hosts that
vanished and re-sends claimed sessions their host never got. Analysis jobs
live in the database too, so a restart loses none.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from actors import _ray
from actors.metrics import RayMetrics
from actors.process import enter
from actors.session_host import RayHostFleet
from engine.config import Settings
from engine.dispatch.dispatcher import DispatcherCore, DispatcherOptions
from engine.dispatch.retry import RetryPolicy
from engine.logs import get_logger

log = get_logger(__name__)

NAME = DISPATCHER_NAME = _ray.DISPATCHER_NAME
NAMESPACE = _ray.NAMESPACE


def options_from(settings: Settings, **overrides: Any) -> DispatcherOptions:
    d = settings.dispatch
    base = DispatcherOptions(
        account=settings.twilio.account_sid or "default",
        calls_per_second=settings.twilio.calls_per_second,
        slots_per_host=settings.host.sessions_per_host,
        max_hosts=d.max_hosts,
        min_hosts=d.min_hosts,
        idle_seconds=d.host_idle_seconds,
        drain_seconds=settings.host.drain_seconds,
        respect_call_windows=d.respect_call_windows,
        policy=RetryPolicy(tuple(d.retry_backoff_seconds)),
    )
    return DispatcherOptions(**{**base.__dict__, **overrides})


class DispatcherActor:
    """Async actor: the control loop runs as an owned task; methods answer the front door."""

    async def __init__(  # type: ignore[misc]  # Ray supports async __init__ for async actors
        self,
        settings: Settings,
        call_host_factory: str | None = None,
        overrides: dict[str, Any] | None = None,
        analysis: bool = True,
    ) -> None:
        from engine.dispatch.sql_queue import SqlSessionQueue
        from storage import Database

        settings = enter(settings)
        self.settings = settings
        self.db = await Database.open(settings, upgrade=False)
        opts = options_from(settings, **(overrides or {}))
        queue = SqlSessionQueue(self.db, account=opts.account, lease_seconds=opts.lease_seconds)
        fleet = RayHostFleet(settings, call_host_factory=call_host_factory)
        self.pools: Any = None
        if analysis:
            from actors.pools import AnalysisPools

            self.pools = AnalysisPools(settings)
        from engine.telephony.rest import CarrierCallEnder

        self._ender = CarrierCallEnder(settings.twilio)
        self.core = DispatcherCore(queue, fleet, self.db.clock, opts, calls=self._ender, metrics=RayMetrics())
        self._loop = asyncio.create_task(
            self.core.run(settings.dispatch.poll_seconds), name="dispatcher-loop"
        )
        log.info("dispatcher up (cps %.2f, %d slots/host)", opts.calls_per_second, opts.slots_per_host)

    async def notify(self, session_id: str) -> None:
        self.core.wake()

    async def cancel(self, session_id: str) -> bool:
        return await self.core.cancel(session_id)

    async def ping(self) -> bool:
        return not self._loop.done()

    async def pid(self) -> int:
        return os.getpid()

    async def held_reason(self) -> str | None:
        """Why due calls wait (an open provider breaker), for GetCall's failure reason."""
        return self.core.breakers.held_reason()

    async def stats(self) -> dict[str, Any]:
        return {
            "hosts": {
                hid: {"capacity": h.view.capacity, "free": h.view.free_slots, "active": len(h.active)}
                for hid, h in self.core.hosts.items()
            },
            "dialled": self.core.dialled,
            "loop_alive": not self._loop.done(),
            "recovered": self.core.recovered,
            "breakers": {b.provider: b.state.name.lower() for b in self.core.breakers.all()},
            "held_reason": self.core.breakers.held_reason(),
            "step_errors": dict(self.core.step_errors),
        }

    async def stop(self, drain_hosts: bool = False) -> None:
        """Stop the loop (and optionally drain and retire every host)."""
        self._loop.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._loop
        await self.core.close()
        if drain_hosts:
            for host in list(self.core.hosts.values()):
                with contextlib.suppress(Exception):
                    await host.client.drain(self.core.opts.drain_seconds)
                    await self.core.fleet.retire(host.client)
        if self.pools is not None:
            await self.pools.close()
        await self._ender.aclose()
        await self.db.close()
