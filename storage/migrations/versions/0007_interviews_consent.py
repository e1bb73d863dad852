"""Consent records per attempt and interview progress per question

Revision ID: 0007_interviews
Revises: 0006_durability
Create Date: 2026-11-29 12:00:00

consent_records: the proof of each attempt's AI disclosure and consent answer
(append-only for the application role, admins and the service only).
interview_progress: which questions a session got answered, so a retry asks
only what is left. Both cascade with their session. Self-contained: the
tables, their row-level security and grants (the RLS helper of 0002 covers
only the tables that existed then).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.rls import APP_ROLE

revision: str = "0007_interviews"
down_revision: str | None = "0006_durability"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC_NOW = sa.text("(now() AT TIME ZONE 'utc')")
_TABLES = ("consent_records", "interview_progress")


def upgrade() -> None:
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("call_session_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("text_version", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("asked_at", sa.DateTime(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), server_default=_UTC_NOW, nullable=False),
        sa.CheckConstraint(
            "answer IN ('granted', 'declined', 'no_answer')", name=op.f("ck_consent_records_answer")
        ),
        sa.CheckConstraint("source IN ('tool', 'inferred')", name=op.f("ck_consent_records_source")),
        sa.CheckConstraint("attempt >= 1 AND attempt <= 10", name=op.f("ck_consent_records_attempt")),
        sa.ForeignKeyConstraint(
            ["call_session_id"],
            ["feedback_call_sessions.id"],
            name=op.f("fk_consent_records_call_session_id_feedback_call_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
        sa.UniqueConstraint("call_session_id", "attempt", name="uq_consent_records_session_attempt"),
    )
    op.create_table(
        "interview_progress",
        sa.Column("call_session_id", sa.Uuid(), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=_UTC_NOW, nullable=False),
        sa.CheckConstraint("status IN ('answered', 'skipped')", name=op.f("ck_interview_progress_status")),
        sa.CheckConstraint("source IN ('tool', 'inferred')", name=op.f("ck_interview_progress_source")),
        sa.ForeignKeyConstraint(
            ["call_session_id"],
            ["feedback_call_sessions.id"],
            name=op.f("fk_interview_progress_call_session_id_feedback_call_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("call_session_id", "question_id", name=op.f("pk_interview_progress")),
    )
    for table in _TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY migration_owner ON {table} TO CURRENT_USER USING (true) WITH CHECK (true)")
        op.execute(
            f"CREATE POLICY privileged_all ON {table} TO {APP_ROLE} "
            "USING (callengine_privileged()) WITH CHECK (callengine_privileged())"
        )
    # Consent proof is append-only for the application: no UPDATE, no DELETE (the session's
    # deletion at the end of its retention cascades, run by the database itself).
    op.execute(f"GRANT SELECT, INSERT ON consent_records TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON interview_progress TO {APP_ROLE}")


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.execute(f"REVOKE ALL ON {table} FROM {APP_ROLE}")
        op.drop_table(table)
