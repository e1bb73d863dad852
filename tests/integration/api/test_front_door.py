"""The front door over the wire, against real PostgreSQL (RLS on) and a fake Dispatcher port."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import grpc
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from engine.api.auth import Caller
from engine.api.gen import callengine_pb2 as pb
from engine.api.servicer import principal_of
from engine.api.status import field_violations, retry_delay
from engine.domain import Role, SessionStatus
from engine.errors import NotFoundError
from storage.principal import Principal
from tests.integration.api.conftest import Env

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(120)]

BUSINESS = uuid.uuid4()
STORE_A = uuid.uuid4()
STORE_B = uuid.uuid4()
PHONE = "+46701234567"
PHONES: dict[uuid.UUID, str] = {}
"""Each verification's own number: the default per-number cooldown spans stores."""


def new_phone() -> str:
    return f"+4672{uuid.uuid4().int % 10_000_000:07d}"


async def code_of(call: object) -> grpc.StatusCode:
    try:
        await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


async def put_verification(env: Env, store: uuid.UUID, phone: str | None = None) -> uuid.UUID:
    vid = uuid.uuid4()
    PHONES[vid] = phone or new_phone()
    req = pb.PutVerificationRequest(
        customer_verification_id=str(vid),
        store_id=str(store),
        phone_number=PHONES[vid],
        purchase_amount="99.50",
    )
    req.purchase_time.FromDatetime(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    out = await env.stub.PutVerification(req, metadata=env.token(Role.SERVICE))
    assert out.customer_verification_id == str(vid) and out.purchase_amount == "99.50"
    return vid


async def dispatch(env: Env, store: uuid.UUID, vid: uuid.UUID, **kw: object) -> pb.DispatchCallResponse:
    req = pb.DispatchCallRequest(
        customer_verification_id=str(vid), store_id=str(store), phone_number=PHONES.get(vid, PHONE)
    )
    return await env.stub.DispatchCall(req, metadata=env.token(Role.SERVICE), **kw)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stores(env: Env) -> None:
    svc = env.token(Role.SERVICE)
    for store, name in ((STORE_A, "Store A"), (STORE_B, "Store B")):
        out = await env.stub.PutStore(
            pb.PutStoreRequest(
                store_id=str(store), business_id=str(BUSINESS), name=name, business_name="ICA Nära"
            ),
            metadata=svc,
        )
        assert out.timezone == "Europe/Stockholm"


async def test_dispatch_is_idempotent_per_verification(env: Env, stores: None) -> None:
    vid = await put_verification(env, STORE_A)
    first = await dispatch(env, STORE_A, vid)
    assert first.status == pb.SESSION_STATUS_PENDING and not first.already_existed
    await asyncio.wait_for(env.dispatcher.notice.wait(), 5)
    assert uuid.UUID(first.session_id) in env.dispatcher.notified
    again = await asyncio.gather(*(dispatch(env, STORE_A, vid) for _ in range(8)))
    assert {r.session_id for r in again} == {first.session_id}
    assert all(r.already_existed for r in again)
    assert env.dispatcher.notified.count(uuid.UUID(first.session_id)) == 1


async def test_concurrent_first_dispatches_make_one_session(env: Env, stores: None) -> None:
    vid = await put_verification(env, STORE_A)
    results = await asyncio.gather(*(dispatch(env, STORE_A, vid) for _ in range(6)), return_exceptions=True)
    ok = [r for r in results if isinstance(r, pb.DispatchCallResponse)]
    # A lost race may surface as ABORTED (retryable); never as a second session.
    for r in results:
        if not isinstance(r, pb.DispatchCallResponse):
            assert isinstance(r, grpc.aio.AioRpcError) and r.code() is grpc.StatusCode.ABORTED
    assert ok and len({r.session_id for r in ok}) == 1


async def test_dispatch_errors(env: Env, stores: None) -> None:
    unknown = pb.DispatchCallRequest(
        customer_verification_id=str(uuid.uuid4()), store_id=str(STORE_A), phone_number=PHONE
    )
    assert (
        await code_of(env.stub.DispatchCall(unknown, metadata=env.token(Role.SERVICE)))
        is grpc.StatusCode.NOT_FOUND
    )
    vid = await put_verification(env, STORE_A)
    wrong_store = pb.DispatchCallRequest(
        customer_verification_id=str(vid), store_id=str(STORE_B), phone_number=PHONE
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await env.stub.DispatchCall(wrong_store, metadata=env.token(Role.SERVICE))
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(info.value.trailing_metadata())] == ["store_id"]
    bad = pb.DispatchCallRequest(customer_verification_id="x", store_id=str(STORE_A), phone_number="0701")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await env.stub.DispatchCall(bad, metadata=env.token(Role.SERVICE))
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(info.value.trailing_metadata())] == [
        "customer_verification_id",
        "phone_number",
    ]


