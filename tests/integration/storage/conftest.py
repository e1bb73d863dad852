"""Helpers for storage integration tests: raw SQL as the application role or the owner."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from storage.rls import APP_ROLE
from tests.fixtures.postgres import PgServer


@contextmanager
def raw(url: str, *, db_role: str | None = APP_ROLE, **settings: str) -> Iterator[psycopg.Connection]:
    """A psycopg connection (as the app role unless db_role=None) with callengine.* settings."""
    options = f"-c role={db_role}" if db_role else ""
    with psycopg.connect(url, options=options, autocommit=False) as conn:
        for key, value in settings.items():
            conn.execute("SELECT set_config(%s, %s, false)", (f"callengine.{key}", value))
        yield conn
        conn.rollback()


@pytest.fixture
def owner_url(pg_server: PgServer) -> str:
    return pg_server.owner_url
