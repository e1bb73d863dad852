"""Each fraud rule at its edges: which indicator, at what confidence, with what reasoning."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from engine.analysis import fraud, minhash
from engine.analysis.config import DEFAULT_CONFIG, AnalysisConfig, FraudConfig
from engine.analysis.context import validate_business_context
from engine.analysis.llm import (
    CONTENT_FRAUD_PROMPT_VERSION,
    CONTENT_FRAUD_SYSTEM,
    ContentFraudCheck,
    LLMCallInfo,
)
from engine.analysis.models import (
    CallFacts,
    DuplicateCandidate,
    PatternEvidence,
    PhoneUse,
    Signals,
    TranscriptLine,
)
from engine.analysis.signals import customer_answers
from engine.domain import CheckType, MessageType, SessionStatus, Speaker
from tests.unit.analysis.samples import DETAILED, profile, profile_payload, transcript

FC = DEFAULT_CONFIG.fraud
CET = dt.timezone(dt.timedelta(hours=1))  # Stockholm in November
WED = dt.datetime(2026, 11, 25, 12, 0, tzinfo=CET)


def facts(**over: object) -> CallFacts:
    base: dict[str, object] = {
        "session_id": "s1",
        "store_id": "store-a",
        "status": SessionStatus.COMPLETED,
        "call_initiated_at": WED + dt.timedelta(hours=3),
        "purchase_at": WED,
        "duration_seconds": 120.0,
        "phone_index": "idx-1",
    }
    base.update(over)
    return CallFacts(**base)  # type: ignore[arg-type]


def signals(**over: object) -> Signals:
    base: dict[str, object] = {
        "customer_turns": 3,
        "customer_words": 30,
        "mean_answer_words": 10.0,
        "questions_asked": 3,
        "questions_answered": 3,
        "coverage": 1.0,
        "departments": [],
        "foreign_departments": [],
        "products": [],
        "times": 0,
        "topics": [],
        "specific_mentions": 0,
        "generic_answers": 0,
        "generic_ratio": 0.0,
        "positive_mentions": 0,
        "negative_mentions": 0,
    }
    base.update(over)
    return Signals(**base)  # type: ignore[arg-type]


def late_night_store() -> Any:
    """Fridays 18:00–02:00, Saturdays 09:00–18:00, other days 08:30–21:00."""
    payload = profile_payload()
    hours = payload["operating_hours"]
    for day in ("monday", "tuesday", "wednesday", "thursday"):
        hours[day] = {"open": "08:30", "close": "21:00"}
    hours["friday"] = {"open": "18:00", "close": "02:00"}
    return validate_business_context(payload)


# ---------------------------------------------------------------- the check result


def test_noisy_or_clamps_each_confidence() -> None:
    assert fraud.noisy_or([]) == 0.0
    assert fraud.noisy_or([0.5, 0.5]) == pytest.approx(0.75)
    assert fraud.noisy_or([1.5]) == 1.0
    assert fraud.noisy_or([-0.5, 0.2]) == pytest.approx(0.2)


def test_result_review_is_the_suspicious_grey_zone() -> None:
    cfg = FraudConfig(suspicious_threshold=0.5, review_low=0.3, fraud_threshold=0.8)
    low = fraud._result(CheckType.TIMING, [("x", 0.4)], [], cfg)
    assert not low.is_suspicious and not low.manual_review_required  # below suspicious: no review
    grey = fraud._result(CheckType.TIMING, [("x", 0.79)], ["why"], cfg)
    assert grey.is_suspicious and grey.manual_review_required
    sure = fraud._result(CheckType.TIMING, [("x", 0.8)], [], cfg)
    assert sure.is_suspicious and not sure.manual_review_required
    clean = fraud._result(CheckType.CONTEXT, [], ["a", "b"], cfg)
    assert clean.decision_reasoning == "a; b; no indicators" and clean.confidence_level == 0.0
    assert grey.decision_reasoning == "why" and grey.fraud_indicators == ["x"]


# ---------------------------------------------------------------- opening hours


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-11-25 08:19", "outside_opening_hours"),  # opens 08:30, 10 min grace
        ("2026-11-25 08:20", None),
        ("2026-11-25 08:45", None),
        ("2026-11-25 21:10", None),
        ("2026-11-25 21:11", "outside_opening_hours"),
        ("2026-11-27 23:30", None),  # Friday evening, open past midnight
        ("2026-11-27 17:49", "outside_opening_hours"),
        ("2026-11-28 01:30", None),  # Saturday early hours belong to Friday's opening
        ("2026-11-28 02:10", None),  # Friday's close + grace
        ("2026-11-28 02:11", "outside_opening_hours"),
        ("2026-11-28 08:55", None),  # Saturday's own opening, with grace
        ("2026-11-29 12:00", "closed_day"),  # Sunday
        ("2026-11-30 01:00", "outside_opening_hours"),  # Sunday was closed: no carry-over
    ],
)
def test_outside_hours(local: str, expected: str | None) -> None:
    when = dt.datetime.fromisoformat(local).replace(tzinfo=CET)
    assert fraud.outside_hours(when, late_night_store(), 10) == expected


# ---------------------------------------------------------------- timing


def test_timing_reasoning_when_rules_cannot_run() -> None:
    unknown = fraud.timing_check(facts(purchase_at=None), profile(), FC)
    assert (
        unknown.decision_reasoning
        == "purchase time unknown: opening-hours and gap rules skipped; no indicators"
    )
    no_ctx = fraud.timing_check(facts(), None, FC)
    assert no_ctx.decision_reasoning == "no business context: opening-hours rule skipped; no indicators"
    sun = WED + dt.timedelta(days=4)
    sunday = fraud.timing_check(facts(purchase_at=sun, call_initiated_at=sun), profile(), FC)
    assert (
        sunday.fraud_indicators == ["purchase_on_closed_day"] and sunday.confidence_level == FC.w_closed_day
    )
    assert sunday.decision_reasoning.startswith("purchase on a day the store is closed")
    late = WED.replace(hour=23)
    night = fraud.timing_check(facts(purchase_at=late, call_initiated_at=late), profile(), FC)
    assert night.fraud_indicators == ["purchase_outside_opening_hours"]
    assert night.confidence_level == FC.w_outside_hours
    assert night.decision_reasoning == "purchase time outside the store's opening hours"


def test_timing_gap_edges() -> None:
    def indicators(gap: dt.timedelta) -> list[str]:
        return fraud.timing_check(facts(call_initiated_at=WED + gap), profile(), FC).fraud_indicators

    assert indicators(dt.timedelta(0)) == []
    assert indicators(dt.timedelta(minutes=30)) == []
    assert indicators(dt.timedelta(seconds=-1)) == ["call_before_purchase"]
    assert indicators(dt.timedelta(hours=72)) == []
    assert indicators(dt.timedelta(hours=72, seconds=30)) == ["long_verification_gap"]
    late = fraud.timing_check(facts(call_initiated_at=WED + dt.timedelta(hours=100)), profile(), FC)
    assert (
        late.confidence_level == FC.w_long_gap and late.decision_reasoning == "call 100 h after the purchase"
    )
    early = fraud.timing_check(facts(call_initiated_at=WED - dt.timedelta(hours=1)), profile(), FC)
    assert early.decision_reasoning == "call started before the purchase"


def test_short_call_from_duration_or_connected_and_ended() -> None:
    connected = WED + dt.timedelta(hours=3)

    def indicators(**over: object) -> list[str]:
        return fraud.timing_check(facts(**over), profile(), FC).fraud_indicators

    assert indicators(duration_seconds=25.0) == []
    assert indicators(duration_seconds=24.9) == ["implausibly_short_call"]
    span = {"call_connected_at": connected, "call_ended_at": connected + dt.timedelta(seconds=10)}
    assert indicators(duration_seconds=None, **span) == ["implausibly_short_call"]
    assert indicators(duration_seconds=120.0, **span) == []  # a stored duration wins
    assert indicators(duration_seconds=None, call_connected_at=connected) == []  # unknown length
    assert indicators(duration_seconds=120.0, call_ended_at=connected) == []
    assert indicators(duration_seconds=5.0, status=SessionStatus.FAILED) == []  # only completed calls
    short = fraud.timing_check(facts(duration_seconds=9.6), profile(), FC)
    assert short.decision_reasoning == "completed call lasted 10 s"


# ---------------------------------------------------------------- content


class FakeContentLLM:
    def __init__(self, answer: ContentFraudCheck | None) -> None:
        self.answer = answer
        self.prompts: list[str] = []
        self.asked: list[tuple[Any, str, str]] = []

    async def complete(self, schema: Any, system: str, user: str, prompt_version: str) -> Any:
        self.prompts.append(user)
        self.asked.append((schema, system, prompt_version))
        info = LLMCallInfo("fake", prompt_version, 1, 0.1, error=None if self.answer else "RateLimitError")
        return self.answer, info


def _content_lines(answers: list[str]) -> list[TranscriptLine]:
    lines = []
    for i, a in enumerate(answers):
        lines.append(TranscriptLine(Speaker.AI, f"Fråga {i}?", 2 * i, 2000 * i, MessageType.QUESTION))
        lines.append(TranscriptLine(Speaker.CUSTOMER, a, 2 * i + 1, 2000 * i + 1000, MessageType.RESPONSE))
    return lines


async def _content(
    sig: Signals, answers: list[str] | None = None, llm: Any = None, config: AnalysisConfig = DEFAULT_CONFIG
) -> fraud.CheckResult:
    lines = _content_lines(answers if answers is not None else ["a b c", "d e f", "g h i"])
    return await fraud.content_check(lines, profile(), sig, llm, config)


async def test_content_without_customer_speech() -> None:
    r = await _content(signals(customer_turns=0), [])
    assert r.check_type is CheckType.CONTENT and r.fraud_indicators == [] and not r.is_suspicious
    assert r.decision_reasoning == "no customer speech: content not checkable; no indicators"
    one = await _content(signals(customer_turns=1, generic_ratio=1.0, generic_answers=1), ["bra"])
    assert one.fraud_indicators == []  # one generic answer is not a pattern


async def test_generic_answers_confidence_rises_with_the_ratio() -> None:
    two = await _content(signals(customer_turns=2, generic_answers=2, generic_ratio=1.0), ["bra", "ok"])
    assert two.fraud_indicators == ["generic_answers"] and two.confidence_level == 0.9  # 0.55 + 0.35
    at = await _content(signals(generic_ratio=0.6, generic_answers=2))
    assert at.confidence_level == 0.55
    assert at.decision_reasoning == "2 of 3 answers are generic"
    mid = await _content(signals(generic_ratio=0.8))
    assert mid.confidence_level == 0.73  # 0.55 + 0.35 × (0.8 − 0.6) / 0.4 = 0.725
    below = await _content(signals(generic_ratio=0.59))
    assert below.fraud_indicators == []
    capped = dataclasses.replace(DEFAULT_CONFIG, fraud=dataclasses.replace(FC, w_generic=0.8))
    assert (await _content(signals(generic_ratio=1.0), config=capped)).confidence_level == 0.95


async def test_identical_answers_need_three_and_all_the_same() -> None:
    same = await _content(
        signals(), ["Det var helt okej där", "det var helt okej där.", "Det var helt okej där"]
    )
    assert same.fraud_indicators == ["identical_answers"] and same.confidence_level == 0.5
    assert same.decision_reasoning == "the same answer to every question"
    assert (await _content(signals(), ["svar ett", "svar ett"])).fraud_indicators == []
    assert (await _content(signals(), ["svar ett", "svar ett", "svar två"])).fraud_indicators == []


async def test_llm_opinion_is_blended_with_the_rules() -> None:
    suspicious = FakeContentLLM(
        ContentFraudCheck(is_suspicious=True, confidence=0.8, indicators=["a"], reasoning="r")
    )
    r = await _content(signals(), llm=suspicious)
    # rules 0; blended = 0.5·0 + 0.5·0.8 = 0.4
    assert r.fraud_indicators == ["llm_content_suspicion"] and r.confidence_level == 0.4
    assert r.decision_reasoning == "LLM: suspicious (0.80); LLM indicator: a"
    assert "Butiken har ingen parkering" in suspicious.prompts[0]  # the store's context is in the prompt
    assert suspicious.asked[0] == (ContentFraudCheck, CONTENT_FRAUD_SYSTEM, CONTENT_FRAUD_PROMPT_VERSION)
    unsure = FakeContentLLM(
        ContentFraudCheck(is_suspicious=True, confidence=0.0, indicators=[], reasoning="")
    )
    assert (await _content(signals(), llm=unsure)).fraud_indicators == []  # adds nothing: no indicator
    with_rules = await _content(signals(generic_ratio=0.8), llm=suspicious)
    # rules 0.725; blended = 0.5·0.725 + 0.5·0.8 = 0.7625 → the check's confidence
    assert with_rules.confidence_level == 0.76
    weaker = FakeContentLLM(
        ContentFraudCheck(is_suspicious=True, confidence=0.6, indicators=[], reasoning="")
    )
    assert (await _content(signals(generic_ratio=0.8), llm=weaker)).fraud_indicators == ["generic_answers"]


async def test_llm_saying_not_suspicious_or_failing_adds_nothing() -> None:
    honest = FakeContentLLM(
        ContentFraudCheck(is_suspicious=False, confidence=0.9, indicators=list("abcdefg"), reasoning="")
    )
    r = await _content(signals(), llm=honest)
    assert r.fraud_indicators == [] and r.confidence_level == 0.0
    assert r.decision_reasoning == (
        "LLM: not suspicious (0.90); " + "; ".join(f"LLM indicator: {i}" for i in "abcde") + "; no indicators"
    )
    over = FakeContentLLM(ContentFraudCheck(is_suspicious=True, confidence=1.7, indicators=[], reasoning=""))
    clamped = await _content(signals(), llm=over)
    assert clamped.confidence_level == 0.5 and "LLM: suspicious (1.00)" in clamped.decision_reasoning
    failed = await _content(signals(), llm=FakeContentLLM(None))
    assert failed.decision_reasoning == "LLM check unavailable (RateLimitError); rules only; no indicators"


# ---------------------------------------------------------------- context


def test_context_weights_and_reasoning() -> None:
    lines = _content_lines(["inget särskilt"])
    skipped = fraud.context_check(lines, None, signals(), FC)
    assert skipped.check_type is CheckType.CONTEXT
    assert skipped.decision_reasoning == "skipped: no business context for this store; no indicators"
    sig = signals(foreign_departments=["kassa", "elektronik", "apotek"])
    r = fraud.context_check(lines, profile(), sig, FC)
    # kassa is everywhere; elektronik is just not listed; apotek is listed as absent
    assert r.fraud_indicators == ["department_not_in_store:elektronik", "department_not_in_store:apotek"]
    assert r.confidence_level == round(1 - (1 - FC.w_foreign_department) * (1 - FC.w_absent_department), 2)
    assert r.decision_reasoning == "2 statement(s) contradict the store's profile"
    parked = fraud.context_check(_content_lines(["Parkeringen var full"]), profile(), signals(), FC)
    assert parked.fraud_indicators == ["contradicts_fact:0"]
    assert parked.context_violations == ["contradicts_fact:Butiken har ingen parkering"]
    assert parked.confidence_level == FC.w_fact_contradiction


# ---------------------------------------------------------------- patterns


def test_phone_rules_count_other_sessions_inside_the_window() -> None:
    start = facts().call_initiated_at - dt.timedelta(days=7)

    def check(uses: list[PhoneUse]) -> fraud.CheckResult:
        return fraud.pattern_check(facts(), [], PatternEvidence(same_phone=uses), FC)

    mine = PhoneUse("s1", "store-z", start + dt.timedelta(days=1))
    old = PhoneUse("o0", "store-y", start - dt.timedelta(seconds=1))
    assert check([mine, old]).fraud_indicators == []  # this session and old ones do not count
    edge = [PhoneUse(f"o{i}", "store-a", start) for i in range(3)]
    too_often = check(edge)
    assert too_often.fraud_indicators == ["phone_too_often"]  # 4 calls > 3, the window's edge included
    assert too_often.decision_reasoning == "same phone in 4 calls in 7 days"
    assert check(edge[:2]).fraud_indicators == []  # 3 calls: allowed
    two_stores = [PhoneUse("o1", "store-b", start)]
    assert check(two_stores).fraud_indicators == []  # 2 stores: allowed
    three = check([*two_stores, PhoneUse("o2", "store-c", start)])
    assert three.fraud_indicators == ["phone_across_stores"]
    assert three.decision_reasoning == "same phone at 3 stores in 7 days"
    assert (
        fraud.pattern_check(
            facts(phone_index=None), [], PatternEvidence(same_phone=edge), FC
        ).fraud_indicators
        == []
    )


def _words(n: int) -> list[TranscriptLine]:
    text = " ".join(f"ord{i}" for i in range(n))
    return _content_lines([text])


def test_near_duplicates_need_enough_words_and_another_caller() -> None:
    twelve = _words(12)
    sig = minhash.signature(" ".join(f"ord{i}" for i in range(12)))
    other = DuplicateCandidate("o1", "idx-2", sig)
    assert fraud.pattern_check(
        facts(), twelve, PatternEvidence(recent_signatures=[other]), FC
    ).fraud_indicators == ["near_duplicate_transcript"]
    eleven = _words(11)
    sig11 = minhash.signature(" ".join(f"ord{i}" for i in range(11)))
    short = PatternEvidence(recent_signatures=[DuplicateCandidate("o1", "idx-2", sig11)])
    assert fraud.pattern_check(facts(), eleven, short, FC).fraud_indicators == []
    # This session's own row and the same caller's rows are skipped, not the end of the search.
    evidence = PatternEvidence(
        recent_signatures=[
            DuplicateCandidate("s1", "idx-9", sig),
            DuplicateCandidate("o2", "idx-1", sig),
            other,
        ]
    )
    r = fraud.pattern_check(facts(), twelve, evidence, FC)
    assert r.details["duplicate_of"] == ["o1"] and r.confidence_level == FC.w_duplicate
    assert r.decision_reasoning == "customer speech nearly identical to 1 other caller(s) at this store"


def test_duplicates_at_other_stores_are_recorded_below_suspicion() -> None:
    twelve = _words(12)
    sig = minhash.signature(" ".join(f"ord{i}" for i in range(12)))
    elsewhere = PatternEvidence(recent_signatures=[DuplicateCandidate("o1", "idx-2", sig, same_store=False)])
    r = fraud.pattern_check(facts(), twelve, elsewhere, FC)
    assert r.fraud_indicators == ["near_duplicate_other_store"] and not r.is_suspicious
    assert r.confidence_level == FC.w_duplicate_other_store
    assert r.decision_reasoning == "customer speech nearly identical to 1 caller(s) at other stores"
    assert r.details == {"minhash": sig, "duplicate_of": ["o1"]}


def test_signature_uses_the_configured_shingles_and_permutations() -> None:
    cfg = dataclasses.replace(FC, shingle_words=2, minhash_permutations=16)
    text = " ".join(customer_answers(transcript(DETAILED)))
    r = fraud.pattern_check(facts(), transcript(DETAILED), PatternEvidence(), cfg)
    assert r.details["minhash"] == minhash.signature(text, shingle_words=2, permutations=16)
    assert len(r.details["minhash"]) == 16


def test_store_burst_edge() -> None:
    at_limit = PatternEvidence(store_sessions_in_burst_window=FC.burst_max_sessions)
    assert fraud.pattern_check(facts(), [], at_limit, FC).fraud_indicators == []
    over = PatternEvidence(store_sessions_in_burst_window=FC.burst_max_sessions + 1)
    r = fraud.pattern_check(facts(), [], over, FC)
    assert (
        r.fraud_indicators == ["store_burst"]
        and r.decision_reasoning == "21 sessions at this store within 10 min"
    )


def test_combine_reasons_and_review() -> None:
    checks = [
        fraud._result(CheckType.TIMING, [("late", 0.6)], [], FC),
        fraud._result(CheckType.PATTERN, [("burst", 0.3)], [], FC),
    ]
    v = fraud.combine(checks, FC)
    assert v.combined_confidence == 0.6 and v.manual_review_required and not v.is_fraudulent
    assert [(r.check_type, r.confidence, r.indicators) for r in v.fraud_reasons] == [
        (CheckType.TIMING, 0.6, ["late"])
    ]
    calm = fraud.combine([fraud._result(CheckType.TIMING, [("x", 0.49)], [], FC)], FC)
    assert calm.combined_confidence == 0.0 and not calm.manual_review_required
    sure = fraud.combine([fraud._result(CheckType.TIMING, [("x", 0.8)], [], FC)], FC)
    assert sure.is_fraudulent and not sure.manual_review_required


def test_duplicate_threshold_is_inclusive_and_at_most_ten_are_kept() -> None:
    twelve = _words(12)
    sig = minhash.signature(" ".join(f"ord{i}" for i in range(12)))
    exact = dataclasses.replace(FC, duplicate_jaccard=1.0)
    one = PatternEvidence(recent_signatures=[DuplicateCandidate("o1", "idx-2", sig)])
    assert fraud.pattern_check(facts(), twelve, one, exact).fraud_indicators == ["near_duplicate_transcript"]
    many = PatternEvidence(
        recent_signatures=[DuplicateCandidate(f"o{i}", f"idx-{i + 2}", sig) for i in range(11)]
    )
    r = fraud.pattern_check(facts(), twelve, many, FC)
    assert r.details["duplicate_of"] == [f"o{i}" for i in range(10)]
    assert r.decision_reasoning == "customer speech nearly identical to 11 other caller(s) at this store"


def test_review_starts_at_review_low() -> None:
    at_low = fraud.combine([fraud._result(CheckType.TIMING, [("x", 0.5)], [], FC)], FC)
    assert at_low.combined_confidence == 0.5 and at_low.manual_review_required


async def test_all_checks_see_the_store_context() -> None:
    llm = FakeContentLLM(None)
    await fraud.run_fraud_checks(
        transcript(DETAILED), profile(), facts(), PatternEvidence(), llm, DEFAULT_CONFIG
    )
    assert "Butiken har ingen parkering" in llm.prompts[0]
