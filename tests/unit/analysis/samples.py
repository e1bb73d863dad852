"""Sample profiles and transcripts shared by the analysis tests."""

from __future__ import annotations

from typing import Any

from engine.analysis.context import BusinessContext, validate_business_context
from engine.analysis.models import TranscriptLine
from engine.domain import MessageType, Speaker


def profile_payload() -> dict[str, Any]:
    day = {"open": "08:00", "close": "21:00"}
    return {
        "operating_hours": {
            "timezone": "Europe/Stockholm",
            **{d: day for d in ("monday", "tuesday", "wednesday", "thursday", "friday")},
            "saturday": {"open": "09:00", "close": "18:00"},
            "sunday": None,
        },
        "departments": [
            {
                "name": "Frukt och grönt",
                "aliases": ["frukt", "grönsaker", "grönt"],
                "products": ["bananer", "äpplen"],
            },
            {"name": "Bageri", "aliases": ["bröd"], "description": "Nybakat varje morgon"},
            {"name": "Kassa", "aliases": ["kassan", "kassorna", "självscanning"]},
            {"name": "Mejeri", "aliases": ["mjölk", "ost"], "products": ["yoghurt"]},
        ],
        "current_campaigns": [{"name": "Kaffekampanj", "keywords": ["kaffe"], "description": "Två för en"}],
        "question_configuration": {
            "max_questions_per_call": 3,
            "questions": [
                {
                    "id": "q1",
                    "text": "Hur upplevde du frukt och grönt?",
                    "frequency": 1.0,
                    "department": "Frukt och grönt",
                },
                {"id": "q2", "text": "Vad tyckte du om kaffekampanjen?", "frequency": 0.5},
                {"id": "q3", "text": "Hur gick det i kassan?", "frequency": 0.8, "department": "Kassa"},
            ],
        },
        "baseline_facts": {
            "store_name": "Testbutiken",
            "absent_departments": ["fiskdisk", "apotek"],
            "facts": [
                {
                    "statement": "Butiken har ingen parkering",
                    "contradicting_phrases": ["parkeringen", "parkeringsplats"],
                }
            ],
        },
    }


def profile() -> BusinessContext:
    return validate_business_context(profile_payload(), version=3)


QUESTIONS = (
    "Hur upplevde du frukt och grönt?",
    "Vad tyckte du om kaffekampanjen?",
    "Hur gick det i kassan?",
)

DETAILED = (
    "Bananerna och äpplena var fräscha men grönsakerna såg lite trötta ut vid lunch, det borde fyllas på oftare.",
    "Kaffekampanjen var prisvärd, jag köpte två paket kaffe och det var smidigt att hitta dem vid bageriet.",
    "Det var lång kö i kassan klockan 17.30, bara en kassa öppen och självscanningen var trasig.",
)
GENERIC = ("Bra.", "Det var bra.", "Vet inte.")


def transcript(
    answers: tuple[str, ...] | list[str], questions: tuple[str, ...] = QUESTIONS
) -> list[TranscriptLine]:
    lines = [
        TranscriptLine(Speaker.AI, "Hej! Är det okej att jag ställer några frågor?", 0, 0, MessageType.SYSTEM)
    ]
    lines.append(TranscriptLine(Speaker.CUSTOMER, "Ja det går bra.", 1, 2000, MessageType.RESPONSE))
    order = 2
    for q, a in zip(questions, answers, strict=False):
        lines.append(TranscriptLine(Speaker.AI, q, order, order * 4000, MessageType.QUESTION))
        lines.append(
            TranscriptLine(Speaker.CUSTOMER, a, order + 1, order * 4000 + 2000, MessageType.RESPONSE)
        )
        order += 2
    return lines
