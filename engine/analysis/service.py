"""Persistence around the pure analysis: load → analyse → store. What the pools, reporter and API call.

- ``assess_session(db, llm, session_id)`` → quality_assessments row (fraud verdict folded in if present)
- ``check_fraud(db, llm, session_id)`` → fraud_detection_results rows + verdict folded into the assessment
- ``build_weekly_report(db, llm, store_id, week)`` → weekly_analysis_reports row (idempotent upsert)
- ``review_fraud_result(db, principal, result_id, decision)`` → admin review, assessment re-folded

The LLM is called outside any database transaction. Assessment and fraud rows of
one session are folded together under a per-session advisory lock, so the order
in which the AssessorPool and FraudPool finish does not matter. The call's reward
ledger entry (engine/rewards) is created or restated in the same transaction as
every assessment write: held while the fraud checks or a manual review are open,
withheld on fraud, approved otherwise. Each of these writes emits its event
(``assessment.stored``, ``fraud.verdict``, ``reward.changed``, ``report.ready``) in
its transaction. Times come from the database's clock (``db.clock``) unless a
caller passes ``now``: the demo's shifted weeks are assessed in those weeks.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from typing import Any

import msgspec
from sqlalchemy import text

from engine.analysis import report as report_mod
from engine.analysis.assessment import assess_call
from engine.analysis.config import DEFAULT_CONFIG, AnalysisConfig
from engine.analysis.context import BusinessContext, validate_business_context
from engine.analysis.fraud import combine, noisy_or, run_fraud_checks
from engine.analysis.llm import StructuredLLM
from engine.analysis.models import (
    CallFacts,
    CheckResult,
    FraudVerdict,
    PatternEvidence,
    PhoneUse,
    TranscriptLine,
)
from engine.analysis.report_source import calls_between, weekly_series
from engine.analysis.scoring import overall_score, reward_percentage, round2
from engine.analysis.signature_index import SignatureIndex, index_for
from engine.domain import CheckType, ReviewDecision
from engine.errors import NotFoundError, ValidationError
from engine.events.types import FRAUD_VERDICT
from engine.logs import get_logger
from engine.rewards.ledger import FraudStanding
from storage import Database, Principal, Tx
from storage import records as rec

log = get_logger(__name__)
_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
_SAME_CALLER = "same-caller"


async def _lock_session(tx: Tx, session_id: uuid.UUID) -> None:
    await tx.session.execute(_LOCK, {"key": f"analysis:{session_id}"})


async def _context(tx: Tx, store_id: uuid.UUID) -> tuple[BusinessContext | None, str | None]:
    """The store's current profile, or None with the reason (missing / invalid field)."""
    try:
        stored = await tx.contexts.get_current(store_id)
    except NotFoundError:
        return None, "business_context_missing"
    payload = {
        "operating_hours": stored.operating_hours,
        "departments": stored.departments,
        "current_campaigns": stored.current_campaigns,
        "question_configuration": stored.question_configuration,
        "baseline_facts": stored.baseline_facts,
    }
    try:
        return validate_business_context(payload, version=stored.context_version), None
    except ValidationError as exc:
        log.warning(
            "store=%s business context v%s invalid at %s", store_id, stored.context_version, exc.field
        )
        return None, f"business_context_invalid:{exc.field}"


def _lines(stored: list[rec.TranscriptLine]) -> list[TranscriptLine]:
    return [
        TranscriptLine(ln.speaker, ln.content, ln.message_order, ln.timestamp_ms, ln.message_type)
        for ln in stored
    ]


# --- assessment ------------------------------------------------------------------------------------


