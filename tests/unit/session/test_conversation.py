"""Conversation policy: question choice, the per-call cap, campaign dates, prior progress."""

from __future__ import annotations

import datetime as dt

from engine.session.conversation import (
    BusinessContext,
    InterviewProgress,
    QuestionConfig,
    build_script,
    choose_questions,
    context_from_profile,
    is_opt_out,
)

CTX = BusinessContext(
    store_name="Ica Kvantum Solna",
    departments=["frukt och grönt", "kassan"],
    campaigns=["kaffe"],
    questions=[
        QuestionConfig("Hur upplevde du bageriet?", 1.0, id="bageri"),
        QuestionConfig("Hittade du allt du sökte?", 0.5, id="hitta"),
        QuestionConfig("Aldrig?", 0.0, id="aldrig"),
    ],
)


def _texts(ctx: BusinessContext, sid: str) -> list[str]:
    return [q.text for q in choose_questions(ctx, sid)]


def test_questions_are_reproducible_per_session_and_follow_frequency() -> None:
    assert choose_questions(CTX, "s1") == choose_questions(CTX, "s1")
    seen = {tuple(_texts(CTX, f"s{i}")) for i in range(50)}
    assert all("Hur upplevde du bageriet?" in q for q in seen)
    assert not any("Aldrig?" in q for q in seen)
    assert any("Hittade du allt du sökte?" in q for q in seen)
    assert any("Hittade du allt du sökte?" not in q for q in seen)


def test_question_ids_are_the_owners_and_unique_and_fillers_are_stable() -> None:
    plan = choose_questions(CTX, "s1")
    ids = [q.id for q in plan]
    assert ids[0] == "bageri" and len(set(ids)) == len(ids)
    dup = BusinessContext("B", questions=[QuestionConfig("A?", id="x"), QuestionConfig("B?", id="x")])
    assert [q.id for q in choose_questions(dup, "s")] == ["x", "x-2"]
    odd = BusinessContext("B", questions=[QuestionConfig("A?", id="a b\n<c>")])
    assert choose_questions(odd, "s")[0].id == "a-b-c"


def test_max_questions_per_call_is_honoured() -> None:
    many = [{"id": f"q{i}", "text": f"Fråga {i}?", "frequency": 1.0} for i in range(6)]
    one = context_from_profile("B", [], [], {"max_questions_per_call": 1, "questions": many})
    assert one.max_questions == 1
    assert [q.id for q in build_script(one, "s").questions] == ["q0"]
    legacy = context_from_profile("B", [], [], {"max_questions": 2, "questions": many})
    assert len(build_script(legacy, "s").questions) == 2
    default = context_from_profile("B", [], [], {"questions": many})
    assert len(build_script(default, "s").questions) == 3
    # Fillers never break the cap either.
    capped = BusinessContext("B", departments=["a", "b", "c"], max_questions=1)
    assert len(build_script(capped, "s").questions) == 1


def test_campaigns_only_within_their_dates() -> None:
    campaigns = [
        {"name": "Pågår", "starts_on": "2026-11-01", "ends_on": "2026-11-30"},
        {"name": "Slut", "starts_on": "2026-10-01", "ends_on": "2026-10-31"},
        {"name": "Kommer", "starts_on": "2026-12-01"},
        {"name": "Alltid"},
        {"name": "Sista dagen", "ends_on": "2026-11-29"},
    ]
    ctx = context_from_profile("B", [], campaigns, [], today=dt.date(2026, 11, 29))
    assert ctx.campaigns == ["Pågår", "Alltid", "Sista dagen"]


def test_prior_progress_leaves_only_what_is_left() -> None:
    full = build_script(CTX, "s1")
    first = full.questions[0].id
    progress = InterviewProgress(answered=frozenset({first}), attempts=1)
    again = build_script(CTX, "s1", progress)
    assert again.questions == full.questions  # the same plan on every attempt
    assert [q.id for q in again.remaining] == [q.id for q in full.questions[1:]]
    assert again.resumed and not full.resumed
    skipped = build_script(CTX, "s1", InterviewProgress(skipped=frozenset({first})))
    assert first not in [q.id for q in skipped.remaining] and not skipped.resumed


def test_spoken_opt_out_safety_net() -> None:
    assert is_opt_out("Snälla, ring inte igen.")
    assert is_opt_out("Please don't call me again")
    assert not is_opt_out("ring igen")
    assert not is_opt_out("Ring inte nu, jag kör bil")


def test_profile_reader_is_tolerant() -> None:
    ctx = context_from_profile(
        "Butik",
        [{"name": "Chark"}, "Mejeri", 3],
        {"campaigns": [{"title": "Veckans"}]},
        {"questions": [{"question": "Q1?", "frequency": 50}, "Q2?", {"bad": 1}], "max_questions": 2},
    )
    assert ctx.departments == ["Chark", "Mejeri"] and ctx.campaigns == ["Veckans"]
    assert [(q.text, q.frequency) for q in ctx.questions] == [("Q1?", 0.5), ("Q2?", 1.0)]
    assert ctx.max_questions == 2