async def test_auth_matrix_over_the_wire(env: Env, stores: None) -> None:
    vid = await put_verification(env, STORE_B)
    session_b = (await dispatch(env, STORE_B, vid)).session_id
    get = pb.GetCallRequest(session_id=session_b)
    bad_sig = [("authorization", "Bearer " + env.authority.mint("x", Role.ADMIN) + "x")]
    expired = [("authorization", "Bearer " + env.authority.mint("x", Role.ADMIN, now=0))]
    cases = {
        "none": ([], grpc.StatusCode.UNAUTHENTICATED),
        "bad_signature": (bad_sig, grpc.StatusCode.UNAUTHENTICATED),
        "expired": (expired, grpc.StatusCode.UNAUTHENTICATED),
        "owner_of_other_store": (env.token(Role.STORE_OWNER, STORE_A), grpc.StatusCode.PERMISSION_DENIED),
        "owner": (env.token(Role.STORE_OWNER, STORE_B), grpc.StatusCode.OK),
        "admin": (env.token(Role.ADMIN), grpc.StatusCode.OK),
        "service": (env.token(Role.SERVICE), grpc.StatusCode.OK),
    }
    got = {name: await code_of(env.stub.GetCall(get, metadata=md)) for name, (md, _) in cases.items()}
    assert got == {name: code for name, (_, code) in cases.items()}
    owner_a = env.token(Role.STORE_OWNER, STORE_A)
    listing = pb.ListCallsRequest(store_id=str(STORE_B))
    assert await code_of(env.stub.ListCalls(listing, metadata=owner_a)) is grpc.StatusCode.PERMISSION_DENIED
    put = pb.PutStoreRequest(store_id=str(STORE_A), business_id=str(BUSINESS), name="x")
    assert await code_of(env.stub.PutStore(put, metadata=owner_a)) is grpc.StatusCode.PERMISSION_DENIED
    fraud = pb.ListFraudResultsRequest()
    assert (
        await code_of(env.stub.ListFraudResults(fraud, metadata=owner_a)) is grpc.StatusCode.PERMISSION_DENIED
    )


async def test_rls_hides_other_stores_even_without_the_servicer_check(env: Env, stores: None) -> None:
    vid = await put_verification(env, STORE_B)
    session_b = uuid.UUID((await dispatch(env, STORE_B, vid)).session_id)
    owner_a = principal_of(Caller(str(uuid.uuid4()), Role.STORE_OWNER, frozenset({STORE_A})))
    async with env.db.transaction(owner_a) as tx:
        with pytest.raises(NotFoundError):
            await tx.sessions.get(session_b)
        page = await tx.sessions.list(store_id=STORE_B)
    assert page.items == []


async def test_get_list_and_pages(env: Env, stores: None) -> None:
    owner = env.token(Role.STORE_OWNER, STORE_A)
    ids = set()
    for _ in range(3):
        ids.add((await dispatch(env, STORE_A, await put_verification(env, STORE_A))).session_id)
    seen: list[str] = []
    token = ""
    while True:
        page = await env.stub.ListCalls(
            pb.ListCallsRequest(store_id=str(STORE_A), page_size=2, page_token=token), metadata=owner
        )
        assert len(page.calls) <= 2
        seen.extend(c.session_id for c in page.calls)
        token = page.next_page_token
        if not token:
            break
    assert ids <= set(seen) and len(seen) == len(set(seen))
    one = await env.stub.GetCall(pb.GetCallRequest(session_id=seen[0]), metadata=owner)
    assert one.store_id == str(STORE_A) and one.HasField("expires_at")
    missing = pb.GetCallRequest(session_id=str(uuid.uuid4()))
    assert await code_of(env.stub.GetCall(missing, metadata=owner)) is grpc.StatusCode.NOT_FOUND
    forged = pb.ListCallsRequest(store_id=str(STORE_A), page_token="Zm9vYmFy")
    assert await code_of(env.stub.ListCalls(forged, metadata=owner)) is grpc.StatusCode.INVALID_ARGUMENT


async def test_watch_streams_status_changes_until_terminal(env: Env, stores: None) -> None:
    session_id = uuid.UUID((await dispatch(env, STORE_A, await put_verification(env, STORE_A))).session_id)
    stream = env.stub.WatchCall(
        pb.WatchCallRequest(session_id=str(session_id)),
        metadata=env.token(Role.STORE_OWNER, STORE_A),
        timeout=30,
    )
    seen: list[int] = []

    async def advance() -> None:
        now = dt.datetime.now(dt.UTC)
        async with env.db.transaction(Principal.service()) as tx:
            await tx.sessions.transition(
                session_id, SessionStatus.PENDING, SessionStatus.IN_PROGRESS, now=now
            )
        async with env.db.transaction(Principal.service()) as tx:
            await tx.sessions.transition(
                session_id, SessionStatus.IN_PROGRESS, SessionStatus.COMPLETED, now=now, call_ended_at=now
            )

    advancing: asyncio.Task[None] | None = None
    async for event in stream:
        seen.append(event.status)
        if advancing is None:
            advancing = asyncio.create_task(advance())
    assert advancing is not None
    await advancing
    assert seen == [pb.SESSION_STATUS_PENDING, pb.SESSION_STATUS_IN_PROGRESS, pb.SESSION_STATUS_COMPLETED]
    assert await stream.code() is grpc.StatusCode.OK