async def assess_session(
    db: Database,
    llm: StructuredLLM | None,
    session_id: uuid.UUID,
    *,
    config: AnalysisConfig = DEFAULT_CONFIG,
    now: dt.datetime | None = None,
) -> rec.Assessment:
    """Assess a finished session and store the result (a re-run replaces it)."""
    now = now or db.clock.now()
    async with db.transaction(Principal.service()) as tx:
        session = await tx.sessions.get(session_id)
        lines = _lines(await tx.transcripts.list_lines(session_id))
        ctx, ctx_problem = await _context(tx, session.store_id)
    result = await assess_call(lines, ctx, llm, config, now=now)
    metadata: dict[str, Any] = msgspec.to_builtins(result.analysis_metadata)
    if ctx_problem and ctx_problem not in metadata["reasons"]:
        metadata["reasons"] = [r for r in metadata["reasons"] if r != "business_context_missing"] + [
            ctx_problem
        ]
    metadata["pre_fraud"] = {
        "legitimacy_score": result.legitimacy_score,
        "overall_quality_score": result.overall_quality_score,
        "reward_percentage": result.reward_percentage,
    }
    record = rec.Assessment(
        call_session_id=session_id,
        legitimacy_score=result.legitimacy_score,
        depth_score=result.depth_score,
        usefulness_score=result.usefulness_score,
        overall_quality_score=result.overall_quality_score,
        reward_percentage=result.reward_percentage,
        analysis_summary=result.analysis_summary,
        business_actionable_items=msgspec.to_builtins(result.business_actionable_items),
        analysis_metadata=metadata,
    )
    async with db.transaction(Principal.service()) as tx:
        await _lock_session(tx, session_id)
        rows = await _fraud_rows(tx, session_id)
        verdict = _verdict_from_rows(rows, config) if rows else None
        if verdict is not None:
            record = _fold(record, verdict, config)
        stored = await tx.assessments.put(record, now)
        reward = await tx.rewards.sync(session_id, _standing(verdict), now)
    log.info(
        "assessed session=%s store=%s overall=%.2f reward=%.2f rules_only=%s ledger=%s",
        session_id,
        session.store_id,
        stored.overall_quality_score,
        stored.reward_percentage,
        metadata["rules_only"],
        reward.state.value if reward else None,
    )
    return stored


class _StoredVerdict(msgspec.Struct, frozen=True):
    combined: float
    any_suspicious: bool
    fraudulent: bool
    reasons: list[dict[str, Any]]
    review_open: bool = False


def _standing(verdict: _StoredVerdict | None) -> FraudStanding:
    """What the reward ledger needs to know; None = the fraud checks have not stored anything yet."""
    if verdict is None:
        return FraudStanding(checked=False, review_open=False, fraudulent=False)
    return FraudStanding(checked=True, review_open=verdict.review_open, fraudulent=verdict.fraudulent)


def _verdict_from_rows(rows: list[rec.FraudResult], config: AnalysisConfig) -> _StoredVerdict:
    """Combine stored checks, honouring admin reviews (false positives drop out, confirmed fraud wins).

    Only the newest row per check type counts (a forced re-check adds rows; ``rows`` is newest first).
    """
    latest: dict[CheckType, rec.FraudResult] = {}
    for r in rows:
        latest.setdefault(r.check_type, r)
    rows = list(latest.values())
    live = [r for r in rows if r.is_suspicious and r.review_decision != ReviewDecision.FALSE_POSITIVE]
    combined = round2(noisy_or([r.confidence_level for r in live]))
    confirmed = any(r.review_decision == ReviewDecision.CONFIRMED_FRAUD for r in rows)
    reasons = [
        {
            "check_type": r.check_type.value,
            "confidence": r.confidence_level,
            "indicators": (r.fraud_indicators or {}).get("indicators", [])
            if isinstance(r.fraud_indicators, dict)
            else r.fraud_indicators,
            "review_decision": r.review_decision.value if r.review_decision else None,
        }
        for r in live
    ]
    # A suspicious check sent to review stays open until a decision closes it;
    # "needs investigation" is a decision that keeps it open.
    review_open = any(
        r.review_decision == ReviewDecision.NEEDS_INVESTIGATION
        or (r.manual_review_required and r.review_decision is None)
        for r in live
    )
    return _StoredVerdict(
        combined, bool(live), confirmed or combined >= config.fraud.fraud_threshold, reasons, review_open
    )


