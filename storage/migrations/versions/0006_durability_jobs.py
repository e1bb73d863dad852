"""Durability: the job queue, unique transcript order, per-session leases

Revision ID: 0006_durability
Revises: 0005_security
Create Date: 2026-11-29 02:20:00

- ``jobs``: the engine's one transactional job queue (analysis now, outgoing
  events later), service/admin only under RLS.
- ``conversation_transcripts (call_session_id, message_order)`` becomes
  unique: a retried call continues the order. Sessions that already hold
  duplicate orders (attempts that restarted at 1) are renumbered first, in
  the order the rows were written, so no line is lost.
- ``feedback_call_sessions.lease_expires_at``: renewed by the host holding
  the live call; the reconciler settles a session whose lease ran out.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.rls import APP_ROLE

revision: str = "0006_durability"
down_revision: str | None = "0005_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC_NOW = sa.text("(now() AT TIME ZONE 'utc')")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", postgresql.JSONB(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), server_default=sa.text("'queued'"), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=False), server_default=_UTC_NOW, nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_attempts", sa.Integer(), server_default=sa.text("8"), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=False), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=False), server_default=_UTC_NOW, nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=False), nullable=True),
        sa.CheckConstraint("state IN ('queued', 'running', 'done', 'dead')", name=op.f("ck_jobs_state")),
        sa.CheckConstraint("attempts >= 0 AND max_attempts >= 1", name=op.f("ck_jobs_attempts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("uq_jobs_kind_key", "jobs", ["kind", "idempotency_key"], unique=True)
    op.create_index("idx_jobs_due", "jobs", ["run_at"], postgresql_where=sa.text("state = 'queued'"))
    op.create_index(
        "idx_jobs_running", "jobs", ["locked_until"], postgresql_where=sa.text("state = 'running'")
    )
    op.create_index(
        "idx_jobs_finished", "jobs", ["finished_at"], postgresql_where=sa.text("state IN ('done', 'dead')")
    )
    op.execute("ALTER TABLE jobs ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE jobs FORCE ROW LEVEL SECURITY")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON jobs TO {APP_ROLE}")
    op.execute("CREATE POLICY migration_owner ON jobs TO CURRENT_USER USING (true) WITH CHECK (true)")
    op.execute(
        f"CREATE POLICY privileged_all ON jobs TO {APP_ROLE} "
        "USING (callengine_privileged()) WITH CHECK (callengine_privileged())"
    )

    # Renumber sessions whose attempts reused message_order, then make the order unique.
    op.execute(
        """
        WITH dup AS (
            SELECT DISTINCT call_session_id FROM conversation_transcripts
             GROUP BY call_session_id, message_order HAVING count(*) > 1
        ), renum AS (
            SELECT t.id, row_number() OVER (
                       PARTITION BY t.call_session_id ORDER BY t.created_at, t.message_order, t.id) AS n
              FROM conversation_transcripts t JOIN dup USING (call_session_id)
        )
        UPDATE conversation_transcripts c SET message_order = renum.n FROM renum WHERE c.id = renum.id
        """
    )
    op.drop_index("idx_conversation_transcripts_session_order", table_name="conversation_transcripts")
    op.create_index(
        "idx_conversation_transcripts_session_order",
        "conversation_transcripts",
        ["call_session_id", "message_order"],
        unique=True,
    )

    op.add_column("feedback_call_sessions", sa.Column("lease_expires_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("feedback_call_sessions", "lease_expires_at")
    op.drop_index("idx_conversation_transcripts_session_order", table_name="conversation_transcripts")
    op.create_index(
        "idx_conversation_transcripts_session_order",
        "conversation_transcripts",
        ["call_session_id", "message_order"],
        unique=False,
    )
    op.drop_table("jobs")
