"""Webhook delivery against a backend over real HTTPS: every settled call arrives signed (verified by
``standardwebhooks`` and the openai SDK); a failing endpoint is retried, then dead-lettered, and an
operator's retry delivers it; an untrusted certificate is never sent anything."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.domain import SessionStatus
from engine.errors import CallEngineError
from engine.events.delivery import WebhookDelivery
from engine.events.endpoints import parse_endpoints
from engine.events.types import CALL_SETTLED, WEBHOOK_KIND
from engine.jobs.runner import Job, JobRunner, KindOptions, PostgresJobStore
from storage import Database, Principal
from tests.fixtures.postgres import PgFactory, PgServer, settings_for
from tests.fixtures.webhooks import WebhookReceiver
from tests.integration.events.conftest import with_endpoints

SERVICE = Principal.service()


class Counts:
    """A metrics sink that keeps what the delivery reported (the Ray-backed one needs an actor)."""

    def __init__(self) -> None:
        self.outcomes: list[str] = []

    def count(self, name: str, value: float = 1.0, tags: dict[str, str] | None = None) -> None:
        self.outcomes.append((tags or {}).get("outcome", ""))

    def observe(self, name: str, value: float, tags: dict[str, str] | None = None) -> None:
        pass


@dataclasses.dataclass
class Backend:
    receiver: WebhookReceiver
    db: Database
    delivery: WebhookDelivery
    metrics: Counts


@pytest.fixture
async def backend(pg_server: PgServer, tmp_path: Path) -> AsyncIterator[Backend]:
    receiver = WebhookReceiver(tmp_path)
    url = await receiver.start()
    settings = with_endpoints(
        settings_for(pg_server),
        {"backend": url},
        receiver.secret,
        webhook_ca_file=receiver.ca_file,
        webhook_max_attempts=3,
    )
    db = await Database.open(settings, upgrade=False)
    metrics = Counts()
    ev = settings.events
    delivery = WebhookDelivery(
        db,
        parse_endpoints(ev.webhook_endpoints, ev.webhook_secrets),
        ca_file=ev.webhook_ca_file,
        timeout_seconds=5.0,
        metrics=metrics,
    )
    try:
        yield Backend(receiver, db, delivery, metrics)
    finally:
        await delivery.close()
        await db.close()
        await receiver.stop()


class Finished:
    """The runner's finished runs, with an event per outcome to wait on."""

    def __init__(self) -> None:
        self.outcomes: list[str] = []
        self.seen: dict[str, asyncio.Event] = {o: asyncio.Event() for o in ("done", "retry", "dead")}

    def __call__(self, kind: str, outcome: str, elapsed: float) -> None:
        self.outcomes.append(outcome)
        self.seen[outcome].set()


def _runner(b: Backend, finished: Finished) -> JobRunner:
    return JobRunner(
        PostgresJobStore(b.db),
        {WEBHOOK_KIND: KindOptions(b.delivery.handle, backoff_seconds=(0.05,), timeout_seconds=10.0)},
        worker_id=f"test-{uuid.uuid4().hex[:6]}",
        concurrency=4,
        poll_seconds=0.05,
        on_finish=finished,
    )


async def _settle(db: Database, sid: uuid.UUID, status: SessionStatus, reason: str | None = None) -> None:
    now = dt.datetime.now(dt.UTC)
    async with db.transaction(SERVICE) as tx:
        await tx.sessions.transition(sid, SessionStatus.PENDING, SessionStatus.IN_PROGRESS, now=now)
        await tx.sessions.transition(sid, SessionStatus.IN_PROGRESS, status, now=now, failure_reason=reason)


