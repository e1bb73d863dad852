"""Instructions as the engine renders them, and the lines a verbatim model says for them."""

from __future__ import annotations

import random
from typing import Any

from engine.emulators.openai.goals import parse_goals
from engine.emulators.openai.phrasing import Phrasing
from engine.session.conversation import BusinessContext, QuestionConfig, build_script
from engine.session.prompt import render_instructions
from engine.session.tools import tool_definitions

CONTEXT = BusinessContext(
    store_name="Ica Kvantum Solna",
    departments=["frukt och grönt", "kassan"],
    campaigns=["kaffe"],
    questions=[
        QuestionConfig("Hur upplevde du frukt- och gröntavdelningen?", id="q1"),
        QuestionConfig("Vad tyckte du om kassan?", id="q2"),
    ],
    max_questions=2,
)
INSTRUCTIONS = render_instructions(build_script(CONTEXT, "fixture"), CONTEXT)
GOALS = parse_goals(INSTRUCTIONS)
_VERBATIM = Phrasing(GOALS, random.Random(0), verbatim=True)
GREETING = _VERBATIM.opening()
Q1 = "Hur upplevde du frukt- och gröntavdelningen?"
Q2 = "Vad tyckte du om kassan?"
CLOSING = _VERBATIM.closing("sv")


def session_config(*, tools: bool = False, **input_overrides: Any) -> dict[str, Any]:
    audio_input: dict[str, Any] = {
        "format": {"type": "audio/pcmu"},
        "transcription": {"model": "whisper-1", "language": "sv"},
        "turn_detection": {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 500,
        },
    }
    audio_input.update(input_overrides)
    session: dict[str, Any] = {
        "type": "realtime",
        "instructions": INSTRUCTIONS,
        "audio": {"input": audio_input, "output": {"format": {"type": "audio/pcmu"}, "voice": "alloy"}},
    }
    if tools:
        session["tools"] = tool_definitions()
        session["tool_choice"] = "auto"
    return session
