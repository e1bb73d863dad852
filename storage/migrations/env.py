"""Alembic environment: always driven programmatically by :mod:`storage.migrate`.

The caller passes an open SQLAlchemy connection in ``config.attributes``.
Each migration runs in its own transaction with a short ``lock_timeout``, so
a migration against a live database fails fast instead of queueing behind
(and blocking) application traffic.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `callengine db upgrade` (storage.migrate)")

connection.execute(text("SET lock_timeout = '5s'"))
connection.execute(text("SET statement_timeout = '15min'"))
connection.commit()  # session settings stay; alembic now opens one transaction per migration
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    transaction_per_migration=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
