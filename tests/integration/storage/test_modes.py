"""One code path, two modes: embedded PostgreSQL and DATABASE_URL; the db commands on an empty server."""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.config import DatabaseSettings, Settings
from engine.errors import ConfigError
from storage import Database, Principal, embedded, migrate
from storage import cli as storage_cli
from tests.fixtures.postgres import PgFactory, PgServer, settings_for
from tests.integration.storage.conftest import raw


def cli(argv: list[str]) -> int:
    """Run a ``callengine db …`` command (storage's own parser: independent of other commands)."""
    parser = argparse.ArgumentParser(prog="callengine")
    storage_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI installs a root log handler on the (captured) stderr; remove it afterwards."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for handler in root.handlers[:]:
        if handler not in before:
            root.removeHandler(handler)
    root.setLevel(level)


async def test_embedded_mode_from_scratch() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="callengine-embedded-"))
    try:
        db = await Database.open(Settings(database=DatabaseSettings(data_dir=data_dir, pool_size=2)))
        try:
            assert (data_dir / "dev-keys.json").stat().st_mode & 0o777 == 0o600
            assert (
                db.embedded_pgdata == (data_dir / "pgdata").resolve()
                or db.embedded_pgdata == data_dir / "pgdata"
            )
            session_id = await PgFactory(db).session(phone="+46705550000")
            async with db.transaction(Principal.service()) as tx:
                assert await tx.sessions.get_phone(session_id) == "+46705550000"
        finally:
            await db.close()
        assert not embedded._running((data_dir / "pgdata").resolve())  # we started it, so we stopped it
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_database_url_mode(pg_server: PgServer) -> None:
    url = pg_server.owner_url
    assert url.startswith("postgresql://")  # a plain URL; the engine adds the psycopg driver
    db = await Database.open(settings_for(pg_server, url=url))
    try:
        assert db.embedded_pgdata is None
        session_id = await PgFactory(db).session(phone="+46705550001")
        async with db.transaction(Principal.admin(None)) as tx:
            assert (await tx.sessions.get(session_id)).id == session_id
        async with db.engine.connect() as conn:
            from sqlalchemy import text

            assert (await conn.execute(text("SELECT current_user"))).scalar() == "callengine_app"
    finally:
        await db.close()


async def test_database_url_without_keys_is_a_config_error(pg_server: PgServer) -> None:
    settings = Settings(database=DatabaseSettings(url=pg_server.owner_url, data_dir=pg_server.data_dir))
    with pytest.raises(ConfigError, match="CALLENGINE_ENCRYPTION_KEYS"):
        await Database.open(settings)


def test_db_commands_build_the_schema_on_an_empty_server(
    isolated_pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    migrate.downgrade(isolated_pg_url, "base")
    monkeypatch.setenv("DATABASE_URL", isolated_pg_url)
    assert cli(["db", "current"]) == 0
    assert "(empty)" in capsys.readouterr().out
    assert cli(["db", "upgrade"]) == 0
    assert cli(["db", "current"]) == 0
    assert f"{migrate.head()} (head)" in capsys.readouterr().out
    with raw(isolated_pg_url, db_role=None) as conn:
        tables = {
            t for (t,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        }
    assert {"feedback_call_sessions", "conversation_transcripts", "audit_log", "phone_opt_outs"} <= tables
    assert cli(["db", "downgrade", "0001"]) == 0
    assert cli(["db", "upgrade"]) == 0


def test_cleanup_command_dry_run(
    pg_server: PgServer,
    isolated_pg_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.fixtures.postgres import TEST_BLIND_INDEX_KEY, TEST_ENCRYPTION_KEYS

    monkeypatch.setenv("DATABASE_URL", isolated_pg_url)
    monkeypatch.setenv("CALLENGINE_ENCRYPTION_KEYS", TEST_ENCRYPTION_KEYS)
    monkeypatch.setenv("CALLENGINE_BLIND_INDEX_KEY", TEST_BLIND_INDEX_KEY)
    assert cli(["db", "cleanup", "--dry-run"]) == 0
    assert "would change 0 rows" in capsys.readouterr().out
    assert cli(["db", "rotate-keys", "--batch-size", "10"]) == 0
    assert "re-encrypted 0 values" in capsys.readouterr().out


def test_concurrent_upgrades_are_serialized(isolated_pg_url: str) -> None:
    """Several processes (Ray actors) may open the database at once; migrations must not race."""
    import concurrent.futures

    migrate.downgrade(isolated_pg_url, "base")
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        for future in [pool.submit(migrate.upgrade, isolated_pg_url) for _ in range(3)]:
            future.result()
    assert migrate.current(isolated_pg_url) == migrate.head()


def test_another_process_never_stops_a_server_it_did_not_start(pg_server: PgServer) -> None:
    """Like a Ray actor: opens and closes the embedded database the driver holds."""
    import subprocess
    import sys
    import textwrap

    if pg_server.external:
        pytest.skip("embedded mode only")
    script = textwrap.dedent(
        f"""
        import asyncio, pathlib
        from tests.fixtures.postgres import PgServer, settings_for
        from storage import Database
        async def main():
            server = PgServer("", pathlib.Path({str(pg_server.data_dir)!r}), external=False)
            db = await Database.open(settings_for(server), upgrade=False)
            await db.close()
        asyncio.run(main())
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120, cwd=Path(__file__).parents[3])
    assert embedded._running(pg_server.data_dir / "pgdata")


def test_a_killed_user_does_not_keep_the_server_up_after_the_last_one_releases_it(
    tmp_path: Path,
) -> None:
    """A Ray actor killed while it had the embedded database open never releases it: the process
    that started the server still stops it when it is done (it used to stay up for good)."""
    import signal
    import subprocess
    import sys

    pgdata = (tmp_path / "pgdata").resolve()
    embedded.acquire(pgdata)  # this process starts the server
    try:
        script = (
            "import pathlib, sys, time; from storage import embedded; "
            f"embedded.acquire(pathlib.Path({str(pgdata)!r})); print('ready', flush=True); time.sleep(600)"
        )
        worker = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[3]
        )
        try:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        finally:
            worker.send_signal(signal.SIGKILL)  # dies holding it, as a killed actor does
            worker.wait(30)
        assert embedded._running(pgdata)
    finally:
        embedded.release(pgdata)
    assert not embedded._running(pgdata), "the server outlived every process that used it"
