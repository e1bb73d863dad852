"""`callengine report` end to end: seeded store → HTML file with charts."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.analysis import service
from engine.cli import main
from storage import Database
from tests.fixtures.postgres import TEST_BLIND_INDEX_KEY, TEST_ENCRYPTION_KEYS, PgServer, settings_for
from tests.integration.analysis.conftest import Seeder
from tests.unit.analysis.samples import DETAILED


def test_report_command_writes_html(
    pg_server: PgServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if pg_server.external:
        monkeypatch.setenv("DATABASE_URL", pg_server.owner_url)
    monkeypatch.setenv("CALLENGINE_DATA_DIR", str(pg_server.data_dir))
    monkeypatch.setenv("CALLENGINE_ENCRYPTION_KEYS", TEST_ENCRYPTION_KEYS)
    monkeypatch.setenv("CALLENGINE_BLIND_INDEX_KEY", TEST_BLIND_INDEX_KEY)
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CALLENGINE_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    now = dt.datetime.now(dt.UTC)

    async def seed() -> uuid.UUID:
        db = await Database.open(settings_for(pg_server), upgrade=False)
        try:
            seeder = Seeder(db)
            store = await seeder.store()
            for _ in range(3):
                sid = await seeder.call(store, DETAILED, call_at=now - dt.timedelta(minutes=30))
                await service.assess_session(db, None, sid, now=now)
            return store
        finally:
            await db.close()

    store = asyncio.run(seed())
    local_day = dt.datetime.now(ZoneInfo("Europe/Stockholm")).date()  # weeks are the store's
    # main() installs a root log handler on pytest's captured stream; drop it afterwards.
    handlers = list(logging.getLogger().handlers)
    monkeypatch.setattr(logging.getLogger(), "handlers", handlers)
    assert (
        main(["report", "--store", str(store), "--week", local_day.isoformat(), "--out", str(tmp_path)]) == 0
    )
    monday = local_day - dt.timedelta(days=local_day.weekday())
    page = (tmp_path / f"report-{store}-{monday.isoformat()}.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 3 and "Kassa" in page  # quality, calls per week, departments
    assert main(["report", "--store", "not-a-uuid", "--week", "2026-11-16"]) == 2
    assert main(["report", "--store", str(uuid.uuid4()), "--week", "2026-11-16", "--out", str(tmp_path)]) == 1
