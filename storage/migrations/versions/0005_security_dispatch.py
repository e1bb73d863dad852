"""Security perimeter: the runtime's own login, and dispatch that dials only the verification's number

Revision ID: 0005_security
Revises: 0004_business
Create Date: 2026-12-02 09:00:00

- ``callengine_app`` (owns nothing, NOSUPERUSER, NOBYPASSRLS) may now LOG IN: the runtime
  connects as it, so no ``RESET ROLE`` leads back to the owner. Giving a role LOGIN needs
  CREATEROLE; an owner without it gets a notice, and an administrator runs
  ``ALTER ROLE callengine_app LOGIN PASSWORD '…'`` once (docs/storage.md).
- ``dispatch_session(…)`` (SECURITY DEFINER) is DispatchCall in one statement: it checks the
  caller's store, the verification, the optional number the caller named (by blind index),
  the store's daily quota and the number's cooldown (serialized by advisory locks), then
  inserts the session with the verification's number copied server-side (ciphertext and
  blind index), its first event and its audit row. Store owners still cannot read
  verifications.
- A session's number is now the verification's ciphertext verbatim (its associated data names
  the verification row), so existing sessions get their verification's number: a session that
  named another number keeps no trace of it, and never dials it.
- The runtime may read ``alembic_version`` (it checks the schema is current without the owner).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.rls import APP_ROLE

revision: str = "0005_security"
down_revision: str | None = "0004_business"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RECORD = """id uuid, customer_verification_id uuid, store_id uuid, session_status text,
    call_initiated_at timestamp, expires_at timestamp, retry_count integer,
    call_connected_at timestamp, call_ended_at timestamp, duration_seconds integer,
    failure_reason text, openai_session_id text, created_at timestamp, next_attempt_at timestamp,
    host_id text, phase text, twilio_call_sid text, updated_at timestamp"""

_SELECT_RECORD = """s.id, s.customer_verification_id, s.store_id, s.session_status::text,
    s.call_initiated_at, s.expires_at, s.retry_count, s.call_connected_at, s.call_ended_at,
    s.duration_seconds, s.failure_reason::text, s.openai_session_id::text, s.created_at,
    s.next_attempt_at, s.host_id::text, s.phase::text, s.twilio_call_sid::text, s.updated_at"""

_EXISTING = f"""SELECT 'existing'::text, NULL::double precision, {_SELECT_RECORD}
    FROM feedback_call_sessions s
   WHERE s.customer_verification_id = p_verification_id AND s.store_id = p_store_id
     AND s.session_status IN ('pending', 'in_progress', 'completed')
   ORDER BY s.created_at DESC LIMIT 1"""

_NULLS = ", ".join(f"NULL::{column.split()[1]}" for column in " ".join(_RECORD.split()).split(", "))

DISPATCH_FUNCTION = f"""
CREATE OR REPLACE FUNCTION dispatch_session(
    p_role text, p_user_id text, p_store_ids text, p_verification_id uuid, p_store_id uuid, p_phone_bidx text, p_new_id uuid,
    p_now timestamp, p_due timestamp, p_expires timestamp,
    p_cooldown_seconds double precision, p_daily_quota integer)
RETURNS TABLE (outcome text, retry_after_seconds double precision, {_RECORD})
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = {{schema}}, pg_temp AS $$
#variable_conflict use_column
DECLARE
  v_store uuid;
  v_phone text;
  v_bidx text;
  n bigint;
  oldest timestamp;
  latest timestamp;
