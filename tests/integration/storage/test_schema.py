"""The database schema matches the seed tables (storage/models/seed.py), column by column."""

from __future__ import annotations

from storage import migrate
from tests.integration.storage.conftest import raw

TS = "timestamp without time zone"
NOW = "now()"
# (column, type, nullable, default contains) per seed table; engine additions listed separately
SEED: dict[str, list[tuple[str, str, bool, str | None]]] = {
    "feedback_call_sessions": [
        ("id", "uuid", False, None),
        ("customer_verification_id", "uuid", False, None),
        ("store_id", "uuid", False, None),
        ("phone_number", "text", False, None),  # VARCHAR(20) in the seed: ciphertext does not fit
        ("session_status", "character varying(20)", False, None),
        ("call_initiated_at", TS, False, None),
        ("call_connected_at", TS, True, None),
        ("call_ended_at", TS, True, None),
        ("duration_seconds", "integer", True, None),
        ("retry_count", "integer", True, "0"),
        ("failure_reason", "character varying(100)", True, None),
        ("openai_session_id", "character varying(100)", True, None),
        ("created_at", TS, True, NOW),
        ("expires_at", TS, False, None),
    ],
    "conversation_transcripts": [
        ("id", "uuid", False, None),
        ("call_session_id", "uuid", False, None),
        ("speaker", "character varying(10)", False, None),
        ("message_order", "integer", False, None),
        ("content", "text", False, None),
        ("timestamp_ms", "bigint", False, None),
        ("confidence_score", "numeric(3,2)", True, None),
        ("language_detected", "character varying(10)", True, "'sv'"),
        ("message_type", "character varying(20)", False, None),
        ("created_at", TS, True, NOW),
    ],
    "quality_assessments": [
        ("id", "uuid", False, None),
        ("call_session_id", "uuid", False, None),
        ("legitimacy_score", "numeric(3,2)", False, None),
        ("depth_score", "numeric(3,2)", False, None),
        ("usefulness_score", "numeric(3,2)", False, None),
        ("overall_quality_score", "numeric(3,2)", False, None),
        ("reward_percentage", "numeric(4,2)", False, None),
        ("is_fraudulent", "boolean", True, "false"),
        ("fraud_reasons", "jsonb", True, None),
        ("analysis_summary", "text", True, None),
        ("business_actionable_items", "jsonb", True, None),
        ("analysis_metadata", "jsonb", True, None),
        ("created_at", TS, True, NOW),
    ],
    "business_context_profiles": [
        ("id", "uuid", False, None),
        ("store_id", "uuid", False, None),
        ("context_version", "integer", True, "1"),
        ("operating_hours", "jsonb", False, None),
        ("departments", "jsonb", False, None),
        ("current_campaigns", "jsonb", True, None),
        ("question_configuration", "jsonb", False, None),
        ("baseline_facts", "jsonb", False, None),
        ("context_completeness_score", "numeric(3,2)", True, "0.50"),
        ("last_updated_at", TS, True, NOW),
        ("updated_by", "uuid", True, None),
    ],
    "weekly_analysis_reports": [
        ("id", "uuid", False, None),
        ("store_id", "uuid", False, None),
        ("analysis_week", "date", False, None),
        ("total_feedback_count", "integer", False, None),
        ("average_quality_score", "numeric(3,2)", True, None),
        *[
            (c, "jsonb", True, None)
            for c in (
                "positive_trends",
                "negative_issues",
                "new_issues",
                "department_insights",
                "historical_comparison",
                "predictive_insights",
                "actionable_recommendations",
                "report_metadata",
            )
        ],
        ("generated_at", TS, True, NOW),
    ],
    "call_quality_metrics": [
        ("id", "uuid", False, None),
        ("call_session_id", "uuid", False, None),
        ("connection_quality", "character varying(20)", False, None),
        ("audio_clarity_score", "numeric(3,2)", True, None),
        ("latency_ms", "integer", True, None),
        ("packet_loss_percentage", "numeric(4,2)", True, None),
        ("openai_api_latency", "integer", True, None),
        ("technical_errors", "jsonb", True, None),
        ("bandwidth_usage_kb", "integer", True, None),
        ("device_info", "jsonb", True, None),
        ("measured_at", TS, True, NOW),
    ],
    "fraud_detection_results": [
        ("id", "uuid", False, None),
        ("call_session_id", "uuid", False, None),
        ("check_type", "character varying(50)", False, None),
        ("is_suspicious", "boolean", False, None),
        ("confidence_level", "numeric(3,2)", False, None),
        ("fraud_indicators", "jsonb", True, None),
        ("context_violations", "jsonb", True, None),
        ("decision_reasoning", "text", True, None),
        ("manual_review_required", "boolean", True, "false"),
        ("reviewed_by", "uuid", True, None),
        ("review_decision", "character varying(20)", True, None),
        ("created_at", TS, True, NOW),
    ],
}
ENGINE_ADDITIONS = {
    "feedback_call_sessions": {
        "phone_bidx",
        "next_attempt_at",
        "host_id",
        "phase",
        "twilio_call_sid",
        "lease_expires_at",
        "anonymized_at",
        "updated_at",
    },
    "quality_assessments": {"store_id", "anonymized_at"},
}
INDEXES = {
    "idx_feedback_call_sessions_store_status": ("feedback_call_sessions", "(store_id, session_status)"),
    "idx_feedback_call_sessions_expires": ("feedback_call_sessions", "(expires_at)"),
    "idx_feedback_call_sessions_verification": ("feedback_call_sessions", "(customer_verification_id)"),
    "idx_conversation_transcripts_session_order": (
        "conversation_transcripts",
        "(call_session_id, message_order)",
    ),
    "idx_conversation_transcripts_speaker": ("conversation_transcripts", "(call_session_id, speaker)"),
    "idx_quality_assessments_session": ("quality_assessments", "(call_session_id)"),
    "idx_quality_assessments_store_quality": ("quality_assessments", "(store_id, overall_quality_score)"),
    "idx_quality_assessments_fraud": ("quality_assessments", "(is_fraudulent, created_at)"),
    "idx_business_context_profiles_store": ("business_context_profiles", "(store_id, context_version)"),
    "idx_business_context_profiles_updated": ("business_context_profiles", "(last_updated_at)"),
    "idx_weekly_analysis_reports_store_week": ("weekly_analysis_reports", "(store_id, analysis_week)"),
    "idx_weekly_analysis_reports_generated": ("weekly_analysis_reports", "(generated_at)"),
    "idx_call_quality_metrics_session": ("call_quality_metrics", "(call_session_id)"),
    "idx_call_quality_metrics_quality": ("call_quality_metrics", "(connection_quality, measured_at)"),
    "idx_fraud_detection_results_session": ("fraud_detection_results", "(call_session_id, check_type)"),
    "idx_fraud_detection_results_suspicious": ("fraud_detection_results", "(is_suspicious, created_at)"),
    "idx_fraud_detection_results_review": ("fraud_detection_results", "(manual_review_required, created_at)"),
}
FOREIGN_KEYS = {
    ("feedback_call_sessions", "customer_verification_id", "customer_verifications"),
    ("feedback_call_sessions", "store_id", "stores"),
    ("conversation_transcripts", "call_session_id", "feedback_call_sessions"),
    ("quality_assessments", "call_session_id", "feedback_call_sessions"),
    ("business_context_profiles", "store_id", "stores"),
    ("weekly_analysis_reports", "store_id", "stores"),
    ("call_quality_metrics", "call_session_id", "feedback_call_sessions"),
    ("fraud_detection_results", "call_session_id", "feedback_call_sessions"),
}


