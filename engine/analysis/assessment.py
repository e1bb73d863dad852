"""Quality assessment of one call: deterministic signals + a structured LLM opinion → scores, reward.

Pure apart from the injected ``StructuredLLM``: give it a transcript and a
profile, get an ``Assessment`` (one quality_assessments row). It never raises
for LLM trouble and never invents a score: an LLM failure yields a rules-only
assessment saying so, an empty or one-sided transcript an explicit
``insufficient_transcript`` assessment with zero depth/usefulness.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import msgspec

from engine.analysis import scoring
from engine.analysis.config import AnalysisConfig
from engine.analysis.context import BusinessContext
from engine.analysis.llm import (
    ASSESSMENT_PROMPT_VERSION,
    ASSESSMENT_SYSTEM,
    CallAssessment,
    StructuredLLM,
    call_prompt,
)
from engine.analysis.models import (
    ActionableItem,
    Assessment,
    AssessmentMetadata,
    LLMCallInfo,
    Signals,
    TranscriptLine,
)
from engine.analysis.signals import compute_signals, rule_items
from engine.domain import Speaker

MAX_SUMMARY_CHARS = 1200
MAX_ITEMS = 12


async def assess_call(
    lines: Sequence[TranscriptLine],
    ctx: BusinessContext | None,
    llm: StructuredLLM | None,
    config: AnalysisConfig,
    *,
    now: dt.datetime,
) -> Assessment:
    """Assess one call. ``llm=None`` means rules only by choice (recorded as such)."""
    reasons: list[str] = []
    if ctx is None:
        reasons.append("business_context_missing")
    customer_words = sum(len(ln.content.split()) for ln in lines if ln.speaker == Speaker.CUSTOMER)
    if not lines or customer_words == 0:
        reasons.insert(0, "empty_transcript" if not lines else "one_sided_transcript")
        return _insufficient(reasons, ctx, now)

    signals = compute_signals(lines, ctx, config.scoring)
    items = rule_items(lines, ctx)
    answer: CallAssessment | None = None
    info: LLMCallInfo | None = None
    if llm is not None:
        answer, info = await llm.complete(
            CallAssessment,
            ASSESSMENT_SYSTEM,
            call_prompt(lines, ctx, config.llm.max_transcript_chars),
            ASSESSMENT_PROMPT_VERSION,
        )
        if answer is None:
            reasons.append(f"llm_failed:{info.error}")
    else:
        reasons.append("llm_disabled")

    if answer is not None:
        items = _merge_items(_grounded_llm_items(answer, ctx), items)
    rl, rd, ru = scoring.rule_scores(signals, len(items), config.scoring)
    sc = config.scoring
    legitimacy = scoring.blend(answer.legitimacy if answer else None, rl, sc)
    depth = scoring.blend(answer.depth if answer else None, rd, sc)
    usefulness = scoring.blend(answer.usefulness if answer else None, ru, sc)
    overall = scoring.overall_score(legitimacy, depth, usefulness, sc)
    summary = (answer.summary.strip()[:MAX_SUMMARY_CHARS] if answer else "") or rules_summary(signals, items)
    return Assessment(
        legitimacy_score=scoring.round2(legitimacy),
        depth_score=scoring.round2(depth),
        usefulness_score=scoring.round2(usefulness),
        overall_quality_score=scoring.round2(overall),
        reward_percentage=scoring.reward_percentage(overall, config.reward),
        analysis_summary=summary,
        business_actionable_items=items[:MAX_ITEMS],
        analysis_metadata=AssessmentMetadata(
            status="scored",
            rules_only=answer is None,
            reasons=reasons,
            prompt_version=ASSESSMENT_PROMPT_VERSION,
            model=info.model if info else None,
            llm=info,
            signals=signals,
            context_version=ctx.context_version if ctx else None,
            context_missing=ctx is None,
            scoring_formula=scoring.FORMULA_VERSION,
            assessed_at=now,
        ),
    )


def _insufficient(reasons: list[str], ctx: BusinessContext | None, now: dt.datetime) -> Assessment:
    # No customer speech: nothing to score. Zero depth/usefulness is a measurement, not a default;
    # legitimacy 0 because nothing supports it. The reward is the floor and the reason is recorded.
    return Assessment(
        legitimacy_score=0.0,
        depth_score=0.0,
        usefulness_score=0.0,
        overall_quality_score=0.0,
        reward_percentage=2.0,
        analysis_summary="Ingen kundfeedback i samtalet.",
        business_actionable_items=[],
        analysis_metadata=AssessmentMetadata(
            status="insufficient_transcript",
            rules_only=True,
            reasons=reasons,
            prompt_version=ASSESSMENT_PROMPT_VERSION,
            model=None,
            llm=None,
            signals=None,
            context_version=ctx.context_version if ctx else None,
            context_missing=ctx is None,
            scoring_formula=scoring.FORMULA_VERSION,
            assessed_at=now,
        ),
    )


def _grounded_llm_items(answer: CallAssessment, ctx: BusinessContext | None) -> list[ActionableItem]:
    """LLM items, validated; a department the store does not have is dropped to None."""
    known = {d.name.lower(): d.name for d in ctx.departments} if ctx else {}
    out: list[ActionableItem] = []
    for raw in answer.actionable_items:
        try:
            item = msgspec.convert({**raw.model_dump(), "source": "llm"}, ActionableItem)
        except msgspec.ValidationError:
            continue
        if not item.topic.strip() or not item.suggestion.strip():
            continue
        dep = known.get((item.department or "").lower())
        out.append(msgspec.structs.replace(item, department=dep))
    return out


def _merge_items(llm_items: list[ActionableItem], rules: list[ActionableItem]) -> list[ActionableItem]:
    seen = {(i.department, i.topic.lower()) for i in llm_items}
    return llm_items + [i for i in rules if (i.department, i.topic.lower()) not in seen]


def rules_summary(signals: Signals, items: Sequence[ActionableItem]) -> str:
    """A summary built from counted facts only (no transcript text is copied)."""
    parts = [f"Kunden svarade på {signals.questions_answered} av {signals.questions_asked} frågor"]
    if signals.departments:
        parts.append("nämnde " + ", ".join(signals.departments))
    neg = [i.topic for i in items if i.sentiment == "negative"]
    pos = [i.topic for i in items if i.sentiment == "positive"]
    if pos:
        parts.append("positivt: " + ", ".join(sorted(set(pos))))
    if neg:
        parts.append("negativt: " + ", ".join(sorted(set(neg))))
    return "; ".join(parts) + ". (Regelbaserad sammanfattning.)"