def _fold(record: rec.Assessment, verdict: _StoredVerdict, config: AnalysisConfig) -> rec.Assessment:
    """Assessment scores after fraud: from the pre-fraud scores kept in the metadata (so reviews can undo)."""
    meta = dict(record.analysis_metadata or {}) if isinstance(record.analysis_metadata, dict) else {}
    pre = meta.get("pre_fraud") or {
        "legitimacy_score": record.legitimacy_score,
        "overall_quality_score": record.overall_quality_score,
        "reward_percentage": record.reward_percentage,
    }
    meta["fraud_combined_confidence"] = verdict.combined
    if not verdict.any_suspicious and not verdict.fraudulent:
        # Nothing found (or every finding reviewed away): the scores stand exactly as assessed.
        # Recomputing them from the stored, rounded parts would move an honest caller's reward
        # (11.35 % → 11.3 %) once the fraud check passes.
        return msgspec.structs.replace(
            record,
            legitimacy_score=pre["legitimacy_score"],
            overall_quality_score=pre["overall_quality_score"],
            reward_percentage=pre["reward_percentage"],
            is_fraudulent=False,
            fraud_reasons=verdict.reasons or None,
            analysis_metadata=meta,
        )
    legitimacy = pre["legitimacy_score"]
    if verdict.any_suspicious:
        legitimacy = min(legitimacy, 1.0 - verdict.combined)
    overall = overall_score(legitimacy, record.depth_score, record.usefulness_score, config.scoring)
    if meta.get("status") == "insufficient_transcript":
        overall = 0.0
    return msgspec.structs.replace(
        record,
        legitimacy_score=round2(legitimacy),
        overall_quality_score=round2(overall),
        reward_percentage=reward_percentage(overall, config.reward, fraudulent=verdict.fraudulent),
        is_fraudulent=verdict.fraudulent,
        fraud_reasons=verdict.reasons or None,
        analysis_metadata=meta,
    )


async def _fraud_rows(tx: Tx, session_id: uuid.UUID) -> list[rec.FraudResult]:
    page = await tx.fraud.list(rec.FraudFilter(call_session_id=session_id), 500)
    return page.items


async def _refold_assessment(tx: Tx, session_id: uuid.UUID, config: AnalysisConfig, now: dt.datetime) -> None:
    try:
        current = await tx.assessments.get_by_session(session_id)
    except NotFoundError:
        return  # the assessor folds the verdict in when it stores the assessment
    verdict = _verdict_from_rows(await _fraud_rows(tx, session_id), config)
    await tx.assessments.put(_fold(current, verdict, config), now)
    await tx.rewards.sync(session_id, _standing(verdict), now)


async def _emit_verdict(
    tx: Tx, session_id: uuid.UUID, store_id: uuid.UUID, config: AnalysisConfig, now: dt.datetime
) -> None:
    """``fraud.verdict`` for what the stored checks and reviews say now (ids, flags, types only)."""
    rows = await _fraud_rows(tx, session_id)
    verdict = _verdict_from_rows(rows, config)
    await tx.events.emit(
        FRAUD_VERDICT,
        store_id,
        str(session_id),
        {
            "session_id": str(session_id),
            "store_id": str(store_id),
            "fraudulent": verdict.fraudulent,
            "combined_confidence": verdict.combined,
            "review_open": verdict.review_open,
            "suspicious_checks": sorted({str(r["check_type"]) for r in verdict.reasons}),
            "checks": len({r.check_type for r in rows}),
        },
        now,
    )


# --- fraud -----------------------------------------------------------------------------------------


