"""Simulated customers driven tick by tick (20 ms of virtual time each): no sockets, no clock."""

from __future__ import annotations

import dataclasses
from typing import Any

from engine.emulators.customer import MachineCaller, ScenarioCaller, SilentCaller, build_caller, is_voiced
from engine.emulators.scenarios import Scenario, default_scenarios, parse_scenarios
from engine.emulators.speech import SpeechDecoder, encode_speech, split_frames

GREETING = "Hej! Jag ringer från Matboden om ditt köp i dag. Är det okej att jag ställer några frågor?"
Q1 = "Hur upplevde du frukt och grönt?"
Q2 = "Vad tyckte du om vår kampanj på kaffe?"
Q3 = "Var det något som kunde ha varit bättre vid kassan?"
CLOSING = "Tack för dina svar! Du får mellan 2 och 15 procent tillbaka. Hej då!"


def scenario(**fields: Any) -> Scenario:
    data = {"name": "t", "phone": "+46701740699", **fields}
    return parse_scenarios({"scenarios": [data]}).scenarios[0]


@dataclasses.dataclass
class Event:
    tick: int
    kind: str  # "said" | "dtmf" | "hangup"
    value: str = ""


class Harness:
    """Plays AI turns to a caller and records what it says (decoded), presses and when it hangs up."""

    def __init__(self, caller: Any) -> None:
        self.caller = caller
        self.tick = 0
        self.events: list[Event] = []
        self.voice_ticks: list[int] = []
        self._decoder = SpeechDecoder()
        self.hung_up = False

    def step(self, played: bytes | None) -> None:
        self.tick += 1
        action = self.caller.tick(played)
        frame = action.frame or b"\xff" * 160
        if is_voiced(frame):
            self.voice_ticks.append(self.tick)
        for text in self._decoder.feed(frame):
            self.events.append(Event(self.tick, "said", text))
        if action.dtmf:
            self.events.append(Event(self.tick, "dtmf", action.dtmf))
        if action.hangup:
            self.events.append(Event(self.tick, "hangup"))
            self.hung_up = True

    def ai_says(self, text: str) -> int:
        """Play one AI utterance; returns the tick its audio started."""
        start = self.tick + 1
        for frame in split_frames(encode_speech(text)):
            if self.hung_up:
                break
            self.step(frame)
        return start

    def silence(self, seconds: float) -> None:
        for _ in range(round(seconds * 50)):
            if self.hung_up:
                return
            self.step(None)

    def said(self) -> list[str]:
        return [e.value for e in self.events if e.kind == "said"]


def test_answers_in_order_then_goodbye() -> None:
    sc = scenario(
        answers=["Frukten var fräsch.", "Kaffet var billigt.", "Kassan gick fort."], goodbye="Hej då!"
    )
    caller = ScenarioCaller(sc)
    h = Harness(caller)
    for text in (GREETING, Q1, Q2, Q3, CLOSING):
        h.ai_says(text)
        h.silence(4)
    assert h.said() == [
        "Ja, det går bra.",
        "Frukten var fräsch.",
        "Kaffet var billigt.",
        "Kassan gick fort.",
        "Hej då!",
    ]
    assert not h.hung_up


def test_reply_waits_for_reply_delay_after_ai_audio() -> None:
    h = Harness(ScenarioCaller(scenario(reply_delay_ms=1000)))
    h.ai_says(GREETING)
    ai_end = h.tick
    h.silence(3)
    assert h.voice_ticks and h.voice_ticks[0] - ai_end == 50  # 1000 ms after the last AI frame


