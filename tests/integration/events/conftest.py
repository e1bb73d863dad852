"""A database whose emitted events get delivery jobs for two webhook endpoints."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import AsyncIterator

import pytest

from engine.config import EventSettings, Secret, Settings
from storage import Database
from tests.fixtures.postgres import PgServer, settings_for

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


def with_endpoints(
    settings: Settings, endpoints: dict[str, str], secret: str = SECRET, **extra: object
) -> Settings:
    events = EventSettings(
        webhook_endpoints=tuple(f"{name}={url}" for name, url in endpoints.items()),
        webhook_secrets=Secret(",".join(f"{name}={secret}" for name in endpoints)),
        **extra,  # type: ignore[arg-type]
    )
    return dataclasses.replace(settings, events=events)


@pytest.fixture
async def event_db(pg_server: PgServer) -> AsyncIterator[Database]:
    settings = with_endpoints(
        settings_for(pg_server), {"crm": "https://crm.invalid/hooks", "erp": "https://erp.invalid/in"}
    )
    db = await Database.open(settings, upgrade=False)
    try:
        yield db
    finally:
        await db.close()
