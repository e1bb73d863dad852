"""Row-level security: the application role, principal functions, policies, grants.

Used by the migrations (so the SQL is versioned with the schema). Policies
read the principal that :meth:`storage.Database.transaction` sets with
``set_config(..., is_local => true)``. The migration owner (``CURRENT_USER``
at migration time) gets an unrestricted policy, used by the SECURITY DEFINER
statistics functions; the application role ``callengine_app`` gets the
seed's rules. ``FORCE ROW LEVEL SECURITY`` applies them to the owner too.
"""

from __future__ import annotations

APP_ROLE = "callengine_app"

PRINCIPAL_FUNCTIONS = """
CREATE OR REPLACE FUNCTION callengine_role() RETURNS text LANGUAGE sql STABLE AS
$$ SELECT coalesce(current_setting('callengine.role', true), '') $$;
CREATE OR REPLACE FUNCTION callengine_user_id() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('callengine.user_id', true), '')::uuid $$;
CREATE OR REPLACE FUNCTION callengine_store_ids() RETURNS uuid[] LANGUAGE sql STABLE AS
$$ SELECT coalesce(nullif(current_setting('callengine.store_ids', true), '')::uuid[], '{}'::uuid[]) $$;
CREATE OR REPLACE FUNCTION callengine_privileged() RETURNS boolean LANGUAGE sql STABLE AS
$$ SELECT callengine_role() IN ('admin', 'service') $$;
"""

# table -> owner-visible predicate (store owners may SELECT rows matching it); None = admin/service only
OWNER_READ: dict[str, str | None] = {
    "businesses": "id IN (SELECT business_id FROM stores WHERE id = ANY(callengine_store_ids()))",
    "business_users": "id = callengine_user_id()",
    "stores": "id = ANY(callengine_store_ids())",
    "customer_verifications": None,
    "feedback_call_sessions": "store_id = ANY(callengine_store_ids())",
    "call_session_events": "store_id = ANY(callengine_store_ids())",
    "conversation_transcripts": None,
    "quality_assessments": "store_id = ANY(callengine_store_ids())",
    "business_context_profiles": "store_id = ANY(callengine_store_ids())",
    "weekly_analysis_reports": "store_id = ANY(callengine_store_ids())",
    "call_quality_metrics": None,
    "fraud_detection_results": None,
    "phone_opt_outs": None,
}

STATISTICS_FUNCTIONS = """
CREATE OR REPLACE FUNCTION fraud_statistics(p_store_id uuid, p_since timestamp, p_until timestamp)
RETURNS TABLE (check_type text, total bigint, suspicious bigint, manual_review bigint,
               confirmed_fraud bigint, false_positive bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
BEGIN
  IF NOT (callengine_privileged() OR p_store_id = ANY(callengine_store_ids())) THEN
    RAISE EXCEPTION 'permission denied for store statistics' USING ERRCODE = '42501';
  END IF;
  RETURN QUERY
    SELECT f.check_type::text, count(*), count(*) FILTER (WHERE f.is_suspicious),
           count(*) FILTER (WHERE f.manual_review_required),
           count(*) FILTER (WHERE f.review_decision = 'confirmed_fraud'),
           count(*) FILTER (WHERE f.review_decision = 'false_positive')
      FROM fraud_detection_results f
      JOIN feedback_call_sessions s ON s.id = f.call_session_id
     WHERE s.store_id = p_store_id AND f.created_at >= p_since AND f.created_at < p_until
     GROUP BY f.check_type ORDER BY f.check_type;
END $$;
REVOKE ALL ON FUNCTION fraud_statistics(uuid, timestamp, timestamp) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_statistics(uuid, timestamp, timestamp) TO {app};

CREATE OR REPLACE FUNCTION call_quality_statistics(p_store_id uuid, p_since timestamp, p_until timestamp)
RETURNS TABLE (connection_quality text, calls bigint, avg_latency_ms numeric, avg_packet_loss numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
BEGIN
  IF NOT (callengine_privileged() OR p_store_id = ANY(callengine_store_ids())) THEN
    RAISE EXCEPTION 'permission denied for store statistics' USING ERRCODE = '42501';
  END IF;
  RETURN QUERY
    SELECT m.connection_quality::text, count(*), round(avg(m.latency_ms), 1),
           round(avg(m.packet_loss_percentage), 2)
      FROM call_quality_metrics m
      JOIN feedback_call_sessions s ON s.id = m.call_session_id
     WHERE s.store_id = p_store_id AND m.measured_at >= p_since AND m.measured_at < p_until
     GROUP BY m.connection_quality ORDER BY m.connection_quality;
END $$;
REVOKE ALL ON FUNCTION call_quality_statistics(uuid, timestamp, timestamp) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION call_quality_statistics(uuid, timestamp, timestamp) TO {app};
"""


