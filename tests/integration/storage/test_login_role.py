"""The runtime logs in as the application role itself: no SET/RESET ROLE leads to owner rights."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage import Database
from storage.rls import APP_ROLE
from tests.fixtures.postgres import PgServer, settings_for


async def test_reset_role_from_the_runtime_connection_gains_nothing(database: Database) -> None:
    async with database.engine.connect() as conn:
        await conn.execute(text("RESET ROLE"))
        who = (await conn.execute(text("SELECT session_user, current_user"))).one()
        assert tuple(who) == (APP_ROLE, APP_ROLE)
        flags = (
            await conn.execute(
                text("SELECT rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = :r"),
                {"r": APP_ROLE},
            )
        ).one()
        assert tuple(flags) == (False, False, False)
        owned = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = :r"
                ),
                {"r": APP_ROLE},
            )
        ).scalar_one()
        assert owned == 0
        # With no principal set, RLS shows nothing and refuses writes to the audit log...
        assert (await conn.execute(text("SELECT count(*) FROM customer_verifications"))).scalar_one() == 0
        await conn.rollback()
        with pytest.raises(DBAPIError):
            await conn.execute(
                text("INSERT INTO audit_log (actor_role, action, table_name) VALUES ('admin', 'x', 'y')")
            )
        await conn.rollback()
        # ...the append-only audit log cannot be rewritten even by an admin principal...
        await conn.execute(text("SELECT set_config('callengine.role', 'admin', false)"))
        with pytest.raises(DBAPIError):
            await conn.execute(text("DELETE FROM audit_log"))
        await conn.rollback()
        # ...and no owner role is reachable by SET ROLE.
        owner = (
            await conn.execute(text("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log'"))
        ).scalar_one()
        with pytest.raises(DBAPIError):
            await conn.execute(text(f'SET ROLE "{owner}"'))
        await conn.rollback()


async def test_runtime_without_owner_refuses_an_old_schema(pg_server: PgServer, isolated_pg_url: str) -> None:
    """Nodes never migrate (they have no owner login): an out-of-date schema is a clear error."""
    from engine.errors import ConfigError
    from storage import migrate

    await asyncio.to_thread(migrate.upgrade, isolated_pg_url)
    await asyncio.to_thread(migrate.downgrade, isolated_pg_url, "0004_business")
    with pytest.raises(ConfigError, match="callengine db upgrade"):
        await Database.open(settings_for(pg_server, url=isolated_pg_url), upgrade=False)
    db = await Database.open(settings_for(pg_server, url=isolated_pg_url))  # the owner migrates
    await db.close()
    db = await Database.open(settings_for(pg_server, url=isolated_pg_url), upgrade=False)
    await db.close()
