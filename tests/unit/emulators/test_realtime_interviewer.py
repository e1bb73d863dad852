"""The interviewer's script parsing and turn-taking (docs/instruction-format.md), as pure functions."""

from __future__ import annotations

from engine.emulators.openai.interviewer import (
    GENERIC_GREETING,
    GENERIC_REPLY,
    Turn,
    is_ending,
    match_keys,
    next_line,
    parse_script,
    say_override,
)

INSTRUCTIONS = """Du är en vänlig intervjuare. Prata svenska.
### SAMTALSMANUS
HÄLSNING: Hej! Jag ringer från Ica.
SAMTYCKE: Är det okej?
FRÅGA 2: Hur var kassan?
FRÅGA 1: Hur var frukten?
OKÄND: ignoreras
PÅMINNELSE: Är du kvar?
AVSLUTNING: Tack och hej då!
URSÄKT: Förlåt, tekniska problem.
### SLUT
Efter blocket: FRÅGA 3: inte med
"""
SCRIPT = parse_script(INSTRUCTIONS)


def said(*turns: tuple[str, str | None]) -> list[Turn]:
    return [Turn(role, text) for role, text in turns]


def test_parse_orders_questions_and_ignores_unknown_keys() -> None:
    assert SCRIPT.questions == (("FRÅGA 1", "Hur var frukten?"), ("FRÅGA 2", "Hur var kassan?"))
    assert SCRIPT.lines["HÄLSNING"] == "Hej! Jag ringer från Ica."
    assert "OKÄND" not in SCRIPT.lines
    assert SCRIPT.text("AVSLUTNING") == "Tack och hej då!"


def test_no_block_or_unterminated_block_is_empty() -> None:
    assert parse_script("Bara prosa.").empty
    assert parse_script("### SAMTALSMANUS\nHÄLSNING: Hej").empty


def test_greeting_then_questions_then_closing() -> None:
    history: list[Turn] = []
    spoken = []
    for answer in (None, "Ja", "Bra", "Snabbt", "Inget mer"):
        if answer is not None:
            history.append(Turn("user", answer))
        line = next_line(SCRIPT, history)
        spoken.append(line.text)
        history.append(Turn("assistant", line.text, line.keys))
    assert spoken == [
        "Hej! Jag ringer från Ica. Är det okej?",
        "Hur var frukten?",
        "Hur var kassan?",
        "Tack och hej då!",
        "Tack och hej då!",
    ]


def test_goodbye_and_opt_out_jump_to_closing() -> None:
    base = said(("assistant", "Hej! Jag ringer från Ica. Är det okej?"))
    for phrase in ("Nej, hejdå.", "HEJ DÅ", "Ring inte igen, tack", "adjö"):
        assert next_line(SCRIPT, [*base, Turn("user", phrase)]).keys == ("AVSLUTNING",)
    assert not is_ending("Hejsan, det var bra")


def test_replayed_text_is_matched_back_to_the_script() -> None:
    history = said(
        ("assistant", "Hej! Jag ringer från Ica. Är det okej?"),
        ("user", "Ja"),
        ("assistant", "Hur var frukten"),  # cut short by a truncation, punctuation lost
        ("user", "Bra"),
    )
    assert next_line(SCRIPT, history).text == "Hur var kassan?"
    assert match_keys(SCRIPT, "Hej! Jag ringer från Ica. Är det okej?") == ("HÄLSNING", "SAMTYCKE")


def test_interrupted_greeting_is_not_repeated() -> None:
    history = [Turn("assistant", "Hej! Jag", ("HÄLSNING", "SAMTYCKE")), Turn("user", "Vem är det?")]
    assert next_line(SCRIPT, history).text == "Hur var frukten?"


def test_unintelligible_turn_repeats_the_last_line() -> None:
    history = said(
        ("assistant", "Hej! Jag ringer från Ica. Är det okej?"),
        ("user", "Ja"),
        ("assistant", "Hur var frukten?"),
    )
    assert next_line(SCRIPT, [*history, Turn("user", None)]).text == "Hur var frukten?"
    # Something intelligible in the same turn wins.
    assert next_line(SCRIPT, [*history, Turn("user", None), Turn("user", "Fin")]).text == "Hur var kassan?"


def test_say_override() -> None:
    assert say_override("SÄG: Är du kvar?") == "Är du kvar?"
    assert say_override("Var kort.") is None
    assert say_override(None) is None
    line = next_line(SCRIPT, [], say="Är du kvar?")
    assert (line.text, line.keys) == ("Är du kvar?", ("PÅMINNELSE",))
    # A reminder does not count as having greeted.
    history = [Turn("assistant", "Är du kvar?", line.keys)]
    assert next_line(SCRIPT, history).keys == ("HÄLSNING", "SAMTYCKE")


def test_generic_replies_without_a_script() -> None:
    empty = parse_script("")
    assert next_line(empty, []).text == GENERIC_GREETING
    assert next_line(empty, said(("assistant", GENERIC_GREETING), ("user", "Hej"))).text == GENERIC_REPLY
