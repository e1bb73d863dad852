"""Ingress actors: the gRPC front door running inside the cluster, one per node offering ``ingress``.

A thin shell, so the front door lives in the cluster beside the actors it
calls (no separate service to deploy): the actor only opens the database,
builds the Ray-backed Dispatcher port and runs :func:`engine.api.server.serve_in_process` on its own event loop. It is
detached and restartable, and starts serving from its constructor, so a
restarted actor serves again without anyone calling it.

The API reaches the runtime only through :mod:`actors.handles` (the Ray
runtime's seam; Ray errors → engine errors), wrapped as the front door's ports
(:class:`RayDispatcherPort`, :class:`RayReportPort`); ``callengine serve``
uses :func:`start_ingress` / :func:`stop_ingress`, and :func:`refresh_ingress` while it
runs, so nodes the autoscaler adds get a front door too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
import uuid
from typing import Any

import ray

from actors import _ray, handles
from engine.config import Settings
from engine.errors import ConfigError

log = logging.getLogger(__name__)

NAMESPACE = _ray.NAMESPACE
INGRESS_RESOURCE = "ingress"
INGRESS_NAME_PREFIX = "callengine-ingress-"


class RayDispatcherPort:
    """:class:`engine.api.ports.DispatcherPort` over the Ray runtime's seam (:mod:`actors.handles`).

    Ray errors come out of that seam as engine errors (``UnavailableError``).
    """

    def __init__(self, timeout: float = 2.0) -> None:
        self.timeout = timeout
        self._dispatcher: Any = None

    async def notify(self, session_id: uuid.UUID) -> None:
        # The handle is looked up once (a synchronous GCS round trip on this event loop),
        # and again only after a notice failed (the Dispatcher may have been restarted).
        if self._dispatcher is None:
            self._dispatcher = handles.get_dispatcher()
        try:
            await _ray.call(
                self._dispatcher.notify.remote(str(session_id)), "dispatcher notify", self.timeout
            )
        except Exception:
            self._dispatcher = None
            raise

    async def cancel(self, session_id: uuid.UUID) -> None:
        await handles.cancel(str(session_id), self.timeout)

    async def ping(self) -> bool:
        return await handles.ping(self.timeout)

    async def held_reason(self) -> str | None:
        return await handles.held_reason(self.timeout)


class RayReportPort:
    """:class:`engine.api.reports.ReportPort` over the Reporter actor (which owns the LLM client)."""

    def __init__(self, timeout: float = 120.0) -> None:
        self.timeout = timeout

    async def generate(self, store_id: uuid.UUID, week_monday: dt.date) -> None:
        await handles.build_report(str(store_id), week_monday.isoformat(), self.timeout)


class IngressActor:
    """Hosts the grpc.aio front door in this actor's event loop (wrapped with ``ray.remote`` below)."""

    def __init__(self, settings: Settings, port: int) -> None:
        from actors.process import enter

        self._settings = enter(settings)
        self._port = port
        self._running: Any = None
        self._db: Any = None
        # Async actors run __init__ on their event loop: start serving right away,
        # so a restart (max_restarts=-1) brings the door back by itself.
        self._ready = asyncio.get_event_loop().create_task(self._start(), name="ingress-start")

    async def _start(self) -> str:
        from engine.api.server import serve_in_process
        from storage.database import Database

        self._db = await Database.open(self._settings, upgrade=False)
        try:
            self._running = await serve_in_process(
                self._settings, self._db, RayDispatcherPort(), self._port, reports=RayReportPort()
            )
        except BaseException:
            await self._db.close()
            raise
        host = self._settings.api.bind_host
        if host in ("0.0.0.0", "::", "[::]"):
            host = ray.util.get_node_ip_address()
        return f"{host}:{self._running.port}"

    async def address(self) -> str:
        """Where this node's front door listens (waits until it does)."""
        return await asyncio.shield(self._ready)

    async def process(self) -> tuple[int, str]:
        """(pid, address) of this incarnation: tells a restarted actor from the one before."""
        return os.getpid(), await self.address()

    async def serving(self) -> bool:
        await asyncio.shield(self._ready)
        return bool(self._running.health.serving)

    async def stop(self, grace: float | None = None) -> None:
        """Graceful: NOT_SERVING, refuse new RPCs, let in-flight ones finish within ``grace``."""
        await asyncio.shield(self._ready)
        await self._running.stop(grace)
        await self._db.close()


@dataclasses.dataclass(frozen=True)
class Ingress:
    node_id: str
    address: str
    handle: Any


def ingress_nodes() -> list[str]:
    """Ids of alive nodes that offer the ``ingress`` resource."""
    return [
        n["NodeID"]
        for n in ray.nodes()
        if n.get("Alive") and n.get("Resources", {}).get(INGRESS_RESOURCE, 0) >= 1
    ]


def start_ingress(settings: Settings, port: int, *, timeout: float = 120.0) -> list[Ingress]:
    """Start (or join) one detached ingress actor per node offering ``ingress``; wait until they listen."""
    from actors.process import share_secrets

    share_secrets(settings)
    nodes = ingress_nodes()
    if not nodes:
        raise ConfigError(
            f"no Ray node offers the {INGRESS_RESOURCE!r} resource; "
            f"start nodes with --resources='{{\"{INGRESS_RESOURCE}\": 1}}'"
        )
    return _start_on(settings, port, nodes, timeout)


def refresh_ingress(
    settings: Settings, port: int, current: list[Ingress], *, timeout: float = 120.0
) -> tuple[list[Ingress], list[Ingress]]:
    """(all, added): a front door on every node offering ``ingress`` that joined since (the
    autoscaler's), none kept for a node that left (its actor, pinned there, is ended)."""
    alive = ingress_nodes()
    known = {i.node_id for i in current}
    kept = [i for i in current if i.node_id in alive]
    for gone in (i for i in current if i.node_id not in alive):
        try:
            ray.kill(gone.handle, no_restart=True)
        except ray.exceptions.RayError as exc:  # already gone with its node
            log.debug("ingress kill: %s", type(exc).__name__)
    new = [n for n in alive if n not in known]
    added = _start_on(settings, port, new, timeout) if new else []
    return kept + added, added


def _start_on(settings: Settings, port: int, nodes: list[str], timeout: float) -> list[Ingress]:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    remote_cls = ray.remote(IngressActor)
    started: list[tuple[str, Any]] = []
    for node_id in nodes:
        handle = remote_cls.options(  # type: ignore[attr-defined]
            name=INGRESS_NAME_PREFIX + node_id[:16],
            namespace=NAMESPACE,
            lifetime="detached",
            get_if_exists=True,
            max_restarts=-1,
            num_cpus=0,
            resources={INGRESS_RESOURCE: 1},
            max_concurrency=10_000,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
        ).remote(settings, port)
        started.append((node_id, handle))
    addresses = ray.get([h.address.remote() for _, h in started], timeout=timeout)
    return [Ingress(node_id, addr, h) for (node_id, h), addr in zip(started, addresses, strict=True)]


def stop_ingress(ingresses: list[Ingress], grace: float, *, timeout: float = 60.0) -> None:
    """Gracefully stop the front doors, then end their (detached) actors."""
    try:
        ray.get([i.handle.stop.remote(grace) for i in ingresses], timeout=grace + timeout)
    except ray.exceptions.RayError as exc:
        log.warning("ingress stop: %s", type(exc).__name__)
    for i in ingresses:
        try:
            ray.kill(i.handle, no_restart=True)
        except ray.exceptions.RayError as exc:  # already gone
            log.debug("ingress kill: %s", type(exc).__name__)
