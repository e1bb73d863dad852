"""SessionHost: a thin async Ray actor over :class:`engine.session.host.CallHost`.

One host holds ``sessions_per_host`` CallSessions and one HTTP listener
(media streams + status callbacks, :mod:`engine.session.listener`). ``sessions_per_host = 1`` is the
dedicated-actor mode: the same code, one process per call. Hosts are named and
detached so a Dispatcher restart does not take them (and their calls) down.

Also here: the dispatcher-side client (:class:`RayHostClient`) and fleet
(:class:`RayHostFleet`), the only code that talks to host actors.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import ray

from actors import _ray
from engine.config import Settings
from engine.dispatch.breaker import ProviderUnavailableError
from engine.dispatch.ports import CallStart, HostClient, HostStatus, NotDialledError, Outcome
from engine.errors import CallEngineError, ConfigError, ResourceExhaustedError
from engine.logs import get_logger

log = get_logger(__name__)

KNOWN_ATTEMPTS = 10_000
"""Attempts a host remembers (to refuse a second dial of the same attempt)."""
LOOKUP_HOLD_SECONDS = 20.0
"""How long the number lookup before a dial is retried while the database is unreachable."""
START_CALL_TIMEOUT = 90.0
"""Dispatcher → host start_call: the host's dial path (storage reads, the Realtime session
opened and configured, Twilio's create with its in-attempt retries) fits well inside it."""


def event_loop_name() -> str:
    """``uvloop`` when Ray runs this async actor on uvloop (installed: a dependency), else ``asyncio``."""
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


class TurnLatencies:
    """Turn latencies of this host's calls not yet reported in a heartbeat.

    Each call's own list (``CallMetrics.turn_latencies_ms``) is read where it grows; a call
    that has ended is reported in full once more and then forgotten. Samples of a heartbeat
    the Dispatcher never received are lost (a metric, not a record).
    """

    def __init__(self) -> None:
        self._calls: dict[str, tuple[list[float], int]] = {}

    def track(self, session_id: str, samples: list[float]) -> None:
        self._calls[session_id] = (samples, 0)

    def take(self, live: set[str]) -> list[float]:
        out: list[float] = []
        for session_id, (samples, reported) in list(self._calls.items()):
            out.extend(samples[reported:])
            if session_id in live:
                self._calls[session_id] = (samples, len(samples))
            else:
                del self._calls[session_id]
        return out


def load_factory(path: str) -> Callable[..., Any]:
    module, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"session store factory {path!r} is not available: {exc}") from exc


