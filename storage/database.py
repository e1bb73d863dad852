"""``Database``: one code path for the embedded server and ``DATABASE_URL``.

Opening bootstraps as the owner (migrate to head, which also creates the
non-superuser application role), then connects the pool *as the application
role* (``options=-c role=callengine_app``), so PostgreSQL enforces RLS on
every query the engine makes. Each ``transaction(principal)`` is a fresh
``AsyncSession`` with the principal set via ``set_config(..., true)`` (the
``SET LOCAL`` equivalent that takes bind parameters).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from engine.config import Settings
from engine.errors import CallEngineError, UnavailableError
from storage import embedded, keys, migrate
from storage.crypto import BlindIndex, KeyRing
from storage.errors import translate
from storage.principal import Principal
from storage.rls import APP_ROLE
from storage.tx import Tx
from storage.types import attach_keyring

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
"""An unreachable server fails a connect in seconds (then UnavailableError, retried by callers)."""
POOL_TIMEOUT_S = 10.0
STATEMENT_TIMEOUT_MS = 30_000
"""No engine statement runs longer (bulk work such as retention runs in bounded batches)."""
LOCK_TIMEOUT_MS = 10_000
IDLE_TX_TIMEOUT_MS = 60_000

_SET_PRINCIPAL = text(
    "SELECT set_config('callengine.role', :role, true), set_config('callengine.user_id', :user_id, true), "
    "set_config('callengine.store_ids', :store_ids, true)"
)


class Database:
    """The engine's database: owner URL for maintenance, app-role pool for everything else."""

    def __init__(
        self,
        engine: AsyncEngine,
        owner_url: str,
        keyring: KeyRing,
        blind_index: BlindIndex,
        pgdata: Path | None,
    ) -> None:
        self.engine = engine
        self.owner_url = owner_url
        self.keyring = keyring
        self.blind_index = blind_index
        self.embedded_pgdata = pgdata
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self._closed = False

    @classmethod
    async def open(cls, settings: Settings, *, upgrade: bool = True) -> Database:
        """Start/reuse the embedded server or use ``DATABASE_URL``; migrate; connect as the app role."""
        db_settings = settings.database
        pgdata: Path | None = None
        if db_settings.url:
            keyring, blind = keys.load(db_settings, embedded=False)
            owner_url = db_settings.url
        else:
            keyring, blind = keys.load(db_settings, embedded=True)
            pgdata = db_settings.data_dir / "pgdata"
            owner_url = await asyncio.to_thread(embedded.acquire, pgdata)
        try:
            if upgrade:
                await asyncio.to_thread(_upgrade_if_needed, owner_url)
            engine = create_async_engine(
                migrate.driver_url(owner_url),
                pool_size=db_settings.pool_size,
                max_overflow=db_settings.pool_size,
                # A connection that died with the server (restart, failover) is replaced
                # on checkout instead of failing the first statement after an outage.
                pool_pre_ping=True,
                pool_timeout=POOL_TIMEOUT_S,
                connect_args={
                    "connect_timeout": CONNECT_TIMEOUT_S,
                    "options": f"-c role={APP_ROLE} -c timezone=UTC "
                    f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={LOCK_TIMEOUT_MS} "
                    f"-c idle_in_transaction_session_timeout={IDLE_TX_TIMEOUT_MS}",
                },
            )
            attach_keyring(engine.dialect, keyring)
            db = cls(engine, owner_url, keyring, blind, pgdata)
            await db._check_role()
        except BaseException:
            if pgdata is not None:
                await asyncio.to_thread(embedded.release, pgdata)
            raise
        return db

    async def _check_role(self) -> None:
        try:
            async with self.engine.connect() as conn:
                row = (
                    await conn.execute(
                        text(
                            "SELECT current_user, r.rolsuper, r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user"
                        )
                    )
                ).one()
        except SQLAlchemyError as exc:
            await self.engine.dispose()
            raise translate(exc) from exc
        if row[0] != APP_ROLE or row[1] or row[2]:
            await self.engine.dispose()
            raise UnavailableError(
                f"application connection is not the restricted role {APP_ROLE}", retryable=False
            )

    async def close(self) -> None:
        """Dispose the pool; release the embedded server (stopped if we started it and are last)."""
        if self._closed:
            return
        self._closed = True
        await self.engine.dispose()
        if self.embedded_pgdata is not None:
            await asyncio.to_thread(embedded.release, self.embedded_pgdata)

    @asynccontextmanager
    async def transaction(self, principal: Principal) -> AsyncIterator[Tx]:
        """One transaction as ``principal``; commits on success, rolls back on any error.

        Driver errors come out as engine errors (see :func:`storage.errors.translate`).
        """
        session = self._sessions()
        try:
            async with session.begin():
                await session.execute(_SET_PRINCIPAL, principal.settings())
                tx = Tx(session, principal, self.blind_index, self.keyring)
                yield tx
                await tx.flush_audit()
        except CallEngineError:
            raise
        except (SQLAlchemyError, DBAPIError) as exc:
            raise translate(exc) from exc
        finally:
            await session.close()


def _upgrade_if_needed(owner_url: str) -> None:
    if migrate.current(owner_url) != migrate.head():
        log.info("migrating database schema to %s", migrate.head())
        migrate.upgrade(owner_url)