def test_seed_columns_types_defaults(owner_url: str) -> None:
    with raw(owner_url, db_role=None) as conn:
        for table, expected in SEED.items():
            rows = conn.execute(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, "
                "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
                "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                (table,),
            ).fetchall()
            actual = {r[0]: r[1:] for r in rows}
            for column, type_, nullable, default in expected:
                assert column in actual, f"{table}.{column} missing"
                a_type, a_nullable, a_default = actual[column]
                assert a_type == type_, f"{table}.{column}: {a_type} != {type_}"
                assert a_nullable == nullable, f"{table}.{column}: nullable {a_nullable}"
                if default is None:
                    assert a_default is None, f"{table}.{column}: unexpected default {a_default}"
                else:
                    assert a_default is not None and default in a_default, (
                        f"{table}.{column}: default {a_default}"
                    )
            extra = set(actual) - {c for c, *_ in expected}
            assert extra == ENGINE_ADDITIONS.get(table, set()), f"{table}: undocumented columns {extra}"


def test_seed_indexes_and_foreign_keys(owner_url: str) -> None:
    with raw(owner_url, db_role=None) as conn:
        defs = dict(
            conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()")
        )
        for name, (table, cols) in INDEXES.items():
            assert name in defs, f"index {name} missing"
            assert (
                f"ON {'public.' if 'public.' in defs[name] else ''}{table} USING btree {cols}" in defs[name]
            )
        fks = set(
            conn.execute(
                "SELECT tc.table_name, kcu.column_name, ccu.table_name FROM information_schema.table_constraints tc "
                "JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name "
                "JOIN information_schema.constraint_column_usage ccu ON tc.constraint_name = ccu.constraint_name "
                "WHERE tc.constraint_type = 'FOREIGN KEY'"
            ).fetchall()
        )
        assert FOREIGN_KEYS <= fks