async def check_fraud(
    db: Database,
    llm: StructuredLLM | None,
    session_id: uuid.UUID,
    *,
    config: AnalysisConfig = DEFAULT_CONFIG,
    now: dt.datetime | None = None,
    force: bool = False,
    signatures: SignatureIndex | None = None,
) -> FraudVerdict:
    """Run the four checks, store one row each, fold the verdict into the assessment.

    Idempotent: a session that already has fraud rows is not checked again unless ``force``.
    ``signatures``: the near-duplicate index (default: one per process and database).
    """
    now = now or db.clock.now()
    fc = config.fraud
    async with db.transaction(Principal.service()) as tx:
        existing = await _fraud_rows(tx, session_id)
        if existing and not force:
            return _verdict_of_existing(existing, config)
        session = await tx.sessions.get(session_id)
        lines = _lines(await tx.transcripts.list_lines(session_id))
        ctx, _ = await _context(tx, session.store_id)
        verification = await tx.stores.get_verification(session.customer_verification_id)
        since = session.call_initiated_at - dt.timedelta(days=fc.phone_window_days)
        same = await tx.sessions.same_caller_sessions(session_id, since)
        index = signatures or index_for(
            db, dt.timedelta(days=fc.phone_window_days), fc.max_duplicate_candidates
        )
        await index.refresh(tx, now)
        candidates = index.candidates(str(session.store_id))
        burst_since = session.call_initiated_at - dt.timedelta(minutes=fc.burst_window_minutes)
        # A count, not the rows: a busy store has hundreds of calls in the window.
        burst = await tx.sessions.count_created(
            session.store_id, burst_since, session.call_initiated_at + dt.timedelta(seconds=1)
        )
    same_ids = {str(s.id) for s in same}
    facts = CallFacts(
        session_id=str(session_id),
        store_id=str(session.store_id),
        status=session.session_status,
        call_initiated_at=session.call_connected_at or session.call_initiated_at,
        call_connected_at=session.call_connected_at,
        call_ended_at=session.call_ended_at,
        duration_seconds=float(session.duration_seconds) if session.duration_seconds is not None else None,
        purchase_at=verification.purchased_at,
        verified_at=verification.verified_at,
        phone_index=_SAME_CALLER,  # opaque: the blind index itself never leaves storage
    )
    evidence = PatternEvidence(
        same_phone=[PhoneUse(str(s.id), str(s.store_id), s.created_at or s.call_initiated_at) for s in same],
        recent_signatures=[
            msgspec.structs.replace(c, phone_index=_SAME_CALLER if c.session_id in same_ids else None)
            for c in candidates
            if c.session_id != str(session_id)
        ],
        store_sessions_in_burst_window=burst,
    )
    verdict = await run_fraud_checks(lines, ctx, facts, evidence, llm, config)
    rows = [_row(c, verdict, str(session.store_id)) for c in verdict.checks]
    async with db.transaction(Principal.service()) as tx:
        await _lock_session(tx, session_id)
        if force or not await _fraud_rows(tx, session_id):
            await tx.fraud.add_results(session_id, rows, now)
            await _emit_verdict(tx, session_id, session.store_id, config, now)
        await _refold_assessment(tx, session_id, config, now)
    log.info(
        "fraud checked session=%s store=%s combined=%.2f fraudulent=%s review=%s",
        session_id,
        session.store_id,
        verdict.combined_confidence,
        verdict.is_fraudulent,
        verdict.manual_review_required,
    )
    return verdict


def _row(check: CheckResult, verdict: FraudVerdict, store_id: str) -> rec.FraudResult:
    extra: dict[str, Any] = dict(check.details)
    if check.check_type == CheckType.PATTERN:
        extra["store"] = store_id  # lets the signature index tell same-store duplicates apart
    return rec.FraudResult(
        check_type=check.check_type,
        is_suspicious=check.is_suspicious,
        confidence_level=check.confidence_level,
        fraud_indicators={"indicators": check.fraud_indicators, **extra},
        context_violations=check.context_violations,
        decision_reasoning=check.decision_reasoning,
        # The grey zone is decided per call: its suspicious checks go to review together.
        manual_review_required=check.is_suspicious
        and (verdict.manual_review_required or check.manual_review_required)
        and not verdict.is_fraudulent,
    )


