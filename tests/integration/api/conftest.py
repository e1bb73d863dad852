"""Front-door integration fixtures: a real PostgreSQL (embedded, one per module) and the
grpc.aio server in-process, with an in-process fake of the Dispatcher port."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio

from engine.api.auth import TokenAuthority
from engine.api.gen import callengine_pb2_grpc as pb_grpc
from engine.api.server import RunningServer, serve_in_process
from engine.config import Settings
from engine.domain import Role
from storage.database import Database
from tests.fixtures.postgres import PgServer, settings_for

SECRET = "integration-test-secret-0123456789abcdef"


class FakeDispatcher:
    """In-process DispatcherPort: records notices and cancels; ping answer is settable."""

    def __init__(self) -> None:
        self.notified: list[uuid.UUID] = []
        self.cancelled: list[uuid.UUID] = []
        self.alive = True
        self.notice = asyncio.Event()
        self.held: str | None = None
        """What held_reason answers (a provider's open breaker)."""

    async def notify(self, session_id: uuid.UUID) -> None:
        self.notified.append(session_id)
        self.notice.set()

    async def cancel(self, session_id: uuid.UUID) -> None:
        self.cancelled.append(session_id)

    async def ping(self) -> bool:
        return self.alive

    async def held_reason(self) -> str | None:
        return self.held


class Env:
    def __init__(self, db: Database, server: RunningServer, dispatcher: FakeDispatcher) -> None:
        self.db = db
        self.server = server
        self.dispatcher = dispatcher
        self.authority = TokenAuthority(SECRET, "callengine")
        self.channel = grpc.aio.insecure_channel(server.address)
        self.stub = pb_grpc.CallEngineStub(self.channel)

    def token(self, role: Role, *stores: uuid.UUID, subject: str | None = None) -> list[tuple[str, str]]:
        sub = subject or str(uuid.uuid4())
        return [("authorization", f"Bearer {self.authority.mint(sub, role, stores)}")]


@pytest.fixture(scope="module")
def api_settings(pg_server: PgServer) -> Settings:
    """The shared test PostgreSQL (tests/fixtures/postgres.py); isolation is by unique ids."""
    return settings_for(pg_server)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api_db(api_settings: Settings) -> AsyncIterator[Database]:
    db = await Database.open(api_settings)
    try:
        yield db
    finally:
        await db.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(api_settings: Settings, api_db: Database) -> AsyncIterator[Env]:
    dispatcher = FakeDispatcher()
    server = await serve_in_process(
        api_settings,
        api_db,
        dispatcher,
        port=0,
        host="127.0.0.1",
        authority=TokenAuthority(SECRET, "callengine"),
        health_interval=3600,
        watch_poll_seconds=0.05,
    )
    e = Env(api_db, server, dispatcher)
    try:
        yield e
    finally:
        await e.channel.close()
        await server.stop(0.5)
