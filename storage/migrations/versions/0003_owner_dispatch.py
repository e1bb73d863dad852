"""Store owners may dispatch and cancel calls for their own stores

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 11:40:00

The API lets a store owner DispatchCall/CancelCall for their stores. They may
now INSERT/UPDATE feedback_call_sessions and append call_session_events for
those stores; customer_verifications stay unreadable to them (phone numbers):
``verification_store(id)`` (SECURITY DEFINER) returns only a verification's
store, and only for a store the principal may see. Additive: policies and a
function, no table rewrite, no long locks.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.rls import APP_ROLE

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OWN = "callengine_role() = 'store_owner' AND store_id = ANY(callengine_store_ids())"


def upgrade() -> None:
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    op.execute(
        f"CREATE POLICY owner_insert ON feedback_call_sessions FOR INSERT TO {APP_ROLE} WITH CHECK ({_OWN})"
    )
    op.execute(
        f"CREATE POLICY owner_update ON feedback_call_sessions FOR UPDATE TO {APP_ROLE} "
        f"USING ({_OWN}) WITH CHECK ({_OWN})"
    )
    op.execute(
        f"CREATE POLICY owner_insert ON call_session_events FOR INSERT TO {APP_ROLE} WITH CHECK ({_OWN})"
    )
    op.execute(
        f"""CREATE OR REPLACE FUNCTION verification_store(p_id uuid) RETURNS uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
          SELECT store_id FROM customer_verifications
           WHERE id = p_id AND (callengine_privileged() OR store_id = ANY(callengine_store_ids()))
        $$"""
    )
    op.execute("REVOKE ALL ON FUNCTION verification_store(uuid) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION verification_store(uuid) TO {APP_ROLE}")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS verification_store(uuid)")
    op.execute("DROP POLICY IF EXISTS owner_insert ON call_session_events")
    op.execute("DROP POLICY IF EXISTS owner_update ON feedback_call_sessions")
    op.execute("DROP POLICY IF EXISTS owner_insert ON feedback_call_sessions")