def test_enumerations_and_ranges_are_checked(owner_url: str) -> None:
    with raw(owner_url, db_role=None) as conn:
        checks = dict(
            conn.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c' "
                "AND connamespace = current_schema()::regnamespace"
            ).fetchall()
        )
    text = " ".join(checks.values())
    for value in ("in_progress", "abandoned", "customer", "question", "error", "excellent", "poor"):
        assert f"'{value}'" in text
    for value in ("timing", "pattern", "confirmed_fraud", "false_positive", "needs_investigation"):
        assert f"'{value}'" in text
    assert "reward_percentage >= (2)" in checks["ck_quality_assessments_reward_percentage"]
    assert "reward_percentage <= (15)" in checks["ck_quality_assessments_reward_percentage"]
    assert "retry_count <= 3" in checks["ck_feedback_call_sessions_retry_count"]
    for table, column in (
        ("quality_assessments", "legitimacy_score"),
        ("conversation_transcripts", "confidence_score"),
        ("fraud_detection_results", "confidence_level"),
        ("business_context_profiles", "context_completeness_score"),
        ("call_quality_metrics", "audio_clarity_score"),
    ):
        assert f"{column} <= (1)" in checks[f"ck_{table}_{column}"]


def test_migrations_go_down_and_up_again(isolated_pg_url: str) -> None:
    assert migrate.current(isolated_pg_url) == migrate.head()
    migrate.downgrade(isolated_pg_url, "base")
    assert migrate.current(isolated_pg_url) is None
    with raw(isolated_pg_url, db_role=None) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"
        ).fetchone()
        assert left == (0,)
    migrate.upgrade(isolated_pg_url)
    assert migrate.current(isolated_pg_url) == migrate.head()


def test_rls_is_forced_and_the_app_role_is_restricted(owner_url: str) -> None:
    with raw(owner_url, db_role=None) as conn:
        rows = conn.execute(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
            "WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r' AND relname <> 'alembic_version'"
        ).fetchall()
        # 7 seed + 4 existing-system + 8 engine tables (reward_ledger, jobs, consent_records,
        # interview_progress, events)
        assert len(rows) == 19
        assert all(enabled and forced for _, enabled, forced in rows), rows
        role = conn.execute(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'callengine_app'"
        ).fetchone()
        assert role == (False, False, False, False)
        grants = {
            p
            for (p,) in conn.execute(
                "SELECT privilege_type FROM information_schema.role_table_grants "
                "WHERE grantee = 'callengine_app' AND table_name = 'audit_log'"
            )
        }
        assert grants == {"SELECT", "INSERT"}
        ledger_grants = {
            p
            for (p,) in conn.execute(
                "SELECT privilege_type FROM information_schema.role_table_grants "
                "WHERE grantee = 'callengine_app' AND table_name = 'reward_ledger'"
            )
        }
        assert ledger_grants == {"SELECT", "INSERT", "UPDATE"}  # bookkeeping: never deleted by the app
        event_grants = {
            p
            for (p,) in conn.execute(
                "SELECT privilege_type FROM information_schema.role_table_grants "
                "WHERE grantee = 'callengine_app' AND table_name = 'events'"
            )
        }
        assert event_grants == {"SELECT", "DELETE"}  # written only through emit_event()
