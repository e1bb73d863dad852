"""Run alembic migrations programmatically (no alembic.ini needed, works when installed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from engine.errors import StorageError, UnavailableError

SCRIPT_LOCATION = "storage:migrations"


def driver_url(url: str) -> str:
    """``postgresql://…`` (as users write it) → the psycopg 3 SQLAlchemy URL."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith("postgresql+"):
        raise StorageError("DATABASE_URL: only the psycopg driver is supported (use postgresql://…)")
    raise StorageError("DATABASE_URL: must be a postgresql:// URL")


def _config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.attributes["connection"] = connection
    return cfg


# Serializes migrations across processes (e.g. several Ray actors opening the database at once).
_MIGRATION_LOCK = 0x63616C6C  # "call"


@contextmanager
def _connect(url: str, *, lock: bool = False) -> Iterator[Connection]:
    engine = create_engine(driver_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if lock:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
                conn.commit()  # a session-level lock: held until this connection closes
            yield conn
            conn.commit()
    except OperationalError as exc:
        raise UnavailableError(f"database unreachable: {getattr(exc, 'orig', None) or exc}") from exc
    except SQLAlchemyError as exc:
        raise StorageError(
            f"migration failed: {type(exc).__name__}: {getattr(exc, 'orig', None) or exc}"
        ) from exc
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    with _connect(url, lock=True) as conn:
        command.upgrade(_config(conn), revision)


def downgrade(url: str, revision: str) -> None:
    with _connect(url, lock=True) as conn:
        command.downgrade(_config(conn), revision)


def current(url: str) -> str | None:
    with _connect(url) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str | None:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    return ScriptDirectory.from_config(cfg).get_current_head()


def set_app_password(url: str, password: str) -> None:
    """Give the application role's login this password (as the owner; needs CREATEROLE)."""
    from psycopg import sql

    from storage.rls import APP_ROLE

    with _connect(url) as conn:
        stmt = sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(APP_ROLE), sql.Literal(password))
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute(stmt)  # psycopg composes the literal itself: no placeholder parsing
        # On the driver's own connection: SQLAlchemy's commit would not see this transaction.
        raw.commit()


def chain_problems(script_location: str = SCRIPT_LOCATION) -> list[str]:
    """Why the revisions are not one linear chain (several engineers add revisions at once).

    Empty when there is exactly one head and no branch or merge point.
    """
    cfg = Config()
    cfg.set_main_option("script_location", script_location)
    script = ScriptDirectory.from_config(cfg)
    problems = []
    heads = script.get_heads()
    if len(heads) != 1:
        problems.append(
            f"{len(heads)} heads {sorted(heads)}: chain the newer revision onto the other "
            "(set its down_revision) instead of onto their common parent"
        )
    for rev in script.walk_revisions():
        if rev.is_branch_point:
            problems.append(f"revision {rev.revision} has several children {sorted(rev.nextrev)}")
        if rev.is_merge_point:
            problems.append(f"revision {rev.revision} merges {rev.down_revision}: keep the chain linear")
    return problems