async def test_every_settled_call_reaches_the_backend_signed(backend: Backend) -> None:
    factory = PgFactory(backend.db)
    store = await factory.store()
    outcomes = [
        (SessionStatus.COMPLETED, None),
        (SessionStatus.ABANDONED, "opted_out"),
        (SessionStatus.FAILED, "max_retries_exceeded"),
        (SessionStatus.COMPLETED, None),
    ]
    sids = [await factory.session(store) for _ in outcomes]
    runner = _runner(backend, Finished())
    task = asyncio.create_task(runner.run())
    try:
        for sid, (status, reason) in zip(sids, outcomes, strict=True):
            await _settle(backend.db, sid, status, reason)
        await backend.receiver.wait_for(lambda r: len(r.of_type(CALL_SETTLED)) >= len(sids))
    finally:
        await runner.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    got = {r.body["data"]["session_id"]: r for r in backend.receiver.of_type(CALL_SETTLED)}
    assert set(got) == {str(s) for s in sids}
    for sid, (status, reason) in zip(sids, outcomes, strict=True):
        r = got[str(sid)]
        assert r.webhook_id == r.body["id"] == f"{CALL_SETTLED}:{sid}:1", "webhook-id is the idempotency key"
        assert r.body["data"]["status"] == status.value and r.body["data"]["failure_reason"] == reason
        assert r.body["store_id"] == str(store) and r.headers["content-type"] == "application/json"
    assert backend.receiver.rejected == 0 and backend.metrics.outcomes.count("delivered") == len(sids)


async def test_a_failing_endpoint_is_retried_then_dead_lettered_and_an_operator_retry_delivers(
    backend: Backend,
) -> None:
    sid = await PgFactory(backend.db).session()
    backend.receiver.fail_next = None  # the backend is down
    finished = Finished()
    runner = _runner(backend, finished)
    task = asyncio.create_task(runner.run())
    try:
        await _settle(backend.db, sid, SessionStatus.COMPLETED)
        event_id = f"{CALL_SETTLED}:{sid}:1"
        await asyncio.wait_for(finished.seen["dead"].wait(), 30)
        assert finished.outcomes == ["retry", "retry", "dead"]
        async with backend.db.transaction(SERVICE) as tx:
            dead = [d for d in await tx.events.deliveries("dead") if d.event_id == event_id]
        assert len(dead) == 1
        letter = dead[0]
        assert letter.endpoint == "backend" and letter.attempts == 3 and letter.event_type == CALL_SETTLED
        assert letter.last_error == "DeliveryError: backend: HTTP 503"  # no URL, no body
        assert backend.receiver.attempts == 3 and backend.receiver.received == []
        assert backend.metrics.outcomes == ["failed", "failed", "dead"]
        backend.receiver.fail_next = 0  # back up; an operator retries the dead letter
        async with backend.db.transaction(SERVICE) as tx:
            assert await tx.jobs.requeue(letter.job_id, dt.datetime.now(dt.UTC))
        runner.wake()
        await backend.receiver.wait_for(lambda r: len(r.received) == 1)
    finally:
        await runner.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert backend.receiver.received[0].webhook_id == event_id


async def test_an_untrusted_certificate_gets_nothing(backend: Backend) -> None:
    sid = await PgFactory(backend.db).session()
    await _settle(backend.db, sid, SessionStatus.COMPLETED)
    untrusted = WebhookDelivery(backend.db, backend.delivery.endpoints, ca_file=None, timeout_seconds=5.0)
    job = Job(1, WEBHOOK_KIND, {"event_id": f"{CALL_SETTLED}:{sid}:1", "endpoint": "backend"}, 1, 3)
    try:
        with pytest.raises(CallEngineError, match=r"Certificate|SSL") as err:
            await untrusted.handle(job)
        assert err.value.retryable
        gone = Job(2, WEBHOOK_KIND, {"event_id": "call.settled:nothing:1", "endpoint": "backend"}, 1, 3)
        with pytest.raises(CallEngineError, match="no longer exists") as err:
            await untrusted.handle(gone)
        assert not err.value.retryable, "an event purged by retention is dead at once"
        unknown = Job(3, WEBHOOK_KIND, {"event_id": "x", "endpoint": "removed"}, 1, 3)
        with pytest.raises(CallEngineError, match="not configured") as err:
            await untrusted.handle(unknown)
        assert not err.value.retryable
    finally:
        await untrusted.close()
    assert backend.receiver.attempts == 0