def _verdict_of_existing(rows: list[rec.FraudResult], config: AnalysisConfig) -> FraudVerdict:
    latest: dict[CheckType, rec.FraudResult] = {}
    for r in rows:  # newest first: a forced re-check supersedes older rows
        latest.setdefault(r.check_type, r)
    rows = list(latest.values())
    checks = [
        CheckResult(
            check_type=r.check_type,
            is_suspicious=r.is_suspicious,
            confidence_level=r.confidence_level,
            fraud_indicators=list((r.fraud_indicators or {}).get("indicators", []))
            if isinstance(r.fraud_indicators, dict)
            else list(r.fraud_indicators or []),
            context_violations=list(r.context_violations or [])
            if isinstance(r.context_violations, list)
            else [],
            decision_reasoning=r.decision_reasoning or "",
            manual_review_required=r.manual_review_required,
        )
        for r in rows
    ]
    return combine(checks, config.fraud)


async def review_fraud_result(
    db: Database,
    principal: Principal,
    result_id: uuid.UUID,
    decision: ReviewDecision,
    *,
    config: AnalysisConfig = DEFAULT_CONFIG,
    now: dt.datetime | None = None,
) -> rec.FraudResult:
    """Admin review: store decision + reviewer, then re-fold the session's assessment and reward."""
    now = now or db.clock.now()
    async with db.transaction(principal) as tx:
        reviewed = await tx.fraud.review(result_id, decision, principal.user_id)
        if reviewed.call_session_id is not None:
            await _lock_session(tx, reviewed.call_session_id)
            session = await tx.sessions.get(reviewed.call_session_id)
            await _emit_verdict(tx, reviewed.call_session_id, session.store_id, config, now)
            await _refold_assessment(tx, reviewed.call_session_id, config, now)
    return reviewed


# --- weekly report ---------------------------------------------------------------------------------


def _week_bounds(week: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    zone = zoneinfo.ZoneInfo(tz)
    start = dt.datetime.combine(week, dt.time(0), zone)
    end = dt.datetime.combine(week + dt.timedelta(days=7), dt.time(0), zone)
    return start, end


async def build_weekly_report(
    db: Database,
    llm: StructuredLLM | None,
    store_id: uuid.UUID,
    week: dt.date,
    *,
    principal: Principal | None = None,
    config: AnalysisConfig = DEFAULT_CONFIG,
    now: dt.datetime | None = None,
) -> rec.WeeklyReport:
    """Build (or rebuild, replacing) the report of ``week`` (its Monday) for a store.

    Calls belong to the week in which they were assessed, in the store's time zone.
    """
    if week.weekday() != 0:
        raise ValidationError("analysis_week", "must be the Monday of the week")
    principal = principal or Principal.service()
    async with db.transaction(principal) as tx:
        store = await tx.stores.get_store(store_id)
        start, end = _week_bounds(week, store.timezone)
        prev_start, _ = _week_bounds(week - dt.timedelta(days=7), store.timezone)
        calls, bad = await calls_between(tx, store_id, start, end)
        prev_calls, _ = await calls_between(tx, store_id, prev_start, start)
        history = await weekly_series(
            tx, store_id, store.timezone, week - dt.timedelta(days=7 * config.report.history_weeks), week
        )
        ctx, _ = await _context(tx, store_id)
    data = await report_mod.build_report(
        week,
        calls,
        prev_calls,
        history,
        llm,
        config,
        departments=[d.name for d in ctx.departments] if ctx else [],
        invalid_items=bad,
    )
    fields = msgspec.to_builtins(data)
    fields["report_metadata"]["store_timezone"] = store.timezone
    fields["report_metadata"]["context_version"] = ctx.context_version if ctx else None
    record = rec.WeeklyReport(store_id=store_id, **{**fields, "analysis_week": week})
    async with db.transaction(principal) as tx:
        stored = await tx.reports.upsert(record, generated_at=now or db.clock.now())
    log.info("weekly report store=%s week=%s calls=%d", store_id, week, data.total_feedback_count)
    return stored
