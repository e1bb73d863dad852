"""Generated requests over the wire against real PostgreSQL: a client's mistake is never INTERNAL.

The server runs in its own thread and event loop, so hypothesis drives a plain
(synchronous) gRPC client. Requests mix valid ids that exist (a real store and
verification) with arbitrary field values, so they reach the repositories too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.api.auth import TokenAuthority
from engine.api.gen import callengine_pb2 as pb
from engine.api.gen import callengine_pb2_grpc as pb_grpc
from engine.api.server import serve_in_process
from engine.domain import Role
from storage.database import Database
from tests.fixtures.postgres import PgServer, settings_for
from tests.integration.api.conftest import SECRET, FakeDispatcher
from tests.unit.api.test_validation import requests as generated

pytestmark = pytest.mark.timeout(300)

STORE = uuid.uuid4()
VERIFICATION = uuid.uuid4()
ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,  # a dispatch limit (cooldown, quota) is an answer, not a fault
}


class ThreadedServer:
    """The front door in a background thread with its own loop (and its own DB pool)."""

    def __init__(self, pg_server: PgServer) -> None:
        self.settings = settings_for(pg_server)
        self.ready = threading.Event()
        self.address = ""
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="api-fuzz-server", daemon=True)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:
            self._error = exc
            self.ready.set()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        db = await Database.open(self.settings)
        server = await serve_in_process(
            self.settings,
            db,
            FakeDispatcher(),
            port=0,
            host="127.0.0.1",
            authority=TokenAuthority(SECRET, "callengine"),
            watch_poll_seconds=0.05,
        )
        self.address = server.address
        self.ready.set()
        try:
            await self._stop.wait()
        finally:
            await server.stop(1.0)
            await db.close()

    def start(self) -> None:
        self._thread.start()
        assert self.ready.wait(120), "server did not start"
        if self._error:
            raise self._error

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


@pytest.fixture(scope="module")
def stub(pg_server: PgServer) -> Iterator[tuple[pb_grpc.CallEngineStub, list[tuple[str, str]]]]:
    server = ThreadedServer(pg_server)
    server.start()
    md = [("authorization", "Bearer " + TokenAuthority(SECRET, "callengine").mint("fuzz", Role.SERVICE))]
    channel = grpc.insecure_channel(server.address)
    api = pb_grpc.CallEngineStub(channel)
    api.PutStore(
        pb.PutStoreRequest(store_id=str(STORE), business_id=str(uuid.uuid4()), name="F", business_name="B"),
        metadata=md,
    )
    v = pb.PutVerificationRequest(
        customer_verification_id=str(VERIFICATION),
        store_id=str(STORE),
        phone_number=f"+4670{VERIFICATION.int % 10_000_000:07d}",  # its own number: the cooldown spans tests
        purchase_amount="1",
    )
    v.purchase_time.FromDatetime(dt.datetime.now(dt.UTC))
    api.PutVerification(v, metadata=md)
    try:
        yield api, md
    finally:
        channel.close()
        server.stop()


def _with_real_ids(draw: st.DrawFn, msg: Any) -> Any:
    for field in msg.DESCRIPTOR.fields:
        if field.name in ("store_id", "customer_verification_id", "session_id") and draw(st.booleans()):
            setattr(msg, field.name, str(STORE if field.name == "store_id" else VERIFICATION))
    return msg


RPCS: list[tuple[str, type[Any]]] = [
    ("DispatchCall", pb.DispatchCallRequest),
    ("ListCalls", pb.ListCallsRequest),
    ("GetCall", pb.GetCallRequest),
    ("CancelCall", pb.CancelCallRequest),
    ("PutBusinessContext", pb.PutBusinessContextRequest),
    ("GetWeeklyReport", pb.GetWeeklyReportRequest),
    ("PutStore", pb.PutStoreRequest),
    ("PutVerification", pb.PutVerificationRequest),
    ("ListRewards", pb.ListRewardsRequest),
    ("SettleRewards", pb.SettleRewardsRequest),
    ("GetRewardTotals", pb.GetRewardTotalsRequest),
    ("ListWeeklyReports", pb.ListWeeklyReportsRequest),
    ("GetStoreStatistics", pb.GetStoreStatisticsRequest),
    ("ListDeadDeliveries", pb.ListDeadDeliveriesRequest),
    ("RetryDelivery", pb.RetryDeliveryRequest),
]


@pytest.mark.parametrize(("method", "cls"), RPCS, ids=[m for m, _ in RPCS])
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_generated_requests_never_internal(
    stub: tuple[pb_grpc.CallEngineStub, list[tuple[str, str]]],
    method: str,
    cls: type[Any],
    data: st.DataObject,
) -> None:
    api, md = stub
    request = _with_real_ids(data.draw, data.draw(generated(cls)))
    try:
        getattr(api, method)(request, metadata=md, timeout=30)
        code = grpc.StatusCode.OK
    except grpc.RpcError as exc:
        code = exc.code()  # type: ignore[attr-defined]
    assert code in ALLOWED, f"{method} -> {code}"