BEGIN
  -- The principal, set for this transaction exactly as Database.transaction sets it: one
  -- autocommit statement then does the whole dispatch (the app role may set these anyway).
  PERFORM set_config('callengine.role', p_role, true), set_config('callengine.user_id', p_user_id, true),
          set_config('callengine.store_ids', p_store_ids, true);
  IF NOT (callengine_privileged()
          OR (callengine_role() = 'store_owner' AND p_store_id = ANY(callengine_store_ids()))) THEN
    RAISE EXCEPTION 'no access to store %', p_store_id USING ERRCODE = '42501';
  END IF;
  -- An idempotent repeat: the live or completed session of this verification (same store).
  RETURN QUERY {_EXISTING};
  IF FOUND THEN RETURN; END IF;

  SELECT cv.store_id, cv.phone_number, cv.phone_bidx INTO v_store, v_phone, v_bidx
    FROM customer_verifications cv WHERE cv.id = p_verification_id;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'no_verification'::text, NULL::double precision, {_NULLS};
    RETURN;
  END IF;
  IF v_store <> p_store_id THEN
    RETURN QUERY SELECT 'wrong_store'::text, NULL::double precision, {_NULLS};
    RETURN;
  END IF;
  IF v_bidx IS NULL OR v_phone = '' THEN
    RETURN QUERY SELECT 'erased'::text, NULL::double precision, {_NULLS};
    RETURN;
  END IF;
  IF p_phone_bidx IS NOT NULL AND p_phone_bidx <> v_bidx THEN
    RETURN QUERY SELECT 'phone_mismatch'::text, NULL::double precision, {_NULLS};
    RETURN;
  END IF;

  -- Limits, serialized: per store (quota), then per number (cooldown). Always in this order,
  -- so two dispatches never wait on each other's locks crosswise.
  PERFORM pg_advisory_xact_lock(hashtextextended('callengine-store:' || p_store_id::text, 0));
  -- Looked again under the lock: a concurrent dispatch of this verification (same store, so
  -- serialized by this lock) may have committed meanwhile; each statement sees the latest.
  RETURN QUERY {_EXISTING};
  IF FOUND THEN RETURN; END IF;
  IF p_daily_quota > 0 THEN
    SELECT count(*), min(q.created_at) INTO n, oldest FROM (
      SELECT s.created_at FROM feedback_call_sessions s
       WHERE s.store_id = p_store_id AND s.created_at > p_now - interval '1 day'
       ORDER BY s.created_at LIMIT p_daily_quota) q;
    IF n >= p_daily_quota THEN
      RETURN QUERY SELECT 'store_quota'::text,
        greatest(0, extract(epoch FROM oldest + interval '1 day' - p_now))::double precision, {_NULLS};
      RETURN;
    END IF;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('callengine-number:' || v_bidx, 0));
  IF p_cooldown_seconds > 0 THEN
    SELECT max(s.created_at) INTO latest FROM feedback_call_sessions s
     WHERE s.phone_bidx = v_bidx AND s.created_at > p_now - make_interval(secs => p_cooldown_seconds);
    IF latest IS NOT NULL THEN
      RETURN QUERY SELECT 'number_cooldown'::text,
        greatest(0, extract(epoch FROM latest + make_interval(secs => p_cooldown_seconds) - p_now))
          ::double precision, {_NULLS};
      RETURN;
    END IF;
  END IF;

  INSERT INTO feedback_call_sessions AS s (id, customer_verification_id, store_id, phone_number,
      phone_bidx, session_status, call_initiated_at, expires_at, retry_count, next_attempt_at,
      created_at, updated_at)
  VALUES (p_new_id, p_verification_id, p_store_id, v_phone, v_bidx, 'pending', p_now, p_expires, 0,
          p_due, p_now, p_now)
  ON CONFLICT (customer_verification_id) WHERE session_status IN ('pending', 'in_progress')
  DO NOTHING;
  IF NOT FOUND THEN  -- lost a race with a concurrent dispatch of this verification
    RETURN QUERY SELECT 'existing'::text, NULL::double precision, {_SELECT_RECORD}
      FROM feedback_call_sessions s
     WHERE s.customer_verification_id = p_verification_id
       AND s.session_status IN ('pending', 'in_progress')
     LIMIT 1;
    RETURN;
  END IF;
  INSERT INTO call_session_events (session_id, store_id, status, phase, detail, at)
  VALUES (p_new_id, p_store_id, 'pending', NULL, 'created', p_now);
  INSERT INTO audit_log (actor_id, actor_role, action, table_name, record_id, detail)
  VALUES (callengine_user_id(), callengine_role(), 'write', 'feedback_call_sessions', p_new_id::text,
          'create');
  RETURN QUERY SELECT 'created'::text, NULL::double precision, {_SELECT_RECORD}
    FROM feedback_call_sessions s WHERE s.id = p_new_id;
END $$;
REVOKE ALL ON FUNCTION dispatch_session(text, text, text, uuid, uuid, text, uuid, timestamp, timestamp, timestamp,
  double precision, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dispatch_session(text, text, text, uuid, uuid, text, uuid, timestamp, timestamp, timestamp,
  double precision, integer) TO {APP_ROLE};
"""

_LOGIN = f"""DO $$ BEGIN
  ALTER ROLE {APP_ROLE} LOGIN;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'cannot give {APP_ROLE} LOGIN (needs CREATEROLE); an administrator must run: '
               'ALTER ROLE {APP_ROLE} LOGIN PASSWORD ''…''';
END $$"""


def upgrade() -> None:
    bind = op.get_bind()
    schema = bind.execute(sa.text("SELECT current_schema()")).scalar_one()
    op.execute(_LOGIN)
    op.execute(DISPATCH_FUNCTION.replace("{schema}", schema))
    op.execute(f"GRANT SELECT ON alembic_version TO {APP_ROLE}")
    # Sessions carry their verification's number (ciphertext bound to the verification row).
    op.execute(
        "UPDATE feedback_call_sessions s SET phone_number = v.phone_number, phone_bidx = v.phone_bidx "
        "FROM customer_verifications v WHERE v.id = s.customer_verification_id AND s.phone_number <> ''"
    )


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION IF EXISTS dispatch_session(text, text, text, uuid, uuid, text, uuid, timestamp, timestamp, "
        "timestamp, double precision, integer)"
    )
    op.execute(f"REVOKE SELECT ON alembic_version FROM {APP_ROLE}")
    # LOGIN stays: roles belong to the whole server (other databases may use this one), and
    # sessions keep their verification's number (the old per-session ciphertexts are gone).
