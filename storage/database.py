"""``Database``: one code path for the embedded server and ``DATABASE_URL``.

Two logins. The *owner* (``DATABASE_URL``, or the embedded server's superuser)
owns the schema and is used only to migrate (``callengine db …``, and the
embedded/local start-up). The runtime pool logs in *as the application role*
``callengine_app`` itself, which owns nothing and has neither SUPERUSER nor
BYPASSRLS, so PostgreSQL enforces RLS on every query the engine makes and no
``SET ROLE``/``RESET ROLE`` leads anywhere better. Its URL is
``DATABASE_APP_URL``, or ``DATABASE_URL`` with that user and
``CALLENGINE_DB_APP_PASSWORD``. Each ``transaction(principal)`` is a fresh
``AsyncSession`` with the principal set via ``set_config(..., true)`` (the
``SET LOCAL`` equivalent that takes bind parameters).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from engine.clock import Clock, SystemClock, clock_from_settings
from engine.config import DatabaseSettings, Settings
from engine.errors import CallEngineError, ConfigError, UnavailableError
from storage import embedded, keys, migrate
from storage.crypto import BlindIndex, KeyRing, normalize_phone
from storage.dispatch_pool import DispatchPool
from storage.errors import translate
from storage.principal import Principal
from storage.records import CallSessionRecord
from storage.repositories._common import aware
from storage.repositories._dispatch import (
    DispatchLimits,
    dispatch_params,
    dispatch_result_raw,
    dispatch_sql,
)
from storage.rls import APP_ROLE
from storage.tx import EventSinks, Tx
from storage.types import attach_keyring

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
"""An unreachable server fails a connect in seconds (then UnavailableError, retried by callers)."""
POOL_TIMEOUT_S = 10.0
STATEMENT_TIMEOUT_MS = 30_000
"""No engine statement runs longer (bulk work such as retention runs in bounded batches)."""
LOCK_TIMEOUT_MS = 10_000
IDLE_TX_TIMEOUT_MS = 60_000

_OPTIONS = (
    f"-c timezone=UTC -c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={LOCK_TIMEOUT_MS} "
    f"-c idle_in_transaction_session_timeout={IDLE_TX_TIMEOUT_MS}"
)

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
        *,
        clock: Clock | None = None,
        sinks: EventSinks = EventSinks(),
    ) -> None:
        self.engine = engine
        self.clock: Clock = clock or SystemClock()
        """The engine's clock: every time this process stores comes from it (``tx.now()``)."""
        self.sinks = sinks
        self.owner_url = owner_url
        self.keyring = keyring
        self.blind_index = blind_index
        self.embedded_pgdata = pgdata
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self._closed = False
        self._dispatch_pool: DispatchPool | None = None

    @classmethod
    async def open(cls, settings: Settings, *, upgrade: bool = True, clock: Clock | None = None) -> Database:
        """Start/reuse the embedded server or use ``DATABASE_URL``; migrate (``upgrade``, as the
        owner); connect the pool as the application role's own login.

        ``clock``: the time this process stores (default: the settings' clock, which follows
        ``CALLENGINE_CLOCK_OFFSET_FILE``). Emitted events get one delivery job per endpoint
        of ``settings.events``.
        """
        db_settings = settings.database
        pgdata: Path | None = None
        external = bool(db_settings.url or db_settings.app_url)
        if external:
            keyring, blind = keys.load(db_settings, embedded=False)
            owner_url = db_settings.url or ""
        else:
            keyring, blind = keys.load(db_settings, embedded=True)
            pgdata = db_settings.data_dir / "pgdata"
            owner_url = await asyncio.to_thread(embedded.acquire, pgdata)
        try:
            if upgrade:
                if not owner_url:
                    raise ConfigError("migrating needs the owner's DATABASE_URL")
                await asyncio.to_thread(_upgrade_if_needed, owner_url)
                password = db_settings.app_password.get()
                if password:
                    await asyncio.to_thread(migrate.set_app_password, owner_url, password)
            login = app_url(db_settings, owner_url)
            engine = create_async_engine(
                migrate.driver_url(login),
                pool_size=db_settings.pool_size,
                max_overflow=db_settings.pool_size,
                # A connection that died with the server (restart, failover) is replaced
                # on checkout instead of failing the first statement after an outage.
                pool_pre_ping=True,
                pool_timeout=POOL_TIMEOUT_S,
                connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "options": _OPTIONS},
            )
            attach_keyring(engine.dialect, keyring)
            db = cls(
                engine,
                owner_url,
                keyring,
                blind,
                pgdata,
                clock=clock or clock_from_settings(settings),
                sinks=event_sinks(settings),
            )
            db._dispatch_pool = DispatchPool(
                _libpq_url(login),
                size=db_settings.pool_size,
                options=_OPTIONS,
                connect_timeout=CONNECT_TIMEOUT_S,
                wait_s=POOL_TIMEOUT_S,
            )
            await db._check_role()
            if not upgrade:
                await db._check_schema()
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
                            "SELECT session_user, r.rolsuper, r.rolbypassrls, current_user "
                            "FROM pg_roles r WHERE r.rolname = session_user"
                        )
                    )
                ).one()
        except SQLAlchemyError as exc:
            await self.engine.dispose()
            raise translate(exc) from exc
        # The *login* must be the restricted role: a RESET ROLE returns to the session user.
        if row[0] != APP_ROLE or row[3] != APP_ROLE or row[1] or row[2]:
            await self.engine.dispose()
            raise UnavailableError(
                f"application connection is not the restricted role {APP_ROLE}", retryable=False
            )

    async def _check_schema(self) -> None:
        """Without migrating (no owner at hand), insist the schema is the one this code needs."""
        want = migrate.head()
        try:
            async with self.engine.connect() as conn:
                have = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        except SQLAlchemyError:
            have = None
        if have != want:
            await self.engine.dispose()
            raise ConfigError(
                f"database schema is at {have or 'an older revision'}, this engine needs {want}: "
                "run `callengine db upgrade` (as the owner, DATABASE_URL) first"
            )

    async def close(self) -> None:
        """Dispose the pool; release the embedded server (stopped if we started it and are last)."""
        if self._closed:
            return
        self._closed = True
        if self._dispatch_pool is not None:
            await self._dispatch_pool.close()
        await self.engine.dispose()
        if self.embedded_pgdata is not None:
            await asyncio.to_thread(embedded.release, self.embedded_pgdata)

    async def dispatch(
        self,
        principal: Principal,
        verification_id: uuid.UUID,
        store_id: uuid.UUID,
        phone: str | None,
        not_before: dt.datetime | None,
        now: dt.datetime,
        limits: DispatchLimits,
    ) -> CallSessionRecord:
        """DispatchCall's write: :meth:`SessionRepository.create_pending` as ONE autocommit
        statement (one round trip; the statement sets the principal itself), prepared, on the
        dispatch pool's raw connections (:mod:`storage.dispatch_pool`)."""
        aware("now", now)
        due = max(aware("not_before", not_before), now) if not_before else now
        bidx = self.blind_index.of(normalize_phone(phone)) if phone is not None else None
        params = dispatch_params(principal, verification_id, store_id, bidx, now, due, limits)
        if self._dispatch_pool is None or self._closed:
            raise UnavailableError("database is closed")
        try:
            row = await self._dispatch_pool.fetch_one(dispatch_sql(), params)
        except psycopg.Error as exc:
            raise translate(exc) from exc
        return dispatch_result_raw(row, limits)

    @asynccontextmanager
    async def transaction(self, principal: Principal) -> AsyncIterator[Tx]:
        """One transaction as ``principal``; commits on success, rolls back on any error.

        Driver errors come out as engine errors (see :func:`storage.errors.translate`).
        """
        session = self._sessions()
        try:
            async with session.begin():
                await session.execute(_SET_PRINCIPAL, principal.settings())
                tx = Tx(
                    session, principal, self.blind_index, self.keyring, clock=self.clock, sinks=self.sinks
                )
                yield tx
                await tx.flush_audit()
        except CallEngineError:
            raise
        except (SQLAlchemyError, DBAPIError) as exc:
            raise translate(exc) from exc
        finally:
            await session.close()


def _libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://…``) as a libpq one for a raw psycopg connection."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def event_sinks(settings: Settings) -> EventSinks:
    from engine.events.endpoints import parse_endpoints

    ev = settings.events
    names = tuple(parse_endpoints(ev.webhook_endpoints, ev.webhook_secrets))
    return EventSinks(names, ev.webhook_max_attempts)


def app_url(db_settings: DatabaseSettings, owner_url: str) -> str:
    """The runtime's login URL: ``DATABASE_APP_URL``, else the owner's URL as ``callengine_app``.

    A password in neither the app URL nor the settings is left out (embedded mode trusts
    local socket logins; a server may use a client certificate or ``.pgpass``).
    """
    password = db_settings.app_password.get()
    if db_settings.app_url:
        url = make_url(db_settings.app_url)
        if url.password is None and password:
            url = url.set(password=password)
        return url.render_as_string(hide_password=False)
    url = make_url(owner_url).set(username=APP_ROLE, password=password or None)
    return url.render_as_string(hide_password=False)


def _upgrade_if_needed(owner_url: str) -> None:
    if migrate.current(owner_url) != migrate.head():
        log.info("migrating database schema to %s", migrate.head())
        migrate.upgrade(owner_url)
