"""Events to backend services: the outbox table, emit_event(), audit rows stamped by the engine's clock

Revision ID: 0008_events
Revises: 0007_interviews
Create Date: 2026-12-06 10:00:00

- ``events``: one row per thing that happened (call settled, assessment stored, fraud
  verdict, reward changed, report ready), written in the transaction of the change;
  ``id`` = ``type:subject:version`` is the idempotency key. Ordered for readers by
  ``(tx_id, seq)``. Store owners read their own stores' events (WatchEvents); nobody
  inserts directly.
- ``emit_event(…)`` (SECURITY DEFINER): checks the caller may act for the store, numbers
  the subject's next version under an advisory lock, inserts the event and one
  ``events.webhook`` job per endpoint (so a store owner's CancelCall can emit too,
  while the jobs table stays privileged), and notifies the job runners and feed readers.
- ``dispatch_session(…)`` stamps its audit row with the engine's time (``p_now``)
  instead of the column default, like every other audit row now.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.rls import APP_ROLE

revision: str = "0008_events"
down_revision: str | None = "0007_interviews"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EMIT_SIGNATURE = "emit_event(text, uuid, text, timestamp, jsonb, text[], integer)"
EMIT_FUNCTION = """
CREATE OR REPLACE FUNCTION emit_event(
    p_type text, p_store_id uuid, p_subject text, p_occurred_at timestamp, p_payload jsonb,
    p_endpoints text[], p_max_attempts integer)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
DECLARE
  v_version integer;
  v_id text;
BEGIN
  IF NOT (callengine_privileged() OR p_store_id = ANY(callengine_store_ids())) THEN
    RAISE EXCEPTION 'no access to store %', p_store_id USING ERRCODE = '42501';
  END IF;
  -- Versions of one subject are numbered one after another: concurrent writers queue here.
  PERFORM pg_advisory_xact_lock(hashtextextended('callengine-event:' || p_type || ':' || p_subject, 0));
  SELECT coalesce(max(e.version), 0) + 1 INTO v_version
    FROM events e WHERE e.type = p_type AND e.subject = p_subject;
  v_id := p_type || ':' || p_subject || ':' || v_version;
  INSERT INTO events (id, tx_id, type, store_id, subject, version, occurred_at, payload)
  VALUES (v_id, pg_current_xact_id()::text::bigint, p_type, p_store_id, p_subject, v_version,
          p_occurred_at, p_payload);
  INSERT INTO jobs (kind, payload, idempotency_key, state, run_at, attempts, max_attempts, created_at)
  SELECT 'events.webhook', jsonb_build_object('event_id', v_id, 'endpoint', e),
         'events.webhook:' || e || ':' || v_id, 'queued', p_occurred_at, 0, p_max_attempts, p_occurred_at
    FROM unnest(p_endpoints) AS e
  ON CONFLICT (kind, idempotency_key) DO NOTHING;
  IF cardinality(p_endpoints) > 0 THEN
    PERFORM pg_notify('callengine_jobs', 'events.webhook');
  END IF;
  PERFORM pg_notify('callengine_events', p_store_id::text);
  RETURN v_id;
END $$;
"""

_AUDIT_OLD = "INSERT INTO audit_log (actor_id, actor_role, action, table_name, record_id, detail)\n  VALUES ("
_AUDIT_NEW = "INSERT INTO audit_log (at, actor_id, actor_role, action, table_name, record_id, detail)\n  VALUES (p_now, "


def _restamp_dispatch_audit(old: str, new: str) -> None:
    """Rewrite dispatch_session's audit INSERT in place (whatever else its current body holds)."""
    bind = op.get_bind()
    definition = bind.execute(
        sa.text(
            "SELECT pg_get_functiondef(p.oid) FROM pg_proc p "
            "WHERE p.proname = 'dispatch_session' AND p.pronamespace = current_schema()::regnamespace"
        )
    ).scalar_one()
    if old not in definition:
        raise RuntimeError("dispatch_session's audit INSERT is not the expected statement")
    op.execute(definition.replace(old, new))


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("tx_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_events_version")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index("uq_events_seq", "events", ["seq"], unique=True)
    op.create_index("uq_events_subject_version", "events", ["type", "subject", "version"], unique=True)
    op.create_index("idx_events_feed", "events", ["tx_id", "seq"])
    op.create_index("idx_events_store_feed", "events", ["store_id", "tx_id", "seq"])
    op.create_index("idx_events_occurred", "events", ["occurred_at"])
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    for stmt in (
        "ALTER TABLE events ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE events FORCE ROW LEVEL SECURITY",
        # Written only through emit_event(); the app reads (feed, deliveries) and purges (retention).
        f"GRANT SELECT, DELETE ON events TO {APP_ROLE}",
        "CREATE POLICY migration_owner ON events TO CURRENT_USER USING (true) WITH CHECK (true)",
        f"CREATE POLICY privileged_all ON events TO {APP_ROLE} USING (callengine_privileged())",
        f"CREATE POLICY owner_read ON events FOR SELECT TO {APP_ROLE} "
        "USING (callengine_role() = 'store_owner' AND store_id = ANY(callengine_store_ids()))",
        EMIT_FUNCTION.replace("{schema}", schema),
        f"REVOKE ALL ON FUNCTION {_EMIT_SIGNATURE} FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {_EMIT_SIGNATURE} TO {APP_ROLE}",
    ):
        op.execute(stmt)
    _restamp_dispatch_audit(_AUDIT_OLD, _AUDIT_NEW)


def downgrade() -> None:
    _restamp_dispatch_audit(_AUDIT_NEW, _AUDIT_OLD)
    op.execute(f"DROP FUNCTION IF EXISTS {_EMIT_SIGNATURE}")
    op.execute("DELETE FROM jobs WHERE kind = 'events.webhook'")
    op.drop_table("events")
