"""WatchEvents (resumable, store owners limited to their stores, validated, capped per caller) and
the dead-letter RPCs, through the real gRPC front door on real PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import grpc
import pytest

from engine.api.gen import callengine_pb2 as pb
from engine.api.status import field_violations
from engine.domain import Role, SessionStatus
from engine.events.types import CALL_SETTLED, WEBHOOK_KIND
from storage.principal import Principal
from tests.fixtures.postgres import PgFactory
from tests.integration.api.conftest import Env

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(120)]

SERVICE = Principal.service()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _settle(env: Env, store: uuid.UUID) -> uuid.UUID:
    sid = await PgFactory(env.db).session(store)
    async with env.db.transaction(SERVICE) as tx:
        await tx.sessions.transition(sid, SessionStatus.PENDING, SessionStatus.IN_PROGRESS, now=_now())
        await tx.sessions.transition(sid, SessionStatus.IN_PROGRESS, SessionStatus.COMPLETED, now=_now())
    return sid


async def _take(call: Any, n: int) -> list[pb.Event]:
    out = []
    async with asyncio.timeout(20):
        while len(out) < n:
            out.append(await call.read())
    return out


async def test_watch_events_replays_follows_live_and_resumes_by_cursor_and_by_id(env: Env) -> None:
    store = await PgFactory(env.db).store()
    svc = env.token(Role.SERVICE)
    sids = [await _settle(env, store) for _ in range(2)]
    req = pb.WatchEventsRequest(from_oldest=True, store_id=str(store), types=[CALL_SETTLED])
    call = env.stub.WatchEvents(req, metadata=svc)
    first, second = await _take(call, 2)  # replayed
    sids.append(await _settle(env, store))  # committed while the stream waits: delivered live
    [third] = await _take(call, 1)
    call.cancel()
    seen = [first, second, third]
    assert [e.subject for e in seen] == [str(s) for s in sids]
    assert all(e.type == CALL_SETTLED and e.store_id == str(store) and e.version == 1 for e in seen)
    assert first.id == f"{CALL_SETTLED}:{sids[0]}:1" and first.data["status"] == "completed"
    # resume after the first: by cursor, then by id
    for start in (
        pb.WatchEventsRequest(after_cursor=first.cursor),
        pb.WatchEventsRequest(after_event_id=first.id),
    ):
        start.store_id = str(store)
        start.types[:] = [CALL_SETTLED]
        again = env.stub.WatchEvents(start, metadata=svc)
        assert [e.id for e in await _take(again, 2)] == [second.id, third.id]
        again.cancel()


async def test_store_owners_see_only_their_stores(env: Env) -> None:
    factory = PgFactory(env.db)
    mine, theirs = await factory.store(), await factory.store()
    await _settle(env, theirs)
    own = await _settle(env, mine)
    owner = env.token(Role.STORE_OWNER, mine)
    call = env.stub.WatchEvents(pb.WatchEventsRequest(from_oldest=True, types=[CALL_SETTLED]), metadata=owner)
    got: list[pb.Event] = []
    async with asyncio.timeout(20):
        while not any(e.subject == str(own) for e in got):
            got.append(await call.read())
    call.cancel()
    assert {e.store_id for e in got} == {str(mine)}
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await env.stub.WatchEvents(pb.WatchEventsRequest(store_id=str(theirs)), metadata=owner).read()
    assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_bad_starts_and_types_are_refused_by_field(env: Env) -> None:
    svc = env.token(Role.SERVICE)
    for req, field in (
        (pb.WatchEventsRequest(after_cursor="v1.x.1"), "after_cursor"),
        (pb.WatchEventsRequest(types=["call.settled", "call.started"]), "types"),
        (pb.WatchEventsRequest(store_id="nope"), "store_id"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await env.stub.WatchEvents(req, metadata=svc).read()
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert [f for f, _ in field_violations(info.value.trailing_metadata())] == [field]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await env.stub.WatchEvents(
            pb.WatchEventsRequest(after_event_id="call.settled:x:1"), metadata=svc
        ).read()
    assert info.value.code() is grpc.StatusCode.NOT_FOUND


async def test_streams_are_capped_per_caller(env: Env) -> None:
    store = await PgFactory(env.db).store()
    await _settle(env, store)
    md = env.token(Role.SERVICE, subject=f"backend-{uuid.uuid4().hex[:6]}")
    cap = env.server.service.caller_streams.per_caller
    req = pb.WatchEventsRequest(from_oldest=True, store_id=str(store))
    calls = [env.stub.WatchEvents(req, metadata=md) for _ in range(cap)]
    try:
        for c in calls:  # a first event proves the stream holds its slot
            await _take(c, 1)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await env.stub.WatchEvents(pb.WatchEventsRequest(), metadata=md).read()
        assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        for c in calls:
            c.cancel()


async def test_dead_deliveries_are_listed_and_retried_by_admins_only(env: Env) -> None:
    store = await PgFactory(env.db).store()
    async with env.db.transaction(SERVICE) as tx:
        event_id = await tx.events.emit("report.ready", store, f"{store}:dead", {"n": 1})
        # due long ago: the claim below takes this job first, whatever other tests left queued
        job_id = await tx.jobs.enqueue(
            WEBHOOK_KIND,
            {"event_id": event_id, "endpoint": "crm"},
            now=_now(),
            max_attempts=1,
            run_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
        )
        assert job_id is not None
        [claimed] = await tx.jobs.claim(
            [WEBHOOK_KIND], 1, "w", dt.timedelta(seconds=30), _now() + dt.timedelta(days=1)
        )
        assert claimed.id == job_id
        assert await tx.jobs.fail(job_id, "w", "DeliveryError: crm: HTTP 503", None, _now()) == "dead"
    admin = env.token(Role.ADMIN)
    page = await env.stub.ListDeadDeliveries(pb.ListDeadDeliveriesRequest(page_size=100), metadata=admin)
    [letter] = [d for d in page.deliveries if d.delivery_id == job_id]
    assert (
        letter.event_id == event_id and letter.event_type == "report.ready" and letter.store_id == str(store)
    )
    assert letter.endpoint == "crm" and letter.state == pb.DELIVERY_STATE_DEAD and letter.attempts == 1
    assert letter.last_error == "DeliveryError: crm: HTTP 503" and letter.HasField("finished_at")
    for role in (Role.SERVICE, Role.STORE_OWNER):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await env.stub.ListDeadDeliveries(pb.ListDeadDeliveriesRequest(), metadata=env.token(role, store))
        assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED
    retried = await env.stub.RetryDelivery(pb.RetryDeliveryRequest(delivery_id=job_id), metadata=admin)
    assert retried.state == pb.DELIVERY_STATE_QUEUED
    for bad, code in ((job_id, grpc.StatusCode.ABORTED), (2**62, grpc.StatusCode.NOT_FOUND)):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await env.stub.RetryDelivery(pb.RetryDeliveryRequest(delivery_id=bad), metadata=admin)
        assert info.value.code() is code
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await env.stub.ListDeadDeliveries(pb.ListDeadDeliveriesRequest(page_token="x"), metadata=admin)
    assert [f for f, _ in field_violations(info.value.trailing_metadata())] == ["page_token"]