def test_barge_in_starts_at_offset_while_ai_talks() -> None:
    sc = scenario(answers=[{"say": "Förlåt att jag avbryter.", "barge_in_ms": 800}, "Svar två."])
    h = Harness(ScenarioCaller(sc))
    h.ai_says(GREETING)
    h.silence(3)
    voiced_before = len(h.voice_ticks)
    start = h.ai_says(Q1 + " " + Q2 + " " + Q3)  # a long question: ~7 s
    first_voice = h.voice_ticks[voiced_before]
    assert first_voice - start == 40  # 800 ms into the AI's audio
    assert first_voice < h.tick  # ... while the AI was still talking
    h.silence(4)
    h.ai_says(Q2)
    h.silence(4)
    assert h.said() == ["Ja, det går bra.", "Förlåt att jag avbryter.", "Svar två."]


def test_dtmf_and_hangup_turns() -> None:
    h = Harness(ScenarioCaller(scenario(consent={"dtmf": "9"})))
    h.ai_says(GREETING)
    h.silence(2)
    assert [e.value for e in h.events if e.kind == "dtmf"] == ["9"] and h.said() == []

    h = Harness(
        ScenarioCaller(scenario(answers=["Det var bra.", {"say": "Nu lägger jag på.", "hangup": True}]))
    )
    for text in (GREETING, Q1, Q2, Q3):
        h.ai_says(text)
        h.silence(4)
    assert h.said() == ["Ja, det går bra.", "Det var bra.", "Nu lägger jag på."]
    assert h.events[-1].kind == "hangup"


def test_hangup_after_seconds_and_silent_turn() -> None:
    h = Harness(ScenarioCaller(scenario(hangup_after_seconds=5.0)))
    h.ai_says(GREETING)
    h.silence(10)
    assert h.events[-1] == Event(250, "hangup")

    h = Harness(ScenarioCaller(scenario(answers=[{"silence": True}, "Efter påminnelsen."])))
    for text in (GREETING, Q1, "Är du kvar?"):
        h.ai_says(text)
        h.silence(4)
    assert h.said() == ["Ja, det går bra.", "Efter påminnelsen."]


def test_persona_answers_from_named_departments_and_campaigns() -> None:
    scenarios = default_scenarios()
    caller = build_caller(scenarios.by_name("persona-positive-omar"), scenarios, outcome="answer")
    h = Harness(caller)
    for text in (GREETING, Q1, Q2):
        h.ai_says(text)
        h.silence(8)
    said = h.said()
    assert said[0] == "Ja, det går bra."
    assert "Frukt och grönt" in said[1] and "kaffe" in said[2]
    # Same seed, same words.
    again = Harness(build_caller(scenarios.by_name("persona-positive-omar"), scenarios, outcome="answer"))
    for text in (GREETING, Q1, Q2):
        again.ai_says(text)
        again.silence(8)
    assert again.said() == said


def test_copied_script_fraud_repeats_answers_word_for_word() -> None:
    scenarios = default_scenarios()
    copier, original = scenarios.by_name("fraud-copied-script"), scenarios.by_name("happy-erik")
    assert copier.answers == original.answers and copier.fraud == "copied_script"


def test_silent_and_machine_callers() -> None:
    h = Harness(SilentCaller(hangup_after_s=2.0))
    h.silence(5)
    assert h.voice_ticks == [] and h.events == [Event(100, "hangup")]

    log = type("Log", (), {"customer_said": [], "customer_heard": [], "decode_errors": 0})()
    h = Harness(MachineCaller("Lämna ett meddelande.", hangup_after_s=6.0, log=log))
    h.silence(10)
    assert h.said() == ["Lämna ett meddelande."] and h.events[-1] == Event(300, "hangup")
    assert log.customer_said == ["Lämna ett meddelande."]


def test_a_repeated_question_gets_the_same_reply_again() -> None:
    h = Harness(ScenarioCaller(scenario(answers=["Svar ett.", "Svar två."])))
    for text in (GREETING, Q1, Q1, Q2):  # the AI did not catch the first reply to Q1
        h.ai_says(text)
        h.silence(4)
    assert h.said() == ["Ja, det går bra.", "Svar ett.", "Svar ett.", "Svar två."]
