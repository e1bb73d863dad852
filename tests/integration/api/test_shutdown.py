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
from storage.principal import Principal
from storage.records import WeeklyReport
from tests.fixtures.postgres import PgServer, settings_for
from tests.integration.api.conftest import SECRET, FakeDispatcher

pytestmark = pytest.mark.timeout(120)


class SlowReports:
    """generate() blocks until released, holding a GenerateWeeklyReport in flight."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def generate(self, store_id: uuid.UUID, week_monday: dt.date) -> None:
        self.entered.set()
        await self.release.wait()


async def test_in_flight_call_finishes_during_grace(pg_server: PgServer) -> None:
    settings: Settings = settings_for(pg_server)
    db = await Database.open(settings)
    reports = SlowReports()
    authority = TokenAuthority(SECRET, "callengine")
    server = await serve_in_process(
        settings, db, FakeDispatcher(), port=0, host="127.0.0.1", authority=authority, reports=reports
    )
    md = [("authorization", "Bearer " + authority.mint("t", Role.SERVICE))]
    channel = grpc.aio.insecure_channel(server.address)
    try:
        stub = pb_grpc.CallEngineStub(channel)
        store = uuid.uuid4()
        await stub.PutStore(
            pb.PutStoreRequest(
                store_id=str(store), business_id=str(uuid.uuid4()), name="S", business_name="B"
            ),
            metadata=md,
        )
        week = dt.date(2026, 11, 23)
        async with db.transaction(Principal.service()) as tx:  # what the slow builder "builds"
            await tx.reports.upsert(WeeklyReport(store_id=store, analysis_week=week, total_feedback_count=0))
        in_flight = asyncio.ensure_future(
            stub.GenerateWeeklyReport(
                pb.GenerateWeeklyReportRequest(store_id=str(store), analysis_week=week.isoformat()),
                metadata=md,
                timeout=30,
            )
        )
        await asyncio.wait_for(reports.entered.wait(), 10)
        stopping = asyncio.ensure_future(server.stop(grace=20))
        reports.release.set()
        result = await asyncio.wait_for(in_flight, 20)
        assert result.analysis_week == week.isoformat()
        await asyncio.wait_for(stopping, 30)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.GetWeeklyReport(
                pb.GetWeeklyReportRequest(store_id=str(store), analysis_week=week.isoformat()),
                metadata=md,
                timeout=5,
            )
        assert info.value.code() is grpc.StatusCode.UNAVAILABLE
    finally:
        await channel.close()
        await server.stop(0)
        await db.close()
