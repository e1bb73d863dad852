"""Each fraud rule, MinHash near-duplicates, the combination and its grey zone."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.analysis import fraud, minhash
from engine.analysis.config import DEFAULT_CONFIG
from engine.analysis.models import CallFacts, DuplicateCandidate, PatternEvidence, PhoneUse
from engine.analysis.signals import compute_signals
from engine.domain import CheckType, SessionStatus
from tests.unit.analysis.samples import DETAILED, GENERIC, profile, transcript

FC = DEFAULT_CONFIG.fraud
STHLM = dt.timezone(dt.timedelta(hours=1))  # November: CET


def facts(**over: object) -> CallFacts:
    base: dict[str, object] = {
        "session_id": "s1",
        "store_id": "store-a",
        "status": SessionStatus.COMPLETED,
        "call_initiated_at": dt.datetime(2026, 11, 25, 15, 0, tzinfo=STHLM),  # a Wednesday
        "purchase_at": dt.datetime(2026, 11, 25, 12, 0, tzinfo=STHLM),
        "duration_seconds": 120.0,
        "phone_index": "idx-1",
    }
    base.update(over)
    return CallFacts(**base)  # type: ignore[arg-type]


def test_timing_honest_call_is_clean() -> None:
    r = fraud.timing_check(facts(), profile(), FC)
    assert not r.is_suspicious and r.fraud_indicators == [] and r.check_type == CheckType.TIMING


def test_timing_purchase_outside_hours_and_closed_day() -> None:
    night = fraud.timing_check(
        facts(
            purchase_at=dt.datetime(2026, 11, 25, 23, 30, tzinfo=STHLM),
            call_initiated_at=dt.datetime(2026, 11, 26, 10, 0, tzinfo=STHLM),
        ),
        profile(),
        FC,
    )
    assert night.is_suspicious and "purchase_outside_opening_hours" in night.fraud_indicators
    sunday = fraud.timing_check(
        facts(
            purchase_at=dt.datetime(2026, 11, 29, 12, 0, tzinfo=STHLM),
            call_initiated_at=dt.datetime(2026, 11, 29, 15, 0, tzinfo=STHLM),
        ),
        profile(),
        FC,
    )
    assert sunday.fraud_indicators == ["purchase_on_closed_day"]
    grace = fraud.timing_check(
        facts(
            purchase_at=dt.datetime(2026, 11, 25, 21, 5, tzinfo=STHLM),
            call_initiated_at=dt.datetime(2026, 11, 26, 10, 0, tzinfo=STHLM),
        ),
        profile(),
        FC,
    )
    assert not grace.is_suspicious


def test_timing_gap_and_short_call() -> None:
    r = fraud.timing_check(
        facts(duration_seconds=8.0, call_initiated_at=dt.datetime(2026, 11, 20, 9, 0, tzinfo=STHLM)),
        profile(),
        FC,
    )
    assert set(r.fraud_indicators) == {"call_before_purchase", "implausibly_short_call"}
    assert r.confidence_level == round(1 - (1 - FC.w_call_before_purchase) * (1 - FC.w_short_call), 2)
    no_ctx = fraud.timing_check(
        facts(
            purchase_at=dt.datetime(2026, 11, 25, 23, 30, tzinfo=STHLM),
            call_initiated_at=dt.datetime(2026, 11, 26, 10, 0, tzinfo=STHLM),
        ),
        None,
        FC,
    )
    assert not no_ctx.is_suspicious and "skipped" in no_ctx.decision_reasoning


async def test_content_generic_answers_flagged_rules_only() -> None:
    lines = transcript(GENERIC)
    sig = compute_signals(lines, profile(), DEFAULT_CONFIG.scoring)
    r = await fraud.content_check(lines, profile(), sig, None, DEFAULT_CONFIG)
    assert r.is_suspicious and "generic_answers" in r.fraud_indicators
    honest = transcript(DETAILED)
    r2 = await fraud.content_check(
        honest, profile(), compute_signals(honest, profile(), DEFAULT_CONFIG.scoring), None, DEFAULT_CONFIG
    )
    assert not r2.is_suspicious


def test_context_absent_and_foreign_departments_and_facts() -> None:
    lines = transcript(
        (
            "Fiskdisken hade fina räkor och laxen var färsk i dag.",
            "Parkeringen var full.",
            "Elektronikavdelningen var stökig.",
        )
    )
    sig = compute_signals(lines, profile(), DEFAULT_CONFIG.scoring)
    r = fraud.context_check(lines, profile(), sig, FC)
    assert r.is_suspicious
    assert "department_not_in_store:fisk" in r.context_violations
    assert (
        "department_not_in_store:fisk" in r.fraud_indicators and r.confidence_level >= FC.w_absent_department
    )
    assert "department_not_in_store:elektronik" in r.context_violations
    assert any(v.startswith("contradicts_fact:") for v in r.context_violations)
    honest = transcript(DETAILED)
    assert not fraud.context_check(
        honest, profile(), compute_signals(honest, profile(), DEFAULT_CONFIG.scoring), FC
    ).is_suspicious
    assert not fraud.context_check(lines, None, sig, FC).is_suspicious


def test_pattern_phone_across_stores_and_too_often() -> None:
    at = dt.datetime(2026, 11, 24, 12, 0, tzinfo=STHLM)
    uses = [PhoneUse(f"o{i}", f"store-{i}", at) for i in range(3)]
    r = fraud.pattern_check(facts(), transcript(DETAILED), PatternEvidence(same_phone=uses), FC)
    assert {"phone_across_stores", "phone_too_often"} <= set(r.fraud_indicators)
    old = [PhoneUse("o", "store-x", at - dt.timedelta(days=30))]
    assert not fraud.pattern_check(
        facts(), transcript(DETAILED), PatternEvidence(same_phone=old), FC
    ).is_suspicious


def test_pattern_near_duplicate_from_another_caller_only() -> None:
    original = " ".join(DETAILED)
    sig = minhash.signature(original)
    other = PatternEvidence(recent_signatures=[DuplicateCandidate("o1", "idx-2", sig)])
    r = fraud.pattern_check(facts(), transcript(DETAILED), other, FC)
    assert "near_duplicate_transcript" in r.fraud_indicators and r.details["duplicate_of"] == ["o1"]
    same_caller = PatternEvidence(recent_signatures=[DuplicateCandidate("o1", "idx-1", sig)])
    assert not fraud.pattern_check(facts(), transcript(DETAILED), same_caller, FC).is_suspicious
    different = PatternEvidence(
        recent_signatures=[
            DuplicateCandidate(
                "o2",
                "idx-2",
                minhash.signature(" ".join(GENERIC) + " helt andra ord om mejeriet och osten i dag"),
            )
        ]
    )
    assert not fraud.pattern_check(facts(), transcript(DETAILED), different, FC).is_suspicious


def test_pattern_burst() -> None:
    r = fraud.pattern_check(
        facts(),
        transcript(DETAILED),
        PatternEvidence(store_sessions_in_burst_window=FC.burst_max_sessions + 5),
        FC,
    )
    assert r.fraud_indicators == ["store_burst"] and r.manual_review_required


def test_combine_grey_zone_and_fraud() -> None:
    def check(c: float) -> fraud.CheckResult:
        return fraud._result(CheckType.CONTENT, [("x", c)], [], FC)

    assert not fraud.combine([check(0.2)], FC).manual_review_required
    grey = fraud.combine([check(0.6)], FC)
    assert grey.manual_review_required and not grey.is_fraudulent
    both = fraud.combine([check(0.6), check(0.6)], FC)
    assert both.is_fraudulent and both.combined_confidence == 0.84 and len(both.fraud_reasons) == 2


async def test_run_all_checks_on_honest_call() -> None:
    v = await fraud.run_fraud_checks(
        transcript(DETAILED), profile(), facts(), PatternEvidence(), None, DEFAULT_CONFIG
    )
    assert [c.check_type for c in v.checks] == list(CheckType)
    assert not v.is_fraudulent and not v.manual_review_required and v.fraud_reasons == []


word = st.sampled_from("kaffe bröd kassa kö frukt bra dålig ost mjölk personal pris i och var det en".split())


@settings(max_examples=40, deadline=None)
@given(st.lists(word, min_size=12, max_size=60), st.lists(word, min_size=12, max_size=60))
def test_minhash_estimate_tracks_exact_jaccard(a: list[str], b: list[str]) -> None:
    ta, tb = " ".join(a), " ".join(b)
    est = minhash.similarity(minhash.signature(ta, permutations=256), minhash.signature(tb, permutations=256))
    assert abs(est - minhash.exact_jaccard(ta, tb)) < 0.25
    assert minhash.similarity(minhash.signature(ta), minhash.signature(ta)) == 1.0


def test_checkout_is_never_a_foreign_department() -> None:
    from engine.analysis.context import validate_business_context
    from engine.analysis.signals import foreign_departments
    from tests.unit.analysis.samples import profile_payload

    payload = profile_payload()
    payload["departments"] = [{"name": "Kaffebaren"}]
    payload["question_configuration"] = {"questions": [{"id": "q", "text": "Hur var kaffet?"}]}
    cafe = validate_business_context(payload)
    assert foreign_departments("det var trångt vid kassan", cafe) == []
    assert foreign_departments("fiskdisken var tom", cafe) == ["fisk"]  # absent "fiskdisk" not counted twice
