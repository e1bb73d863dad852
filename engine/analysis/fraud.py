"""Fraud checks: timing, content, context, pattern → fraud_detection_results rows and a verdict.

Each check gathers indicators with a configured confidence each; the check's
confidence is the noisy-OR ``1 − Π(1 − c)``. A check is suspicious at
``suspicious_threshold``; the call's combined confidence is the noisy-OR of its
suspicious checks: ≥ ``fraud_threshold`` → fraudulent, in the grey zone
[``review_low``, ``fraud_threshold``) → manual review.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence

from engine.analysis import lexicon
from engine.analysis.config import AnalysisConfig, FraudConfig
from engine.analysis.context import BusinessContext
from engine.analysis.llm import (
    CONTENT_FRAUD_PROMPT_VERSION,
    CONTENT_FRAUD_SYSTEM,
    ContentFraudCheck,
    StructuredLLM,
    call_prompt,
)
from engine.analysis.minhash import signature, similarity
from engine.analysis.models import (
    CallFacts,
    CheckResult,
    FraudReason,
    FraudVerdict,
    PatternEvidence,
    Signals,
    TranscriptLine,
)
from engine.analysis.scoring import round2
from engine.analysis.signals import compute_signals, customer_answers, listed_absent, mentions, normalize
from engine.domain import CheckType, SessionStatus


def noisy_or(confidences: Sequence[float]) -> float:
    p = 1.0
    for c in confidences:
        p *= 1.0 - min(1.0, max(0.0, c))
    return 1.0 - p


def _result(
    check: CheckType,
    found: list[tuple[str, float]],
    reasoning: list[str],
    config: FraudConfig,
    *,
    violations: list[str] | None = None,
    details: dict[str, object] | None = None,
) -> CheckResult:
    confidence = round2(noisy_or([c for _, c in found]))
    suspicious = confidence >= config.suspicious_threshold
    review = suspicious and config.review_low <= confidence < config.fraud_threshold
    if not found:
        reasoning.append("no indicators")
    return CheckResult(
        check_type=check,
        is_suspicious=suspicious,
        confidence_level=confidence,
        fraud_indicators=[name for name, _ in found],
        context_violations=violations or [],
        decision_reasoning="; ".join(reasoning),
        manual_review_required=review,
        details=dict(details or {}),
    )


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def outside_hours(purchase_at: dt.datetime, ctx: BusinessContext, grace_minutes: float) -> str | None:
    """'closed_day' / 'outside_opening_hours' / None for a purchase time in the store's zone."""
    local = purchase_at.astimezone(zoneinfo.ZoneInfo(ctx.operating_hours.timezone))
    minute = local.hour * 60 + local.minute
    today = ctx.operating_hours.day(local.weekday())
    yesterday = ctx.operating_hours.day((local.weekday() - 1) % 7)
    # A store that closes after midnight covers the early hours of the next day.
    if yesterday and _minutes(yesterday.close) < _minutes(yesterday.open):
        if minute <= _minutes(yesterday.close) + grace_minutes:
            return None
    if today is None:
        return "closed_day"
    open_m, close_m = _minutes(today.open), _minutes(today.close)
    if close_m < open_m:
        close_m += 24 * 60
    if open_m - grace_minutes <= minute <= close_m + grace_minutes:
        return None
    return "outside_opening_hours"