def create_role_sql() -> list[str]:
    return [
        f"""DO $$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
              END IF;
            END $$""",
        # lets the connecting user switch to the role (options=-c role=...); skipped when an
        # administrator already granted it (a user without CREATEROLE could not re-grant)
        f"""DO $$ BEGIN
              IF NOT pg_has_role(current_user, '{APP_ROLE}', 'MEMBER') THEN
                EXECUTE 'GRANT {APP_ROLE} TO ' || quote_ident(current_user);
              END IF;
            END $$""",
        f"GRANT USAGE ON SCHEMA {{schema}} TO {APP_ROLE}",
    ]


def enable_sql(schema: str) -> list[str]:
    """Statements enabling RLS with the policies and grants for every table."""
    stmts = [s.format(schema=schema) for s in create_role_sql()]
    stmts.append(PRINCIPAL_FUNCTIONS)
    for table, owner_pred in OWNER_READ.items():
        stmts += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}",
            f"CREATE POLICY migration_owner ON {table} TO CURRENT_USER USING (true) WITH CHECK (true)",
        ]
        if table == "business_context_profiles":
            # service writes; admins read for support; owners read and version their own stores
            stmts += [
                f"CREATE POLICY service_all ON {table} TO {APP_ROLE} USING (callengine_role() = 'service') "
                "WITH CHECK (callengine_role() = 'service')",
                f"CREATE POLICY admin_read ON {table} FOR SELECT TO {APP_ROLE} USING (callengine_role() = 'admin')",
                f"CREATE POLICY owner_insert ON {table} FOR INSERT TO {APP_ROLE} "
                f"WITH CHECK (callengine_role() = 'store_owner' AND {owner_pred})",
            ]
        else:
            stmts.append(
                f"CREATE POLICY privileged_all ON {table} TO {APP_ROLE} "
                "USING (callengine_privileged()) WITH CHECK (callengine_privileged())"
            )
        if owner_pred is not None:
            stmts.append(
                f"CREATE POLICY owner_read ON {table} FOR SELECT TO {APP_ROLE} "
                f"USING (callengine_role() = 'store_owner' AND {owner_pred})"
            )
    # audit_log: append-only for the app role; readable by admins only
    stmts += [
        "ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE audit_log FORCE ROW LEVEL SECURITY",
        f"GRANT SELECT, INSERT ON audit_log TO {APP_ROLE}",
        "CREATE POLICY migration_owner ON audit_log TO CURRENT_USER USING (true) WITH CHECK (true)",
        f"CREATE POLICY append ON audit_log FOR INSERT TO {APP_ROLE} WITH CHECK (callengine_role() <> '')",
        f"CREATE POLICY admin_read ON audit_log FOR SELECT TO {APP_ROLE} USING (callengine_role() = 'admin')",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {APP_ROLE}",
        STATISTICS_FUNCTIONS.format(schema=schema, app=APP_ROLE),
    ]
    return stmts


def disable_sql() -> list[str]:
    stmts = [
        "DROP FUNCTION IF EXISTS fraud_statistics(uuid, timestamp, timestamp)",
        "DROP FUNCTION IF EXISTS call_quality_statistics(uuid, timestamp, timestamp)",
    ]
    stmts += [
        f"DROP FUNCTION IF EXISTS {name}()"
        for name in ("callengine_privileged", "callengine_role", "callengine_user_id", "callengine_store_ids")
    ]
    return stmts