class SessionHostActor:
    """Hosts calls; the Dispatcher polls :meth:`status` (heartbeat + outcomes) and acks outcomes.

    ``call_host_factory`` (an import path ``module:function``) builds the CallHost:
    ``await factory(settings, on_outcome, host_id=...)`` → ``(call_host, lookup)`` where
    ``await lookup(session_id)`` → ``(phone_e164, store_id)`` read from storage
    in this process, so a phone number never travels through Ray. The default
    builds a real CallHost over the PostgreSQL session store.
    """

    def __init__(self, settings: Settings, host_id: str, call_host_factory: str | None = None) -> None:
        from actors.process import enter

        self.settings = enter(settings)
        self.host_id = host_id
        self._factory_path = call_host_factory
        self._host: Any = None
        self._lookup: Any = None
        self._outcomes: OrderedDict[str, Outcome] = OrderedDict()
        self._known: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._verification: dict[str, str] = {}
        self._latencies = TurnLatencies()
        self._rejected_reported: dict[str, int] = {}
        self._started_at = time.monotonic()
        self._ready = asyncio.Event()
        self._lock = asyncio.Lock()

    async def ready(self) -> dict[str, Any]:
        """Start the CallHost (once) and say where Twilio reaches it."""
        async with self._lock:
            if self._host is None:
                factory = load_factory(self._factory_path or "actors.session_host:default_call_host")
                self._host, self._lookup = await factory(self.settings, self._record, host_id=self.host_id)
                await self._host.start()
                self._ready.set()
                log.info(
                    "session host %s up at %s (event loop: %s)",
                    self.host_id,
                    self._host.public_url,
                    event_loop_name(),
                )
        return {
            "host_id": self.host_id,
            "event_loop": event_loop_name(),
            "public_url": self._host.public_url,
            "capacity": self._host.capacity,
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id(),
        }

    def _record(self, outcome: Any) -> None:
        self._verification.pop(outcome.session_id, None)
        self._outcomes[outcome.session_id] = Outcome(
            outcome.session_id,
            outcome.status,
            outcome.failure_reason,
            bool(outcome.retry_due),
            getattr(outcome, "callback_after_seconds", None),
        )

    async def start_call(self, call: CallStart) -> bool:
        await self._ready.wait()
        key = (call.session_id, call.attempt)
        if key in self._known:
            return False  # this attempt was already dialled here: never twice
        if self._host.free_slots <= 0:
            raise ResourceExhaustedError(f"host {self.host_id} has no free slot")
        from engine.session.call import CallRequest

        self._known[key] = None
        while len(self._known) > KNOWN_ATTEMPTS:
            self._known.popitem(last=False)
        self._verification[call.session_id] = call.verification_id
        try:
            phone, store_id = await self._read_number(call.session_id)
            request = CallRequest(call.session_id, call.store_id or store_id, phone, call.attempt + 1)
            await self._host.start_call(request)
            metrics = getattr(self._host.session(call.session_id), "metrics", None)
            if metrics is not None:
                self._latencies.track(call.session_id, metrics.turn_latencies_ms)
        except Exception as exc:
            # Not placed: the session's own supervisor recorded the failure, or it never began.
            self._verification.pop(call.session_id, None)
            if isinstance(exc, ProviderUnavailableError | NotDialledError):
                self._known.pop(key, None)  # given back undialled: this attempt may come here again
            raise
        return True

    async def _read_number(self, session_id: str) -> tuple[str, str]:
        """The number (and store) to dial, read in this process; held through a short database
        outage, then :class:`NotDialledError` (the Dispatcher gives the session back)."""
        from engine.clock import SystemClock
        from engine.session.durable import held

        try:
            found: tuple[str, str] = await held(
                lambda: self._lookup(session_id),
                clock=SystemClock(),
                what="number lookup",
                hold_s=LOOKUP_HOLD_SECONDS,
                log=log,
            )
        except CallEngineError as exc:
            if not exc.retryable:
                raise
            raise NotDialledError(f"session {session_id}: number not readable ({exc})") from exc
        return found

    async def status(self) -> HostStatus:
        await self._ready.wait()
        host = self._host
        active = {sid: self._verification.get(sid, "") for sid in host.session_ids()}
        take_throttle = getattr(host, "take_twilio_throttle", None)
        return HostStatus(
            self.host_id,
            host.capacity,
            host.free_slots,
            active,
            list(self._outcomes.values()),
            host.draining,
            self._latencies.take(set(active)),
            twilio_throttled_s=take_throttle() if take_throttle is not None else 0.0,
            rejected=self._take_rejected(getattr(host, "rejected", None) or {}),
        )

    def _take_rejected(self, counts: dict[str, int]) -> dict[str, int]:
        """What the host refused since the last heartbeat, by kind (its counters only grow)."""
        new = {k: n - self._rejected_reported.get(k, 0) for k, n in counts.items()}
        self._rejected_reported = dict(counts)
        return {k: n for k, n in new.items() if n > 0}

    async def ack(self, session_ids: Sequence[str]) -> None:
        for sid in session_ids:
            self._outcomes.pop(sid, None)

    async def take_sip_call(self, session_id: str, attempt: int, call_id: str) -> str:
        """A SIP call another host's webhook verified (signature and token): give it to the
        session if it lives here (see ``CallHost.take_sip_call``)."""
        from engine.session.sip import IncomingCall

        await self._ready.wait()
        return str(self._host.take_sip_call(IncomingCall(call_id, session_id, attempt, token="")))

    async def cancel(self, session_id: str) -> bool:
        # cancel_call ends the call for good (a cancelled call is not retried as host_lost).
        return self._host.cancel_call(session_id) if self._host is not None else False

    async def drain(self, deadline_s: float) -> None:
        if self._host is not None:
            await self._host.drain(deadline_s)

    async def stop(self) -> None:
        if self._host is not None:
            await self._host.stop()

    async def pid(self) -> int:
        return os.getpid()


async def default_call_host(
    settings: Settings, on_outcome: Callable[[Any], None], *, host_id: str
) -> tuple[Any, Any]:
    """The production CallHost: real Twilio/OpenAI clients over the PostgreSQL session store."""
    from engine.session.host import CallHost
    from engine.session.pgstore import PostgresSessionStore
    from storage import Database, Principal

    db = await Database.open(settings, upgrade=False)
    # The store stamps host_id on every transition: the id the Dispatcher claimed with,
    # so a lost host's sessions are found by it.
    store = PostgresSessionStore(db, host_id=host_id)

    async def lookup(session_id: str) -> tuple[str, str]:
        async with db.transaction(Principal.service()) as tx:
            sid = uuid.UUID(session_id)
            record = await tx.sessions.get(sid)
            return await tx.sessions.get_phone(sid), str(record.store_id)

    async def sip_router(incoming: Any) -> str:
        """A SIP call whose session is not on this host: find its host in the database and
        hand it over by a Ray call (control only; the audio is at OpenAI)."""
        try:
            async with db.transaction(Principal.service()) as tx:
                record = await tx.sessions.get(uuid.UUID(incoming.session_id))
        except (ValueError, CallEngineError):
            return "unknown"
        if not record.host_id or record.host_id == host_id:
            return "unknown"
        try:
            handle = _ray.get_actor(record.host_id)
            answer = await _ray.call(
                handle.take_sip_call.remote(incoming.session_id, incoming.attempt, incoming.call_id),
                f"host {record.host_id} take_sip_call",
                10.0,
            )
        except CallEngineError:
            return "unknown"
        return str(answer)

    # {node_ip} in the public URL: Ray's address of this node when the host binds a wildcard.
    host = CallHost(
        settings,
        store,
        on_outcome=on_outcome,
        collect_outcomes=False,
        clock=db.clock,
        host_id=host_id,
        node_ip=ray.util.get_node_ip_address(),
        sip_router=sip_router,
    )
    return host, lookup


