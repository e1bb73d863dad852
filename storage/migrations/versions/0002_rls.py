"""Row-level security, the application role, principal and statistics functions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 11:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage import rls

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    schema = bind.execute(sa.text("SELECT current_schema()")).scalar_one()
    for stmt in rls.enable_sql(schema):
        op.execute(stmt)


def downgrade() -> None:
    bind = op.get_bind()
    tables = [*rls.OWNER_READ, "audit_log"]
    for table in tables:
        policies = bind.execute(
            sa.text(
                "SELECT policyname FROM pg_policies WHERE tablename = :t AND schemaname = current_schema()"
            ),
            {"t": table},
        ).scalars()
        for name in list(policies):
            op.execute(f'DROP POLICY "{name}" ON {table}')
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute(f"REVOKE ALL ON {table} FROM {rls.APP_ROLE}")
    schema = bind.execute(sa.text("SELECT current_schema()")).scalar_one()
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {rls.APP_ROLE}")
    for stmt in rls.disable_sql():
        op.execute(stmt)
