"""Webhook delivery: the ``events.webhook`` job handler (one event to one endpoint, signed).

Each job names an event and an endpoint. The handler reads the event, signs its
body under the Standard Webhooks scheme with every key of the endpoint, and POSTs
it over HTTPS (the certificate checked against ``CALLENGINE_WEBHOOK_CA_FILE`` or the
system's trust store; redirects are not followed). A 2xx answer delivers it; any
other answer, a timeout or a refused connection raises a retryable error, so the
job runner retries it with the endpoint backoff and dead-letters it after
``CALLENGINE_WEBHOOK_MAX_ATTEMPTS`` (``ListDeadDeliveries``, ``RetryDelivery``).
An endpoint no longer configured, or an event already purged, dead-letters at once.

At least once: a receiver may get an event twice (a lost answer, a worker killed
after the POST); ``webhook-id`` (the event id) is the same every time, so it can
drop repeats. Errors and logs carry the endpoint's name and the HTTP status, never
the URL, the body or a secret.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import aiohttp

from engine import metrics as m
from engine.errors import CallEngineError, NotFoundError
from engine.events.endpoints import Endpoint
from engine.events.signing import sign
from engine.jobs.runner import Job
from engine.logs import get_logger

log = get_logger(__name__)

USER_AGENT = "callengine-webhooks/1"
MAX_RESPONSE_BYTES = 64 * 1024


class DeliveryError(CallEngineError):
    """One delivery attempt failed (retryable unless the job can never succeed)."""

    retryable = True


class MetricsSink(Protocol):
    def count(self, name: str, value: float = 1.0, tags: dict[str, str] | None = None) -> None: ...

    def observe(self, name: str, value: float, tags: dict[str, str] | None = None) -> None: ...


def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """Certificates verified, TLS 1.2 at least; the given CA bundle instead of the system's."""
    ctx = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class WebhookDelivery:
    """The handler of ``events.webhook`` jobs; owns one HTTP client session (``start``/``close``)."""

    def __init__(
        self,
        db: Any,
        endpoints: Mapping[str, Endpoint],
        *,
        ca_file: str | None = None,
        timeout_seconds: float = 10.0,
        metrics: MetricsSink | None = None,
        wall_time: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.endpoints = dict(endpoints)
        self.ca_file = ca_file
        self.timeout_seconds = timeout_seconds
        self.metrics = metrics
        # Real time, not the engine's (possibly shifted) clock: receivers refuse stale timestamps.
        self.wall_time = wall_time
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=ssl_context(self.ca_file), limit=64),
                timeout=aiohttp.ClientTimeout(total=self.timeout_seconds),
                trust_env=False,
            )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def handle(self, job: Job) -> None:
        from storage import Principal

        name = str(job.payload.get("endpoint", ""))
        event_id = str(job.payload.get("event_id", ""))
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            self._count(name or "unknown", "dead")
            raise DeliveryError(f"endpoint {name!r} is not configured", retryable=False)
        try:
            async with self.db.transaction(Principal.service()) as tx:
                event = await tx.events.get(event_id)
        except NotFoundError as exc:
            self._count(name, "dead")
            raise DeliveryError("the event no longer exists (retention)", retryable=False) from exc
        body = event.body()
        headers = {
            **sign(event.id, int(self.wall_time()), body, endpoint.secrets),
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }
        await self.start()
        assert self._http is not None
        started = time.monotonic()
        try:
            async with self._http.post(
                endpoint.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.content.read(MAX_RESPONSE_BYTES)  # the answer is not used; bounded
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ssl.SSLError) as exc:
            self._observe(name, started)
            self._count(name, "failed" if job.attempts < job.max_attempts else "dead")
            raise DeliveryError(f"{name}: {type(exc).__name__}") from None
        self._observe(name, started)
        if 200 <= status < 300:
            self._count(name, "delivered")
            log.info("event %s delivered to %s (attempt %d)", event.type, name, job.attempts)
            return
        self._count(name, "failed" if job.attempts < job.max_attempts else "dead")
        raise DeliveryError(f"{name}: HTTP {status}")

    def _count(self, endpoint: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.count(m.WEBHOOK_DELIVERIES.name, 1, {"endpoint": endpoint, "outcome": outcome})

    def _observe(self, endpoint: str, started: float) -> None:
        if self.metrics is not None:
            self.metrics.observe(m.WEBHOOK_SECONDS.name, time.monotonic() - started, {"endpoint": endpoint})
