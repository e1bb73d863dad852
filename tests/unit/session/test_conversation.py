"""Conversation policy: question choice, the per-call cap, campaign dates, prior progress."""

from __future__ import annotations

import datetime as dt

from engine.session.conversation import (
    BusinessContext,
    InterviewProgress,
    PlannedQuestion,
    QuestionConfig,
    build_script,
    choose_questions,
    context_from_profile,
    is_opt_out,
    normalise,
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


# ---------------------------------------------------------------------- the profile reader, field by field


def test_names_read_lists_objects_and_wrapped_lists() -> None:
    ctx = context_from_profile(
        "B",
        [
            " Chark ",
            "",
            "   ",
            {"title": " Bageri "},
            {"description": "Mejeri"},
            {"name": 3},
            {"name": "", "title": "Kassa"},
        ],
        [],
        [],
    )
    # Blank names are dropped, names trimmed; an object's name, else title, else description.
    assert ctx.departments == ["Chark", "Bageri", "Mejeri", "Kassa"]
    for key in ("departments", "campaigns", "items", "list"):
        assert context_from_profile("B", {key: ["A"]}, [], []).departments == ["A"]
    # A mapping without a list inside: its keys are the names.
    assert context_from_profile("B", {"Chark": 1, "Frukt": 2}, [], []).departments == ["Chark", "Frukt"]
    # Neither a list nor a mapping (a bare string is one word, not a list of letters): nothing.
    for odd in (5, None, "Chark"):
        assert context_from_profile("B", odd, [], []).departments == []


def test_campaign_dates_on_their_first_and_last_day_and_unreadable_dates() -> None:
    today = dt.date(2026, 11, 29)
    campaigns = {
        "campaigns": [
            {"name": "Börjar i dag", "starts_on": "2026-11-29T08:00:00"},
            {"name": "Slutade i går", "ends_on": "2026-11-28"},
            {"name": "Börjar i morgon", "starts_on": dt.date(2026, 11, 30)},
            {"name": "Slutar i dag", "ends_on": dt.date(2026, 11, 29)},
            {"name": "Oläsligt datum", "starts_on": "snart", "ends_on": 20261231},
            "Utan datum",
        ]
    }
    got = context_from_profile("B", [], campaigns, [], today=today).campaigns
    # An unreadable date is an open end: the campaign runs.
    assert got == ["Börjar i dag", "Slutar i dag", "Oläsligt datum", "Utan datum"]
    # Not a list: read like departments (a mapping's keys), a bare string gives nothing.
    assert context_from_profile("B", [], {"Kaffe": {}}, [], today=today).campaigns == ["Kaffe"]
    assert context_from_profile("B", [], "Kaffe", [], today=today).campaigns == []


def test_campaign_dates_default_to_today() -> None:
    today = dt.date.today()
    running = {"name": "Nu", "starts_on": str(today - dt.timedelta(days=1)), "ends_on": str(today)}
    over = {"name": "Förr", "ends_on": str(today - dt.timedelta(days=1))}
    assert context_from_profile("B", [], [running, over], []).campaigns == ["Nu"]


def test_the_question_cap_from_the_profile() -> None:
    def cap(config: dict[str, object]) -> int:
        return context_from_profile("B", [], [], config).max_questions

    assert cap({}) == 3
    assert cap({"max_questions_per_call": 10}) == 10
    assert cap({"max_questions_per_call": 11}) == 10  # never past the hard limit
    for bad in (0, -2, True, 2.0, "2", None):
        assert cap({"max_questions_per_call": bad}) == 3
    # The API's key wins over the older one; an unusable new value falls back to the old key.
    assert cap({"max_questions_per_call": 1, "max_questions": 5}) == 1
    assert cap({"max_questions_per_call": 0, "max_questions": 5}) == 5
    assert cap({"max_questions": 4}) == 4


def test_each_question_field_is_read_or_defaulted() -> None:
    questions = [
        {
            "text": "  Hur  var\n kassan? ",
            "frequency": 1,
            "priority": 2,
            "id": "kassa",
            "department": "Kassa",
        },
        {"question": "Fallback?", "frequency": 100, "priority": "hög", "id": 7, "department": "  "},
        {"text": "Halva?", "frequency": 0.5, "department": 3},
        {"text": "Procent?", "frequency": 25.0},
        {"text": "Negativ?", "frequency": -1},
        {"text": "Ord?", "frequency": "ofta"},
        {"text": "   "},
        {"text": 5, "question": "Används inte?"},
        {"frequency": 1.0},
        "  En   sträng? ",
        7,
    ]
    got = context_from_profile("B", [], [], {"questions": questions}).questions
    assert got == [
        QuestionConfig("Hur var kassan?", 1.0, 2, "kassa", "Kassa"),
        QuestionConfig("Fallback?", 1.0, 0, "", None),
        QuestionConfig("Halva?", 0.5, 0, "", None),
        QuestionConfig("Procent?", 0.25, 0, "", None),
        QuestionConfig("Negativ?", 0.0, 0, "", None),
        QuestionConfig("Ord?", 1.0, 0, "", None),
        QuestionConfig("En sträng?", 1.0, 0, "", None),
    ]
    # A bare list of questions (no mapping around it) is read the same way.
    assert context_from_profile("B", [], [], ["Q?"]).questions == [QuestionConfig("Q?")]


def test_a_single_question_written_as_a_string_is_one_question() -> None:
    # Not one question per letter: the API accepts any JSON here.
    for config in ({"questions": "Hur var besöket?"}, "Hur var besöket?"):
        assert context_from_profile("B", [], [], config).questions == [QuestionConfig("Hur var besöket?")]
    assert context_from_profile("B", [], [], {"questions": 5}).questions == []


# ---------------------------------------------------------------------- the plan


def test_question_ids_are_made_safe_short_and_unique() -> None:
    long = "a" * 50
    ctx = BusinessContext(
        "B",
        questions=[
            QuestionConfig("1?", id="x"),
            QuestionConfig("2?", id="x"),
            QuestionConfig("3?", id="x"),
            QuestionConfig("4?", id="--ö--"),
            QuestionConfig("5?", id="<>"),
            QuestionConfig("6?", id=long),
            QuestionConfig("7?", id=long),
            QuestionConfig("8?", id="e\u0301"),
            QuestionConfig("9?", id="a.b:c_d-e"),
        ],
        max_questions=10,
    )
    ids = [q.id for q in choose_questions(ctx, "s")]
    assert ids == ["x", "x-2", "x-3", "ö", "q5", "a" * 40, "a" * 36 + "-2", "\u00e9", "a.b:c_d-e"]


def test_priority_orders_the_questions_and_the_cap_keeps_the_first() -> None:
    ctx = BusinessContext(
        "B",
        questions=[
            QuestionConfig("a", priority=1),
            QuestionConfig("b", priority=5),
            QuestionConfig("c", priority=1),
        ],
    )
    plan = choose_questions(ctx, "s")
    assert [(q.id, q.text) for q in plan] == [("q1", "b"), ("q2", "a"), ("q3", "c")]
    # A cap below one still asks one question.
    zero = BusinessContext("B", questions=[QuestionConfig("a"), QuestionConfig("b")], max_questions=0)
    assert [q.text for q in choose_questions(zero, "s")] == ["a"]
    two = BusinessContext(
        "B",
        questions=[QuestionConfig(t, priority=p) for t, p in [("a", 0), ("b", 1), ("c", 2)]],
        max_questions=2,
    )
    assert [q.text for q in choose_questions(two, "s")] == ["c", "b"]


def test_departments_and_campaigns_fill_the_plan_up_to_two_questions() -> None:
    ctx = BusinessContext("B", departments=["Chark"], campaigns=["Kaffe"], max_questions=5)
    plan = choose_questions(ctx, "s")
    assert [q.id for q in plan] == ["extra-1", "extra-2"]
    by_text = {q.text: q.department for q in plan}
    assert by_text == {
        "Hur upplevde du avdelningen Chark?": "Chark",
        "Vad tyckte du om kampanjen Kaffe?": None,
    }
    # With more material than room, two fillers; with one configured question, one more.
    many = BusinessContext("B", departments=["a", "b", "c"], campaigns=["d", "e"], max_questions=5)
    assert len(choose_questions(many, "s")) == 2
    one = BusinessContext(
        "B", departments=["a", "b"], questions=[QuestionConfig("Q?", id="q")], max_questions=5
    )
    assert [q.id for q in choose_questions(one, "s")] == ["q", "extra-1"]
    # Two configured questions need no filler.
    full = BusinessContext("B", departments=["a"], questions=[QuestionConfig("1?"), QuestionConfig("2?")])
    assert [q.text for q in choose_questions(full, "s")] == ["1?", "2?"]
    # The filler order is shuffled by the session id, and reproducible.
    firsts = {choose_questions(many, f"s{i}")[0].text for i in range(30)}
    assert len(firsts) > 1
    assert choose_questions(many, "s7") == choose_questions(many, "s7")


def test_with_nothing_configured_one_general_question() -> None:
    plan = choose_questions(BusinessContext("B"), "s")
    assert plan == [PlannedQuestion("visit", "Hur var ditt besök i butiken i dag?")]


def test_the_scripts_store_name_and_resumption() -> None:
    assert build_script(BusinessContext("  Ica \n Nära "), "s").store_name == "Ica Nära"
    assert build_script(BusinessContext("   "), "s").store_name == "butiken"
    fresh = build_script(CTX, "s1", InterviewProgress())
    assert not fresh.resumed and fresh.remaining == fresh.questions
    assert build_script(CTX, "s1", InterviewProgress(attempts=1)).resumed
    assert fresh.question_ids == frozenset(q.id for q in fresh.questions)
    assert InterviewProgress(frozenset({"a"}), frozenset({"b"})).done == frozenset({"a", "b"})


def test_opt_out_phrases_match_whole_words_in_any_case_and_punctuation() -> None:
    assert normalise("  Ring—INTE  igen!! ") == "ring inte igen"
    for said in (
        "RING MIG INTE",
        "ring aldrig mer, tack",
        "Stop calling me.",
        "Do not call me again",
        "ring inte mer",
    ):
        assert is_opt_out(said), said
    assert not is_opt_out("string inte igen")  # a phrase inside a longer word is not it
    assert not is_opt_out("")


def test_frequencies_above_one_are_percentages_and_a_missing_one_is_always() -> None:
    def freq(value: object) -> float:
        item = {"text": "Q?"} if value is None else {"text": "Q?", "frequency": value}
        return context_from_profile("B", [], [], [item]).questions[0].frequency

    assert freq(None) == 1.0 and freq(1) == 1.0 and freq(0.25) == 0.25
    assert freq(2) == 0.02 and freq(1.5) == 0.015 and freq(150) == 1.0  # capped at always
    # A missing priority is 0: configuration order stays.
    ctx = context_from_profile("B", [], [], [{"text": "A?"}, {"text": "B?", "priority": 1}, {"text": "C?"}])
    assert [q.priority for q in ctx.questions] == [0, 1, 0]


def test_a_date_with_a_time_is_read_as_that_day() -> None:
    campaigns = [{"name": "Slutade i går kväll", "ends_on": "2026-11-28T23:00:00"}]
    assert context_from_profile("B", [], campaigns, [], today=dt.date(2026, 11, 29)).campaigns == []


def test_a_configured_questions_department_and_id_come_with_it() -> None:
    ctx = BusinessContext("B", questions=[QuestionConfig("Kassan?", id="X-ray", department="Kassa")])
    assert choose_questions(ctx, "s")[0] == PlannedQuestion("X-ray", "Kassan?", "Kassa")


def test_the_script_is_the_sessions_plan() -> None:
    ctx = BusinessContext(
        "B", questions=[QuestionConfig(f"Q{i}?", 0.5, id=f"q{i}") for i in range(6)], max_questions=6
    )
    plans = {sid: build_script(ctx, sid).questions for sid in ("s1", "s2", "s3", "s4")}
    assert all(plans[sid] == choose_questions(ctx, sid) for sid in plans)
    assert len({tuple(q.id for q in plan) for plan in plans.values()}) > 1
