"""Conversation policy: the script, question choice, line classification."""

from __future__ import annotations

from engine.domain import MessageType
from engine.session.conversation import (
    BusinessContext,
    QuestionConfig,
    build_script,
    choose_questions,
    classify_ai_line,
    context_from_profile,
    is_goodbye,
    is_opt_out,
    render_instructions,
)

CTX = BusinessContext(
    store_name="Ica Kvantum Solna",
    departments=["frukt och grönt", "kassan"],
    campaigns=["kaffe"],
    questions=[
        QuestionConfig("Hur upplevde du bageriet?", 1.0),
        QuestionConfig("Hittade du allt du sökte?", 0.5),
        QuestionConfig("Aldrig?", 0.0),
    ],
)


def test_questions_are_reproducible_per_session_and_follow_frequency() -> None:
    assert choose_questions(CTX, "s1") == choose_questions(CTX, "s1")
    seen = {tuple(choose_questions(CTX, f"s{i}")) for i in range(50)}
    assert all("Hur upplevde du bageriet?" in q for q in seen)
    assert not any("Aldrig?" in q for q in seen)
    assert any("Hittade du allt du sökte?" in q for q in seen)
    assert any("Hittade du allt du sökte?" not in q for q in seen)


def test_instructions_follow_the_contract() -> None:
    script = build_script(CTX, "s1")
    text = render_instructions(script, CTX)
    block = text[text.index("### SAMTALSMANUS") :].splitlines()
    assert block[0] == "### SAMTALSMANUS" and block[-1] == "### SLUT"
    keys = [line.split(": ", 1)[0] for line in block[1:-1]]
    assert keys[:2] == ["HÄLSNING", "SAMTYCKE"]
    assert keys[-3:] == ["PÅMINNELSE", "AVSLUTNING", "URSÄKT"]
    assert keys[2:-3] == [f"FRÅGA {n}" for n in range(1, len(script.questions) + 1)]
    assert "mellan 2 och 15 procent" in script.closing
    assert "Ica Kvantum Solna" in script.greeting


def test_emulator_parses_our_script() -> None:
    from engine.emulators.openai.interviewer import parse_script

    script = build_script(CTX, "s9")
    parsed = parse_script(render_instructions(script, CTX))
    assert [q for _, q in parsed.questions] == script.questions
    assert parsed.lines["AVSLUTNING"] == script.closing


def test_classify() -> None:
    script = build_script(CTX, "s1")
    assert classify_ai_line(script, script.questions[0]).message_type is MessageType.QUESTION
    assert classify_ai_line(script, script.questions[0]).question_index == 1
    greet = classify_ai_line(script, script.greeting + " " + script.consent)
    assert greet.message_type is MessageType.SYSTEM and not greet.closing
    assert classify_ai_line(script, script.closing).closing
    assert classify_ai_line(script, script.apology).apology
    assert classify_ai_line(script, script.reminder).reminder


def test_goodbye_and_opt_out() -> None:
    assert is_goodbye("Nej tack, hej då!")
    assert is_goodbye("Hejdå")
    assert not is_goodbye("hej")
    assert is_opt_out("Snälla, ring inte igen.")
    assert not is_opt_out("ring igen")


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