class RayHostClient:
    """:class:`engine.dispatch.ports.HostClient` over one SessionHost actor."""

    def __init__(
        self, host_id: str, handle: Any, timeout: float = 10.0, start_timeout: float = START_CALL_TIMEOUT
    ) -> None:
        self.host_id = host_id
        self.handle = handle
        self.timeout = timeout
        self.start_timeout = start_timeout

    async def start_call(self, call: CallStart) -> bool:
        # Longer than the host's whole dial path; even so, a timeout here is treated as
        # "maybe dialling" by the Dispatcher (never re-queued), not as a refusal.
        ref = self.handle.start_call.remote(call)
        return bool(await _ray.call(ref, f"host {self.host_id} start_call", self.start_timeout))

    async def status(self) -> HostStatus:
        ref = self.handle.status.remote()
        result: HostStatus = await _ray.call(ref, f"host {self.host_id} status", self.timeout)
        return result

    async def ack(self, session_ids: Sequence[str]) -> None:
        await _ray.call(self.handle.ack.remote(list(session_ids)), f"host {self.host_id} ack", self.timeout)

    async def cancel(self, session_id: str) -> bool:
        return bool(await _ray.call(self.handle.cancel.remote(session_id), "host cancel", self.timeout))

    async def drain(self, deadline_s: float) -> None:
        await _ray.call(self.handle.drain.remote(deadline_s), "host drain", deadline_s + 30.0)


class RayHostFleet:
    """:class:`engine.dispatch.ports.HostFleet`: starts, finds and retires SessionHost actors."""

    def __init__(
        self,
        settings: Settings,
        *,
        call_host_factory: str | None = None,
        start_timeout: float | None = None,
        max_concurrency: int = 10_000,
    ) -> None:
        self.settings = settings
        self.call_host_factory = call_host_factory
        self.start_timeout = start_timeout
        self.max_concurrency = max_concurrency

    def _host_resources(self) -> dict[str, float]:
        """One ``call_hub`` per host on a cluster (so a host that cannot be placed makes the
        autoscaler add a node); none on a plain local Ray that offers no call_hub at all."""
        try:
            offered = ray.cluster_resources().get(_ray.CALL_HUB, 0) > 0
        except Exception:
            offered = False
        return {_ray.CALL_HUB: 1} if offered or self.settings.ray_address else {}

    async def discover(self) -> list[HostClient]:
        clients: list[HostClient] = []
        for name in _ray.named_actors(_ray.HOST_PREFIX):
            try:
                handle = _ray.get_actor(name)
            except Exception:
                continue
            clients.append(RayHostClient(name, handle))
        return clients

    async def start_host(self) -> RayHostClient:
        host_id = f"{_ray.HOST_PREFIX}{uuid.uuid4().hex[:10]}"
        cls: Any = ray.remote(SessionHostActor)
        handle = cls.options(
            name=host_id,
            namespace=_ray.NAMESPACE,
            lifetime="detached",
            num_cpus=0,
            resources=self._host_resources(),
            max_restarts=0,  # a dead host's calls are gone; the Dispatcher retries them elsewhere
            max_concurrency=self.max_concurrency,
            # Spread hosts over the nodes that have call_hub: a lost node takes fewer calls with it.
            scheduling_strategy="SPREAD",
        ).remote(self.settings, host_id, self.call_host_factory)
        # Waits while the autoscaler adds a node if no call_hub is free.
        await _ray.call(handle.ready.remote(), f"host {host_id} start", self.start_timeout)
        return RayHostClient(host_id, handle)

    async def retire(self, host: HostClient) -> None:
        handle = getattr(host, "handle", None)
        if handle is None:
            return
        try:
            await _ray.call(handle.stop.remote(), "host stop", 30.0)
        finally:
            _ray.kill(handle)

    async def kill(self, host: HostClient) -> None:
        handle = getattr(host, "handle", None)
        if handle is not None:
            _ray.kill(handle)
