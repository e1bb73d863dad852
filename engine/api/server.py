"""Build, run and stop the front door's grpc.aio server (in any process; the ingress actor hosts it).

:func:`serve_in_process` is the one way to start it: the CallEngine service,
``grpc.health.v1`` (SERVING only while the database and the Dispatcher
answer), server reflection, keepalive and message-size limits. Shutdown is
staged: health turns NOT_SERVING, new RPCs are refused, in-flight ones get
the grace period, then the rest are cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sqlalchemy import text

from engine.api import tls
from engine.api.auth import TokenAuthority, authority_from_settings
from engine.api.gen import callengine_pb2 as pb
from engine.api.gen import callengine_pb2_grpc as pb_grpc
from engine.api.ports import DispatcherPort
from engine.api.reports import LocalReports, ReportPort
from engine.api.servicer import CallEngineService
from engine.config import Settings
from storage.database import Database

log = logging.getLogger("engine.api")

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["CallEngine"].full_name
HEALTH_INTERVAL_SECONDS = 5.0
PROBE_TIMEOUT_SECONDS = 2.0


def server_options(settings: Settings) -> list[tuple[str, Any]]:
    api = settings.api
    return [
        ("grpc.max_receive_message_length", api.max_message_bytes),
        ("grpc.max_send_message_length", api.max_message_bytes),
        # Ping idle clients so dead connections (and their streams) are noticed.
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        # Accept client keepalive pings at most every 10 s; more often is abuse.
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.max_ping_strikes", 2),
        ("grpc.max_concurrent_streams", max(100, api.max_in_flight + api.max_watch_streams)),
        # Two servers must never silently share a port.
        ("grpc.so_reuseport", 0),
    ]


class HealthMonitor:
    """Probes the database and the Dispatcher; publishes SERVING / NOT_SERVING."""

    def __init__(self, db: Database, dispatcher: DispatcherPort, servicer: health.aio.HealthServicer) -> None:
        self.db = db
        self.dispatcher = dispatcher
        self.servicer = servicer
        self.serving = False
        self._task: asyncio.Task[None] | None = None

    async def probe(self) -> bool:
        """One probe of both dependencies; updates the published status and returns it."""
        db_ok, dispatcher_ok = await asyncio.gather(self._probe_db(), self._probe_dispatcher())
        serving = db_ok and dispatcher_ok
        if serving != self.serving:
            log.info(
                "health %s (database=%s dispatcher=%s)",
                "SERVING" if serving else "NOT_SERVING",
                db_ok,
                dispatcher_ok,
            )
        self.serving = serving
        status = (
            health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", SERVICE_NAME):
            await self.servicer.set(name, status)
        return serving

    async def _probe_db(self) -> bool:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS), self.db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception as exc:
            log.warning("health: database probe failed: %s", type(exc).__name__)
            return False

    async def _probe_dispatcher(self) -> bool:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                return bool(await self.dispatcher.ping())
        except Exception as exc:
            log.warning("health: dispatcher probe failed: %s", type(exc).__name__)
            return False

    def start(self, interval: float) -> None:
        self._task = asyncio.create_task(self._run(interval), name="api-health-monitor")

    async def _run(self, interval: float) -> None:
        while True:
            await self.probe()
            await asyncio.sleep(interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=5.0)
            self._task = None
        await self.servicer.enter_graceful_shutdown()


@dataclasses.dataclass
class RunningServer:
    """A started front door. ``address`` is ``host:port`` for a client channel."""

    server: grpc.aio.Server
    host: str
    port: int
    service: CallEngineService
    health: HealthMonitor
    grace_seconds: float

    @property
    def address(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "[::]") else self.host
        return f"{host}:{self.port}"

    async def stop(self, grace: float | None = None) -> None:
        """Staged shutdown: NOT_SERVING → refuse new RPCs → let in-flight ones finish → cancel the rest."""
        await self.health.stop()
        await self.server.stop(self.grace_seconds if grace is None else grace)
        await self.service.aclose()
        log.info("front door stopped (%s)", self.address)

    async def wait(self) -> None:
        await self.server.wait_for_termination()


async def serve_in_process(
    settings: Settings,
    db: Database,
    dispatcher: DispatcherPort,
    port: int | None = None,
    *,
    host: str | None = None,
    authority: TokenAuthority | None = None,
    reports: ReportPort | None = None,
    health_interval: float = HEALTH_INTERVAL_SECONDS,
    watch_poll_seconds: float = 0.25,
) -> RunningServer:
    """Start the front door on ``host:port`` (``port=0`` picks a free one) in this event loop."""
    bind_host = host or settings.api.bind_host
    bind_port = settings.api.port if port is None else port
    authority = authority or authority_from_settings(settings)
    reports = reports or LocalReports(db, settings)
    service = CallEngineService(
        db,
        dispatcher,
        authority,
        settings.api,
        reports,
        watch_poll_seconds=watch_poll_seconds,
        dispatch=settings.dispatch,
    )
    server = grpc.aio.server(options=server_options(settings))
    pb_grpc.add_CallEngineServicer_to_server(service, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server,
    )
    credentials = tls.server_credentials(settings.api)
    target = f"{_bracket(bind_host)}:{bind_port}"
    bound = (
        server.add_secure_port(target, credentials)
        if credentials is not None
        else server.add_insecure_port(target)
    )
    if bound == 0:
        raise OSError(f"cannot listen on {bind_host}:{bind_port}")
    monitor = HealthMonitor(db, dispatcher, health_servicer)
    await monitor.probe()
    await server.start()
    monitor.start(health_interval)
    running = RunningServer(server, bind_host, bound, service, monitor, settings.api.shutdown_grace_seconds)
    log.info(
        "front door listening on %s (%s, health=%s)",
        running.address,
        "TLS" + (" with client certificates" if settings.api.tls_client_ca_file else "")
        if credentials is not None
        else "plaintext",
        "SERVING" if monitor.serving else "NOT_SERVING",
    )
    return running


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