async def test_cancel(env: Env, stores: None) -> None:
    session_id = (await dispatch(env, STORE_A, await put_verification(env, STORE_A))).session_id
    out = await env.stub.CancelCall(
        pb.CancelCallRequest(session_id=session_id), metadata=env.token(Role.SERVICE)
    )
    assert out.status == pb.SESSION_STATUS_FAILED and out.failure_reason == "canceled"
    assert uuid.UUID(session_id) in env.dispatcher.cancelled
    again = await env.stub.CancelCall(
        pb.CancelCallRequest(session_id=session_id), metadata=env.token(Role.SERVICE)
    )
    assert again.status == pb.SESSION_STATUS_FAILED


async def test_health_follows_dependencies(env: Env) -> None:
    health = health_pb2_grpc.HealthStub(env.channel)
    service = "callengine.v1.CallEngine"
    assert (
        await health.Check(health_pb2.HealthCheckRequest(service=service))
    ).status == health_pb2.HealthCheckResponse.SERVING
    env.dispatcher.alive = False
    try:
        assert await env.server.health.probe() is False
        resp = await health.Check(health_pb2.HealthCheckRequest(service=""))
        assert resp.status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        env.dispatcher.alive = True
        assert await env.server.health.probe() is True


async def test_reflection_lists_the_service(env: Env) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(env.channel)

    async def requests():  # type: ignore[no-untyped-def]
        yield reflection_pb2.ServerReflectionRequest(list_services="")
        yield reflection_pb2.ServerReflectionRequest(file_containing_symbol="callengine.v1.CallEngine")

    responses = [r async for r in stub.ServerReflectionInfo(requests())]
    names = {s.name for s in responses[0].list_services_response.service}
    assert {"callengine.v1.CallEngine", "grpc.health.v1.Health"} <= names
    assert responses[1].file_descriptor_response.file_descriptor_proto


async def test_dispatch_dials_only_the_verifications_number(env: Env, stores: None) -> None:
    """An owner naming another number is refused by field; leaving it out dials the verified one."""
    vid = await put_verification(env, STORE_A)
    owner = env.token(Role.STORE_OWNER, STORE_A)
    other = pb.DispatchCallRequest(
        customer_verification_id=str(vid), store_id=str(STORE_A), phone_number=new_phone()
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await env.stub.DispatchCall(other, metadata=owner)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(info.value.trailing_metadata())] == ["phone_number"]
    foreign = pb.DispatchCallRequest(
        customer_verification_id=str(vid), store_id=str(STORE_A), phone_number="+12025550123"
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await env.stub.DispatchCall(foreign, metadata=owner)
    assert [f for f, _ in field_violations(info.value.trailing_metadata())] == ["phone_number"]
    assert "country code" in info.value.details()
    plain = pb.DispatchCallRequest(customer_verification_id=str(vid), store_id=str(STORE_A))
    out = await env.stub.DispatchCall(plain, metadata=owner)
    async with env.db.transaction(Principal.service()) as tx:
        assert await tx.sessions.get_phone(uuid.UUID(out.session_id)) == PHONES[vid]


async def test_number_cooldown_is_resource_exhausted_with_retry_info(env: Env, stores: None) -> None:
    number = new_phone()
    first = await put_verification(env, STORE_A, number)
    second = await put_verification(env, STORE_B, number)
    await dispatch(env, STORE_A, first)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await dispatch(env, STORE_B, second)
    assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    delay = retry_delay(info.value.trailing_metadata())
    assert delay is not None and 86000 < delay <= 86400


async def test_get_call_says_why_a_due_call_waits_while_a_breaker_is_open(
    env: Env, stores: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.api import held

    monkeypatch.setattr(held, "TTL_SECONDS", 0.0)  # every read asks (the cache is a second)
    svc = env.token(Role.SERVICE)
    due = (await dispatch(env, STORE_A, await put_verification(env, STORE_A))).session_id
    later = pb.DispatchCallRequest(
        customer_verification_id=str(vid := await put_verification(env, STORE_A)),
        store_id=str(STORE_A),
        phone_number=PHONES[vid],
    )
    later.not_before.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))
    waiting = (await env.stub.DispatchCall(later, metadata=svc)).session_id

    async def reason(session_id: str) -> str:
        return (await env.stub.GetCall(pb.GetCallRequest(session_id=session_id), metadata=svc)).failure_reason

    assert await reason(due) == ""
    env.dispatcher.held = "realtime_unavailable"  # never tried: the breaker opened before its turn
    try:
        assert await reason(due) == "realtime_unavailable"
        assert await reason(waiting) == "", "not due yet: it waits for its own time, not the breaker"
    finally:
        env.dispatcher.held = None
    assert await reason(due) == "", "the breaker closed"
