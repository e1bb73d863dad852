"""Reward ledger and store currency

Revision ID: 0004_business
Revises: 0003
Create Date: 2026-11-29 10:00:00

- ``stores.currency``: the ISO 4217 code of the store's purchase amounts (default
  SEK). A column with a constant default: no table rewrite (PostgreSQL 11+).
- ``reward_ledger``: one entry per assessed call (engine/rewards). Admins and the
  service read and write it; store owners get only ``reward_totals()`` for their
  own stores (SECURITY DEFINER, like the statistics functions). No DELETE grant:
  entries are bookkeeping records and hold no personal data.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.rls import APP_ROLE

revision: str = "0004_business"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC_NOW = sa.text("(now() AT TIME ZONE 'utc')")


def upgrade() -> None:
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    op.add_column(
        "stores", sa.Column("currency", sa.String(length=3), server_default=sa.text("'SEK'"), nullable=False)
    )
    op.create_check_constraint(op.f("ck_stores_currency"), "stores", "currency ~ '^[A-Z]{3}$'")
    op.create_table(
        "reward_ledger",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("call_session_id", sa.Uuid(), nullable=False),
        sa.Column("assessment_id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("purchase_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reward_percentage", sa.Numeric(precision=4, scale=2), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("state_reason", sa.String(length=40), nullable=False),
        sa.Column("settlement_reference", sa.String(length=100), nullable=True),
        sa.Column("settled_by", sa.Uuid(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=False), server_default=_UTC_NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=False), server_default=_UTC_NOW, nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'under_review', 'approved', 'withheld', 'paid')",
            name=op.f("ck_reward_ledger_state"),
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_reward_ledger_amount")),
        sa.CheckConstraint("purchase_amount >= 0", name=op.f("ck_reward_ledger_purchase_amount")),
        sa.CheckConstraint(
            "reward_percentage IS NULL OR (reward_percentage >= 2 AND reward_percentage <= 15)",
            name=op.f("ck_reward_ledger_reward_percentage"),
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_reward_ledger_currency")),
        sa.CheckConstraint(
            "state <> 'withheld' OR amount = 0", name=op.f("ck_reward_ledger_withheld_pays_nothing")
        ),
        sa.CheckConstraint(
            "(state = 'paid') = (paid_at IS NOT NULL AND settlement_reference IS NOT NULL)",
            name=op.f("ck_reward_ledger_paid"),
        ),
        sa.ForeignKeyConstraint(
            ["call_session_id"],
            ["feedback_call_sessions.id"],
            name=op.f("fk_reward_ledger_call_session_id_feedback_call_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["quality_assessments.id"],
            name=op.f("fk_reward_ledger_assessment_id_quality_assessments"),
        ),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_reward_ledger_store_id_stores")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_ledger")),
    )
    op.create_index("uq_reward_ledger_session", "reward_ledger", ["call_session_id"], unique=True)
    op.create_index("idx_reward_ledger_store_created", "reward_ledger", ["store_id", "created_at"])
    op.create_index("idx_reward_ledger_state_updated", "reward_ledger", ["state", "updated_at"])
    for stmt in (
        "ALTER TABLE reward_ledger ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE reward_ledger FORCE ROW LEVEL SECURITY",
        f"GRANT SELECT, INSERT, UPDATE ON reward_ledger TO {APP_ROLE}",
        "CREATE POLICY migration_owner ON reward_ledger TO CURRENT_USER USING (true) WITH CHECK (true)",
        f"CREATE POLICY privileged_all ON reward_ledger TO {APP_ROLE} "
        "USING (callengine_privileged()) WITH CHECK (callengine_privileged())",
        f"""CREATE OR REPLACE FUNCTION reward_totals(p_store_id uuid, p_since timestamp, p_until timestamp)
        RETURNS TABLE (state text, currency text, entries bigint, amount numeric)
        LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
        BEGIN
          IF NOT (callengine_privileged() OR p_store_id = ANY(callengine_store_ids())) THEN
            RAISE EXCEPTION 'permission denied for store statistics' USING ERRCODE = '42501';
          END IF;
          RETURN QUERY
            SELECT r.state::text, r.currency::text, count(*), sum(r.amount)
              FROM reward_ledger r
             WHERE r.store_id = p_store_id AND r.created_at >= p_since AND r.created_at < p_until
             GROUP BY r.state, r.currency ORDER BY r.state, r.currency;
        END $$""",
        "REVOKE ALL ON FUNCTION reward_totals(uuid, timestamp, timestamp) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION reward_totals(uuid, timestamp, timestamp) TO {APP_ROLE}",
    ):
        op.execute(stmt)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS reward_totals(uuid, timestamp, timestamp)")
    op.drop_table("reward_ledger")
    op.drop_constraint(op.f("ck_stores_currency"), "stores", type_="check")
    op.drop_column("stores", "currency")
