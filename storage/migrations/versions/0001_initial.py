"""initial schema: seed tables, existing tables, RLS, audit

Revision ID: 0001
Revises: -
Create Date: 2026-11-25 10:46:34.040861
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Tables are new and empty here, so plain CREATE INDEX takes no meaningful lock;
    # later migrations that index populated tables use CREATE INDEX CONCURRENTLY.
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column(
            "at",
            sa.DateTime(timezone=False),
            server_default=sa.text("(now() AT TIME ZONE 'utc')"),
            nullable=False,
        ),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "actor_role IN ('admin', 'store_owner', 'service')", name=op.f("ck_audit_log_actor_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("idx_audit_log_at", "audit_log", ["at"], unique=False)
    op.create_index("idx_audit_log_record", "audit_log", ["table_name", "record_id"], unique=False)
    op.create_table(
        "businesses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=False),
            server_default=sa.text("(now() AT TIME ZONE 'utc')"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_businesses")),
    )
    op.create_table(
        "phone_opt_outs",
        sa.Column("phone_bidx", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=False),
            server_default=sa.text("(now() AT TIME ZONE 'utc')"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("phone_bidx", name=op.f("pk_phone_opt_outs")),
    )
    op.create_table(
        "business_users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=False),
            server_default=sa.text("(now() AT TIME ZONE 'utc')"),
            nullable=True,
        ),
        sa.CheckConstraint("role IN ('owner', 'staff', 'admin')", name=op.f("ck_business_users_role")),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_business_users_business_id_businesses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_users")),
        sa.UniqueConstraint("email", name=op.f("uq_business_users_email")),
    )
    op.create_index("idx_business_users_business", "business_users", ["business_id"], unique=False)
    op.create_table(
        "stores",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "timezone", sa.String(length=64), server_default=sa.text("'Europe/Stockholm'"), nullable=False
        ),
        sa.Column("call_windows", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=False),
            server_default=sa.text("(now() AT TIME ZONE 'utc')"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_stores_business_id_businesses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stores")),
    )
    op.create_index("idx_stores_business", "stores", ["business_id"], unique=False)
    op.create_table(
        "business_context_profiles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("context_version", sa.Integer(), server_default=sa.text("1"), nullable=True),
        sa.Column("operating_hours", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("departments", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("current_campaigns", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("question_configuration", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("baseline_facts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "context_completeness_score",
            sa.Numeric(precision=3, scale=2),
            server_default=sa.text("0.50"),
            nullable=True,
        ),
        sa.Column(
            "last_updated_at",
            sa.DateTime(timezone=False),
            server_default=sa.text("(now() AT TIME ZONE 'utc')"),
            nullable=True,
        ),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "context_completeness_score IS NULL OR (context_completeness_score >= 0 AND context_completeness_score <= 1)",
            name=op.f("ck_business_context_profiles_context_completeness_score"),
        ),
        sa.CheckConstraint(
            "context_version IS NULL OR context_version >= 1",
            name=op.f("ck_business_context_profiles_context_version"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_business_context_profiles_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_context_profiles")),
    )
    op.create_index(
        "idx_business_context_profiles_store",
        "business_context_profiles",
        ["store_id", "context_version"],
        unique=True,
    )
    op.create_index(
        "idx_business_context_profiles_updated",
        "business_context_profiles",
        ["last_updated_at"],
        unique=False,
    )
    op.create_table(
        "customer_verifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("phone_number", sa.Text(), nullable=False),
        sa.Column("phone_bidx", sa.String(length=64), nullable=True),
        sa.Column("purchased_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=False),
            server_default=sa.text("(now() AT TIME ZONE 'utc')"),
            nullable=True,
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_customer_verifications_amount")),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_customer_verifications_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_verifications")),
    )
    op.create_index(
        "idx_customer_verifications_phone_bidx", "customer_verifications", ["phone_bidx"], unique=False
    )
    op.create_index("idx_customer_verifications_store", "customer_verifications", ["store_id"], unique=False)
    op.create_table(
        "weekly_analysis_reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("analysis_week", sa.Date(), nullable=False),
        sa.Column("total_feedback_count", sa.Integer(), nullable=False),
        sa.Column("average_quality_score", sa.Numeric(precision=3, scale=2), nullable=True),
        sa.Column("positive_trends", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("negative_issues", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("new_issues", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("department_insights", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("historical_comparison", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("predictive_insights", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("actionable_recommendations", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("report_metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "generated_at",
            sa.DateTime(timezone=False),
            server_default=sa.text("(now() AT TIME ZONE 'utc')"),
            nullable=True,
        ),
        sa.CheckConstraint(
            "EXTRACT(ISODOW FROM analysis_week) = 1",
            name=op.f("ck_weekly_analysis_reports_analysis_week_monday"),
        ),
        sa.CheckConstraint(
            "average_quality_score IS NULL OR (average_quality_score >= 0 AND average_quality_score <= 1)",
            name=op.f("ck_weekly_analysis_reports_average_quality_score"),
        ),
        sa.CheckConstraint(
            "total_feedback_count >= 0", name=op.f("ck_weekly_analysis_reports_total_feedback_count")
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_weekly_analysis_reports_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weekly_analysis_reports")),
    )
    op.create_index(
        "idx_weekly_analysis_reports_generated", "weekly_analysis_reports", ["generated_at"], unique=False
    )
    op.create_index(
        "idx_weekly_analysis_reports_store_week",
        "weekly_analysis_reports",
        ["store_id", "analysis_week"],
        unique=True,
    )
    op.create_table(
        "feedback_call_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_verification_id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("phone_number", sa.Text(), nullable=False),
        sa.Column("session_status", sa.String(length=20), nullable=False),
        sa.Column("call_initiated_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("call_connected_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column("call_ended_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("retry_count", sa.Integer(), server_default=sa.text("0"), nullable=True),
        sa.Column("failure_reason", sa.String(length=100), nullable=True),
        sa.Column("openai_session_id", sa.String(length=100), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=False),
            server_default=sa.text("(now() AT TIME ZONE 'utc')"),
            nullable=True,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("phone_bidx", sa.String(length=64), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column("host_id", sa.String(length=100), nullable=True),
        sa.Column("phase", sa.String(length=20), nullable=True),
        sa.Column("twilio_call_sid", sa.String(length=64), nullable=True),
        sa.Column("anonymized_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=False),
            server_default=sa.text("(now() AT TIME ZONE 'utc')"),
            nullable=True,
        ),
        sa.CheckConstraint(
            "session_status IN ('pending', 'in_progress', 'completed', 'failed', 'abandoned')",
            name=op.f("ck_feedback_call_sessions_session_status"),
        ),
        sa.CheckConstraint(
            "duration_seconds IS NULL OR duration_seconds >= 0",
            name=op.f("ck_feedback_call_sessions_duration_seconds"),
        ),
        sa.CheckConstraint(
            "retry_count IS NULL OR (retry_count >= 0 AND retry_count <= 3)",
            name=op.f("ck_feedback_call_sessions_retry_count"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_verification_id"],
            ["customer_verifications.id"],
            name=op.f("fk_feedback_call_sessions_customer_verification_id_customer_verifications"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_feedback_call_sessions_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_call_sessions")),
    )
    op.create_index(
        "idx_feedback_call_sessions_created",
        "feedback_call_sessions",
        ["store_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "idx_feedback_call_sessions_due",
        "feedback_call_sessions",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("session_status = 'pending' AND next_attempt_at IS NOT NULL"),
    )
    op.create_index(
        "idx_feedback_call_sessions_expires", "feedback_call_sessions", ["expires_at"], unique=False
    )
    op.create_index("idx_feedback_call_sessions_host", "feedback_call_sessions", ["host_id"], unique=False)
    op.create_index(
        "idx_feedback_call_sessions_phone_bidx", "feedback_call_sessions", ["phone_bidx"], unique=False
    )
    op.create_index(
        "idx_feedback_call_sessions_store_status",
        "feedback_call_sessions",
        ["store_id", "session_status"],
        unique=False,
    )
    op.create_index(
        "idx_feedback_call_sessions_verification",
        "feedback_call_sessions",
        ["customer_verification_id"],
        unique=False,
    )
    op.create_index(
        "uq_feedback_call_sessions_live_verification",
        "feedback_call_sessions",
        ["customer_verification_id"],
        unique=True,
        postgresql_where=sa.text("session_status IN ('pending', 'in_progress')"),
    )
    op.create_table(
        "call_quality_metrics",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("call_session_id", sa.Uuid(), nullable=False),
        sa.Column("connection_quality", sa.String(length=20), nullable=False),
        sa.Column("audio_clarity_score", sa.Numeric(precision=3, scale=2), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("packet_loss_percentage", sa.Numeric(precision=4, scale=2), nullable=True),
        sa.Column("openai_api_latency", sa.Integer(), nullable=True),
        sa.Column("technical_errors", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("bandwidth_usage_kb", sa.Integer(), nullable=True),
        sa.Column("device_info", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "measured_at",
            sa.DateTime(timezone=False),
            server_default=sa.text("(now() AT TIME ZONE 'utc')"),
            nullable=True,
        ),
        sa.CheckConstraint(
            "connection_quality IN ('excellent', 'good', 'fair', 'poor')",
            name=op.f("ck_call_quality_metrics_connection_quality"),
        ),
        sa.CheckConstraint(
            "audio_clarity_score IS NULL OR (audio_clarity_score >= 0 AND audio_clarity_score <= 1)",
            name=op.f("ck_call_quality_metrics_audio_clarity_score"),
        ),
        sa.CheckConstraint(
            "packet_loss_percentage IS NULL OR (packet_loss_percentage >= 0 AND packet_loss_percentage <= 100)",
            name=op.f("ck_call_quality_metrics_packet_loss_percentage"),
        ),
        sa.ForeignKeyConstraint(
            ["call_session_id"],
            ["feedback_call_sessions.id"],
            name=op.f("fk_call_quality_metrics_call_session_id_feedback_call_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_quality_metrics")),
    )
    op.create_index(
        "idx_call_quality_metrics_quality",
        "call_quality_metrics",
        ["connection_quality", "measured_at"],
        unique=False,
    )
    op.create_index(
        "idx_call_quality_metrics_session", "call_quality_metrics", ["call_session_id"], unique=False
    )
    op.create_table(
        "call_session_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column(
            "at",
            sa.DateTime(timezone=False),
            server_default=sa.text("(now() AT TIME ZONE 'utc')"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'in_progress', 'completed', 'failed', 'abandoned')",
            name=op.f("ck_call_session_events_status"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["feedback_call_sessions.id"],
            name=op.f("fk_call_session_events_session_id_feedback_call_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_session_events")),
    )
    op.create_index(
        "idx_call_session_events_session", "call_session_events", ["session_id", "id"], unique=False
    )
    op.create_table(
        "conversation_transcripts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("call_session_id", sa.Uuid(), nullable=False),
        sa.Column("speaker", sa.String(length=10), nullable=False),
        sa.Column("message_order", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("confidence_score", sa.Numeric(precision=3, scale=2), nullable=True),
        sa.Column("language_detected", sa.String(length=10), server_default=sa.text("'sv'"), nullable=True),
        sa.Column("message_type", sa.String(length=20), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=False),
            server_default=sa.text("(now() AT TIME ZONE 'utc')"),
            nullable=True,
        ),
        sa.CheckConstraint(
            "message_type IN ('question', 'response', 'system', 'error')",
            name=op.f("ck_conversation_transcripts_message_type"),
        ),
        sa.CheckConstraint("speaker IN ('ai', 'customer')", name=op.f("ck_conversation_transcripts_speaker")),
        sa.CheckConstraint(
            "confidence_score IS NULL OR (confidence_score >= 0 AND confidence_score <= 1)",
            name=op.f("ck_conversation_transcripts_confidence_score"),
        ),
        sa.CheckConstraint("message_order >= 0", name=op.f("ck_conversation_transcripts_message_order")),
        sa.CheckConstraint("timestamp_ms >= 0", name=op.f("ck_conversation_transcripts_timestamp_ms")),
        sa.ForeignKeyConstraint(
            ["call_session_id"],
            ["feedback_call_sessions.id"],
            name=op.f("fk_conversation_transcripts_call_session_id_feedback_call_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_transcripts")),
    )
    op.create_index(
        "idx_conversation_transcripts_session_order",
        "conversation_transcripts",
        ["call_session_id", "message_order"],
        unique=False,
    )
    op.create_index(
        "idx_conversation_transcripts_speaker",
        "conversation_transcripts",
        ["call_session_id", "speaker"],
        unique=False,
    )
    op.create_table(
        "fraud_detection_results",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("call_session_id", sa.Uuid(), nullable=False),
        sa.Column("check_type", sa.String(length=50), nullable=False),
        sa.Column("is_suspicious", sa.Boolean(), nullable=False),
        sa.Column("confidence_level", sa.Numeric(precision=3, scale=2), nullable=False),
        sa.Column("fraud_indicators", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("context_violations", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("decision_reasoning", sa.Text(), nullable=True),
        sa.Column("manual_review_required", sa.Boolean(), server_default=sa.text("false"), nullable=True),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("review_decision", sa.String(length=20), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=False),
            server_default=sa.text("(now() AT TIME ZONE 'utc')"),
            nullable=True,
        ),
        sa.CheckConstraint(
            "check_type IN ('timing', 'content', 'context', 'pattern')",
            name=op.f("ck_fraud_detection_results_check_type"),
        ),
        sa.CheckConstraint(
            "review_decision IS NULL OR review_decision IN ('confirmed_fraud', 'false_positive', 'needs_investigation')",
            name=op.f("ck_fraud_detection_results_review_decision"),
        ),
        sa.CheckConstraint(
            "confidence_level IS NULL OR (confidence_level >= 0 AND confidence_level <= 1)",
            name=op.f("ck_fraud_detection_results_confidence_level"),
        ),
        sa.ForeignKeyConstraint(
            ["call_session_id"],
            ["feedback_call_sessions.id"],
            name=op.f("fk_fraud_detection_results_call_session_id_feedback_call_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_detection_results")),
    )
    op.create_index(
        "idx_fraud_detection_results_review",
        "fraud_detection_results",
        ["manual_review_required", "created_at"],
        unique=False,
    )
    op.create_index(
        "idx_fraud_detection_results_session",
        "fraud_detection_results",
        ["call_session_id", "check_type"],
        unique=False,
    )
    op.create_index(
        "idx_fraud_detection_results_suspicious",
        "fraud_detection_results",
        ["is_suspicious", "created_at"],
        unique=False,
    )
    op.create_table(
        "quality_assessments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("call_session_id", sa.Uuid(), nullable=False),
        sa.Column("legitimacy_score", sa.Numeric(precision=3, scale=2), nullable=False),
        sa.Column("depth_score", sa.Numeric(precision=3, scale=2), nullable=False),
        sa.Column("usefulness_score", sa.Numeric(precision=3, scale=2), nullable=False),
        sa.Column("overall_quality_score", sa.Numeric(precision=3, scale=2), nullable=False),
        sa.Column("reward_percentage", sa.Numeric(precision=4, scale=2), nullable=False),
        sa.Column("is_fraudulent", sa.Boolean(), server_default=sa.text("false"), nullable=True),
        sa.Column("fraud_reasons", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("analysis_summary", sa.Text(), nullable=True),
        sa.Column("business_actionable_items", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("analysis_metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=False),
            server_default=sa.text("(now() AT TIME ZONE 'utc')"),
            nullable=True,
        ),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("anonymized_at", sa.DateTime(timezone=False), nullable=True),
        sa.CheckConstraint(
            "depth_score IS NULL OR (depth_score >= 0 AND depth_score <= 1)",
            name=op.f("ck_quality_assessments_depth_score"),
        ),
        sa.CheckConstraint(
            "legitimacy_score IS NULL OR (legitimacy_score >= 0 AND legitimacy_score <= 1)",
            name=op.f("ck_quality_assessments_legitimacy_score"),
        ),
        sa.CheckConstraint(
            "overall_quality_score IS NULL OR (overall_quality_score >= 0 AND overall_quality_score <= 1)",
            name=op.f("ck_quality_assessments_overall_quality_score"),
        ),
        sa.CheckConstraint(
            "reward_percentage IS NULL OR (reward_percentage >= 2 AND reward_percentage <= 15)",
            name=op.f("ck_quality_assessments_reward_percentage"),
        ),
        sa.CheckConstraint(
            "usefulness_score IS NULL OR (usefulness_score >= 0 AND usefulness_score <= 1)",
            name=op.f("ck_quality_assessments_usefulness_score"),
        ),
        sa.ForeignKeyConstraint(
            ["call_session_id"],
            ["feedback_call_sessions.id"],
            name=op.f("fk_quality_assessments_call_session_id_feedback_call_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_quality_assessments_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_assessments")),
    )
    op.create_index(
        "idx_quality_assessments_fraud", "quality_assessments", ["is_fraudulent", "created_at"], unique=False
    )
    op.create_index(
        "idx_quality_assessments_session", "quality_assessments", ["call_session_id"], unique=True
    )
    op.create_index(
        "idx_quality_assessments_store_quality",
        "quality_assessments",
        ["store_id", "overall_quality_score"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("idx_quality_assessments_store_quality", table_name="quality_assessments")
    op.drop_index("idx_quality_assessments_session", table_name="quality_assessments")
    op.drop_index("idx_quality_assessments_fraud", table_name="quality_assessments")
    op.drop_table("quality_assessments")
    op.drop_index("idx_fraud_detection_results_suspicious", table_name="fraud_detection_results")
    op.drop_index("idx_fraud_detection_results_session", table_name="fraud_detection_results")
    op.drop_index("idx_fraud_detection_results_review", table_name="fraud_detection_results")
    op.drop_table("fraud_detection_results")
    op.drop_index("idx_conversation_transcripts_speaker", table_name="conversation_transcripts")
    op.drop_index("idx_conversation_transcripts_session_order", table_name="conversation_transcripts")
    op.drop_table("conversation_transcripts")
    op.drop_index("idx_call_session_events_session", table_name="call_session_events")
    op.drop_table("call_session_events")
    op.drop_index("idx_call_quality_metrics_session", table_name="call_quality_metrics")
    op.drop_index("idx_call_quality_metrics_quality", table_name="call_quality_metrics")
    op.drop_table("call_quality_metrics")
    op.drop_index(
        "uq_feedback_call_sessions_live_verification",
        table_name="feedback_call_sessions",
        postgresql_where=sa.text("session_status IN ('pending', 'in_progress')"),
    )
    op.drop_index("idx_feedback_call_sessions_verification", table_name="feedback_call_sessions")
    op.drop_index("idx_feedback_call_sessions_store_status", table_name="feedback_call_sessions")
    op.drop_index("idx_feedback_call_sessions_phone_bidx", table_name="feedback_call_sessions")
    op.drop_index("idx_feedback_call_sessions_host", table_name="feedback_call_sessions")
    op.drop_index("idx_feedback_call_sessions_expires", table_name="feedback_call_sessions")
    op.drop_index(
        "idx_feedback_call_sessions_due",
        table_name="feedback_call_sessions",
        postgresql_where=sa.text("session_status = 'pending' AND next_attempt_at IS NOT NULL"),
    )
    op.drop_index("idx_feedback_call_sessions_created", table_name="feedback_call_sessions")
    op.drop_table("feedback_call_sessions")
    op.drop_index("idx_weekly_analysis_reports_store_week", table_name="weekly_analysis_reports")
    op.drop_index("idx_weekly_analysis_reports_generated", table_name="weekly_analysis_reports")
    op.drop_table("weekly_analysis_reports")
    op.drop_index("idx_customer_verifications_store", table_name="customer_verifications")
    op.drop_index("idx_customer_verifications_phone_bidx", table_name="customer_verifications")
    op.drop_table("customer_verifications")
    op.drop_index("idx_business_context_profiles_updated", table_name="business_context_profiles")
    op.drop_index("idx_business_context_profiles_store", table_name="business_context_profiles")
    op.drop_table("business_context_profiles")
    op.drop_index("idx_stores_business", table_name="stores")
    op.drop_table("stores")
    op.drop_index("idx_business_users_business", table_name="business_users")
    op.drop_table("business_users")
    op.drop_table("phone_opt_outs")
    op.drop_table("businesses")
    op.drop_index("idx_audit_log_record", table_name="audit_log")
    op.drop_index("idx_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
