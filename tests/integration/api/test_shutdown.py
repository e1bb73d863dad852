"""Graceful shutdown: in-flight RPCs finish within the grace period; afterwards nothing is served."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import grpc
import pytest

from engine.api.auth import TokenAuthority
from engine.api.gen import callengine_pb2 as pb
from engine.api.gen import callengine_pb2_grpc as pb_grpc
from engine.api.server import serve_in_process
from engine.config import Settings
from engine.domain import Role
from storage.database import Database
from tests.fixtures.postgres import PgServer, settings_for
from tests.integration.api.conftest import SECRET

pytestmark = pytest.mark.timeout(120)


class SlowDispatcher:
    """notify() blocks until released, holding the DispatchCall in flight."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def notify(self, session_id: uuid.UUID) -> None:
        self.entered.set()
        await self.release.wait()

    async def cancel(self, session_id: uuid.UUID) -> None:
        return None

    async def ping(self) -> bool:
        return True


async def test_in_flight_call_finishes_during_grace(pg_server: PgServer) -> None:
    settings: Settings = settings_for(pg_server)
    db = await Database.open(settings)
    dispatcher = SlowDispatcher()
    authority = TokenAuthority(SECRET, "callengine")
    server = await serve_in_process(settings, db, dispatcher, port=0, host="127.0.0.1", authority=authority)
    md = [("authorization", "Bearer " + authority.mint("t", Role.SERVICE))]
    channel = grpc.aio.insecure_channel(server.address)
    try:
        stub = pb_grpc.CallEngineStub(channel)
        store, vid = uuid.uuid4(), uuid.uuid4()
        await stub.PutStore(
            pb.PutStoreRequest(
                store_id=str(store), business_id=str(uuid.uuid4()), name="S", business_name="B"
            ),
            metadata=md,
        )
        v = pb.PutVerificationRequest(
            customer_verification_id=str(vid),
            store_id=str(store),
            phone_number="+46701230000",
            purchase_amount="1",
        )
        v.purchase_time.FromDatetime(dt.datetime.now(dt.UTC))
        await stub.PutVerification(v, metadata=md)
        in_flight = asyncio.ensure_future(
            stub.DispatchCall(
                pb.DispatchCallRequest(
                    customer_verification_id=str(vid), store_id=str(store), phone_number="+46701230000"
                ),
                metadata=md,
                timeout=30,
            )
        )
        await asyncio.wait_for(dispatcher.entered.wait(), 10)
        stopping = asyncio.ensure_future(server.stop(grace=20))
        dispatcher.release.set()
        result = await asyncio.wait_for(in_flight, 20)
        assert result.status == pb.SESSION_STATUS_PENDING
        await asyncio.wait_for(stopping, 30)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.GetCall(pb.GetCallRequest(session_id=result.session_id), metadata=md, timeout=5)
        assert info.value.code() is grpc.StatusCode.UNAVAILABLE
    finally:
        await channel.close()
        await server.stop(0)
        await db.close()