def timing_check(facts: CallFacts, ctx: BusinessContext | None, config: FraudConfig) -> CheckResult:
    found: list[tuple[str, float]] = []
    why: list[str] = []
    if facts.purchase_at is None:
        why.append("purchase time unknown: opening-hours and gap rules skipped")
    else:
        if ctx is None:
            why.append("no business context: opening-hours rule skipped")
        else:
            verdict = outside_hours(facts.purchase_at, ctx, config.opening_grace_minutes)
            if verdict == "closed_day":
                found.append(("purchase_on_closed_day", config.w_closed_day))
                why.append("purchase on a day the store is closed")
            elif verdict == "outside_opening_hours":
                found.append(("purchase_outside_opening_hours", config.w_outside_hours))
                why.append("purchase time outside the store's opening hours")
        gap_h = (facts.call_initiated_at - facts.purchase_at).total_seconds() / 3600
        if gap_h < 0:
            found.append(("call_before_purchase", config.w_call_before_purchase))
            why.append("call started before the purchase")
        elif gap_h > config.max_verification_gap_hours:
            found.append(("long_verification_gap", config.w_long_gap))
            why.append(f"call {gap_h:.0f} h after the purchase")
    duration = facts.duration_seconds
    if duration is None and facts.call_connected_at and facts.call_ended_at:
        duration = (facts.call_ended_at - facts.call_connected_at).total_seconds()
    if (
        facts.status == SessionStatus.COMPLETED
        and duration is not None
        and duration < config.min_call_seconds
    ):
        found.append(("implausibly_short_call", config.w_short_call))
        why.append(f"completed call lasted {duration:.0f} s")
    return _result(CheckType.TIMING, found, why, config)


async def content_check(
    lines: Sequence[TranscriptLine],
    ctx: BusinessContext | None,
    signals: Signals,
    llm: StructuredLLM | None,
    config: AnalysisConfig,
) -> CheckResult:
    fc = config.fraud
    found: list[tuple[str, float]] = []
    why: list[str] = []
    if signals.customer_turns == 0:
        why.append("no customer speech: content not checkable")
        return _result(CheckType.CONTENT, found, why, fc)
    if signals.customer_turns >= 2 and signals.generic_ratio >= fc.generic_answer_ratio:
        rise = (signals.generic_ratio - fc.generic_answer_ratio) / max(1e-9, 1 - fc.generic_answer_ratio)
        found.append(("generic_answers", min(0.95, fc.w_generic + 0.35 * rise)))
        why.append(f"{signals.generic_answers} of {signals.customer_turns} answers are generic")
    answers = [normalize(a) for a in customer_answers(lines)]
    if len(answers) >= 3 and len(set(answers)) == 1:
        found.append(("identical_answers", 0.5))
        why.append("the same answer to every question")
    rules_conf = noisy_or([c for _, c in found])
    if llm is not None:
        answer, info = await llm.complete(
            ContentFraudCheck,
            CONTENT_FRAUD_SYSTEM,
            call_prompt(lines, ctx, config.llm.max_transcript_chars),
            CONTENT_FRAUD_PROMPT_VERSION,
        )
        if answer is None:
            why.append(f"LLM check unavailable ({info.error}); rules only")
        else:
            c = min(1.0, max(0.0, answer.confidence))
            p_llm = c if answer.is_suspicious else 1.0 - c
            blended = (1 - fc.llm_content_weight) * rules_conf + fc.llm_content_weight * p_llm
            if answer.is_suspicious and blended > rules_conf:
                found.append(("llm_content_suspicion", (blended - rules_conf) / max(1e-9, 1 - rules_conf)))
            why.append(f"LLM: {'suspicious' if answer.is_suspicious else 'not suspicious'} ({c:.2f})")
            why.extend(f"LLM indicator: {i}" for i in answer.indicators[:5])
    return _result(CheckType.CONTENT, found, why, fc)


def context_check(
    lines: Sequence[TranscriptLine], ctx: BusinessContext | None, signals: Signals, config: FraudConfig
) -> CheckResult:
    found: list[tuple[str, float]] = []
    why: list[str] = []
    violations: list[str] = []
    if ctx is None:
        why.append("skipped: no business context for this store")
        return _result(CheckType.CONTEXT, found, why, config)
    for dep in signals.foreign_departments:
        if dep in lexicon.UNIVERSAL_DEPARTMENTS:
            continue
        explicit = listed_absent(dep, ctx)
        found.append(
            (
                f"department_not_in_store:{dep}",
                config.w_absent_department if explicit else config.w_foreign_department,
            )
        )
        violations.append(f"department_not_in_store:{dep}")
    text = normalize(" ".join(customer_answers(lines)))
    for i, fact in enumerate(ctx.baseline_facts.facts):
        if fact.contradicting_phrases and mentions(text, fact.contradicting_phrases):
            found.append((f"contradicts_fact:{i}", config.w_fact_contradiction))
            violations.append(f"contradicts_fact:{fact.statement}")
    if violations:
        why.append(f"{len(violations)} statement(s) contradict the store's profile")
    return _result(CheckType.CONTEXT, found, why, config, violations=violations)


def pattern_check(
    facts: CallFacts, lines: Sequence[TranscriptLine], evidence: PatternEvidence, config: FraudConfig
) -> CheckResult:
    found: list[tuple[str, float]] = []
    why: list[str] = []
    text = " ".join(customer_answers(lines))
    sig = signature(text, shingle_words=config.shingle_words, permutations=config.minhash_permutations)
    if facts.phone_index is not None:
        window_start = facts.call_initiated_at - dt.timedelta(days=config.phone_window_days)
        uses = [u for u in evidence.same_phone if u.session_id != facts.session_id and u.at >= window_start]
        stores = {u.store_id for u in uses} | {facts.store_id}
        if len(stores) > config.max_stores_per_phone:
            found.append(("phone_across_stores", config.w_phone_many_stores))
            why.append(f"same phone at {len(stores)} stores in {config.phone_window_days:g} days")
        if len(uses) + 1 > config.max_calls_per_phone:
            found.append(("phone_too_often", config.w_phone_too_often))
            why.append(f"same phone in {len(uses) + 1} calls in {config.phone_window_days:g} days")
    matches: list[str] = []
    other_store: list[str] = []
    if len(text.split()) >= config.min_duplicate_words and sig:
        for cand in evidence.recent_signatures:
            if cand.session_id == facts.session_id:
                continue
            if facts.phone_index is not None and cand.phone_index == facts.phone_index:
                continue  # the same caller repeating themself is the phone rules' business
            if similarity(sig, cand.signature) >= config.duplicate_jaccard:
                (matches if cand.same_store else other_store).append(cand.session_id)
    if matches:
        found.append(("near_duplicate_transcript", config.w_duplicate))
        why.append(f"customer speech nearly identical to {len(matches)} other caller(s) at this store")
    elif other_store:
        found.append(("near_duplicate_other_store", config.w_duplicate_other_store))
        why.append(f"customer speech nearly identical to {len(other_store)} caller(s) at other stores")
    if evidence.store_sessions_in_burst_window > config.burst_max_sessions:
        found.append(("store_burst", config.w_burst))
        why.append(
            f"{evidence.store_sessions_in_burst_window} sessions at this store "
            f"within {config.burst_window_minutes:g} min"
        )
    details: dict[str, object] = {"minhash": sig, "duplicate_of": (matches + other_store)[:10]}
    return _result(CheckType.PATTERN, found, why, config, details=details)


def combine(checks: list[CheckResult], config: FraudConfig) -> FraudVerdict:
    suspicious = [c for c in checks if c.is_suspicious]
    combined = round2(noisy_or([c.confidence_level for c in suspicious]))
    fraudulent = combined >= config.fraud_threshold
    review = not fraudulent and combined >= config.review_low
    reasons = [FraudReason(c.check_type, c.confidence_level, c.fraud_indicators) for c in suspicious]
    return FraudVerdict(
        checks=checks,
        combined_confidence=combined,
        is_fraudulent=fraudulent,
        manual_review_required=review,
        fraud_reasons=reasons,
    )


async def run_fraud_checks(
    lines: Sequence[TranscriptLine],
    ctx: BusinessContext | None,
    facts: CallFacts,
    evidence: PatternEvidence,
    llm: StructuredLLM | None,
    config: AnalysisConfig,
) -> FraudVerdict:
    """All four checks for one call, combined. Never raises for LLM trouble."""
    signals = compute_signals(lines, ctx, config.scoring)
    checks = [
        timing_check(facts, ctx, config.fraud),
        await content_check(lines, ctx, signals, llm, config),
        context_check(lines, ctx, signals, config.fraud),
        pattern_check(facts, lines, evidence, config.fraud),
    ]
    return combine(checks, config.fraud)
