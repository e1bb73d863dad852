"""Conversation policy: the Swedish interview script and how to read what was said.

The script format is docs/instruction-format.md (the Realtime emulator parses
the same block). Questions come from the store's ``question_configuration``
chosen by their frequencies with a RNG seeded by the session id, so a session's
script is reproducible; departments and campaigns fill in when a store has
configured too few.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from engine.domain import MessageType

MAX_QUESTIONS = 3
REWARD_MIN_PERCENT = 2
REWARD_MAX_PERCENT = 15

START_MARKER = "### SAMTALSMANUS"
END_MARKER = "### SLUT"


class QuestionConfig(msgspec.Struct, frozen=True):
    text: str
    frequency: float = 1.0
    """Probability (0–1) that a call asks this question."""
    priority: int = 0


class BusinessContext(msgspec.Struct, frozen=True):
    """What the interview needs from a store's business_context_profile."""

    store_name: str
    departments: list[str] = []
    campaigns: list[str] = []
    questions: list[QuestionConfig] = []
    max_questions: int = MAX_QUESTIONS


def _names(value: Any) -> list[str]:
    """Departments/campaigns as stored: a list of strings or of objects with a name/title."""
    if isinstance(value, Mapping):
        for key in ("departments", "campaigns", "items", "list"):
            if key in value:
                return _names(value[key])
        return [str(k) for k in value]
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    out: list[str] = []
    for item in value:
        if isinstance(item, str) and item.strip():
            out.append(item.strip())
        elif isinstance(item, Mapping):
            name = item.get("name") or item.get("title") or item.get("description")
            if isinstance(name, str) and name.strip():
                out.append(name.strip())
    return out


def context_from_profile(
    store_name: str, departments: Any, campaigns: Any, question_configuration: Any
) -> BusinessContext:
    """Tolerant reader of the JSONB columns (the shapes the API accepts vary)."""
    raw_questions: Any = question_configuration
    max_questions = MAX_QUESTIONS
    if isinstance(question_configuration, Mapping):
        raw_questions = question_configuration.get("questions", [])
        mq = question_configuration.get("max_questions")
        if isinstance(mq, int) and mq > 0:
            max_questions = mq
    questions: list[QuestionConfig] = []
    for item in raw_questions if isinstance(raw_questions, Sequence) else []:
        if isinstance(item, str):
            questions.append(QuestionConfig(text=item))
        elif isinstance(item, Mapping):
            text = item.get("text") or item.get("question")
            if not isinstance(text, str) or not text.strip():
                continue
            freq = item.get("frequency", 1.0)
            freq_f = float(freq) if isinstance(freq, int | float) else 1.0
            if freq_f > 1.0:  # a percentage
                freq_f /= 100.0
            prio = item.get("priority", 0)
            questions.append(
                QuestionConfig(
                    text=" ".join(text.split()),
                    frequency=max(0.0, min(1.0, freq_f)),
                    priority=prio if isinstance(prio, int) else 0,
                )
            )
    return BusinessContext(
        store_name=store_name,
        departments=_names(departments),
        campaigns=_names(campaigns),
        questions=questions,
        max_questions=max_questions,
    )


class Script(msgspec.Struct, frozen=True):
    greeting: str
    consent: str
    questions: list[str]
    reminder: str
    closing: str
    apology: str


def choose_questions(context: BusinessContext, session_id: str) -> list[str]:
    """Each configured question is asked with its frequency (seeded by the session id)."""
    rng = random.Random(f"questions:{session_id}")
    chosen = [q for q in context.questions if rng.random() < q.frequency]
    chosen.sort(key=lambda q: -q.priority)  # stable: configuration order within a priority
    texts = [q.text for q in chosen][: context.max_questions]
    fillers = [f"Hur upplevde du avdelningen {d}?" for d in context.departments]
    fillers += [f"Vad tyckte du om kampanjen {c}?" for c in context.campaigns]
    rng.shuffle(fillers)
    for text in fillers:
        if len(texts) >= min(2, context.max_questions):
            break
        texts.append(text)
    if not texts:
        texts.append("Hur var ditt besök i butiken i dag?")
    return [" ".join(t.split()) for t in texts]


def build_script(context: BusinessContext, session_id: str) -> Script:
    store = " ".join(context.store_name.split()) or "butiken"
    return Script(
        greeting=f"Hej! Jag ringer från {store} om ditt köp i dag.",
        consent=(
            "Samtalet spelas in för att förbättra butiken. Är det okej att jag ställer några korta frågor?"
        ),
        questions=choose_questions(context, session_id),
        reminder="Är du kvar? Jag hör dig inte riktigt.",
        closing=(
            "Tack för dina svar! Beroende på hur utförlig din feedback är får du mellan "
            f"{REWARD_MIN_PERCENT} och {REWARD_MAX_PERCENT} procent tillbaka på köpet. Hej då!"
        ),
        apology="Förlåt, vi har tekniska problem. Vi ringer upp dig senare. Hej då!",
    )


def render_instructions(script: Script, context: BusinessContext) -> str:
    """The Realtime ``session.instructions``: Swedish prose, then the script block."""
    facts = []
    if context.departments:
        facts.append("Butikens avdelningar: " + ", ".join(context.departments) + ".")
    if context.campaigns:
        facts.append("Aktuella kampanjer: " + ", ".join(context.campaigns) + ".")
    lines = [
        f"Du är en vänlig intervjuare som ringer kunder åt {context.store_name} efter ett köp.",
        "Tala alltid svenska, kort och naturligt. Följ samtalsmanuset nedan ordagrant:",
        "säg HÄLSNING och SAMTYCKE först, ställ sedan en FRÅGA i taget i ordning och vänta på svar,",
        "och säg AVSLUTNING när frågorna är besvarade eller om kunden säger hej då eller ber oss",
        "att inte ringa igen. Ge inga löften utöver det som står i manuset.",
        "Om instruktionen för ett svar är 'SÄG: <text>', säg exakt den texten.",
        *facts,
        "",
        START_MARKER,
        f"HÄLSNING: {script.greeting}",
        f"SAMTYCKE: {script.consent}",
        *(f"FRÅGA {n}: {q}" for n, q in enumerate(script.questions, start=1)),
        f"PÅMINNELSE: {script.reminder}",
        f"AVSLUTNING: {script.closing}",
        f"URSÄKT: {script.apology}",
        END_MARKER,
    ]
    return "\n".join(lines)


_NON_WORD = re.compile(r"[^\w]+")


def normalise(text: str) -> str:
    return _NON_WORD.sub(" ", unicodedata.normalize("NFC", text).lower()).strip()


_GOODBYES = ("hej då", "hejdå", "adjö")
_OPT_OUTS = ("ring inte igen", "ring inte mer", "ring mig inte")


def _contains(text: str, phrases: Sequence[str]) -> bool:
    spaced = f" {normalise(text)} "
    return any(f" {p} " in spaced for p in phrases)


def is_goodbye(text: str) -> bool:
    return _contains(text, _GOODBYES)


def is_opt_out(text: str) -> bool:
    return _contains(text, _OPT_OUTS)


class LineKind(msgspec.Struct, frozen=True):
    message_type: MessageType
    question_index: int | None = None
    """1-based FRÅGA number if the line asked a question."""
    closing: bool = False
    apology: bool = False
    reminder: bool = False


def classify_ai_line(script: Script, text: str) -> LineKind:
    """Match an AI transcript line against the script (FRÅGA → question, the rest → system)."""
    spoken = normalise(text)
    for n, q in enumerate(script.questions, start=1):
        if normalise(q) and normalise(q) in spoken:
            return LineKind(
                MessageType.QUESTION, question_index=n, closing=normalise(script.closing) in spoken
            )
    if normalise(script.closing) in spoken:
        return LineKind(MessageType.SYSTEM, closing=True)
    if normalise(script.apology) in spoken:
        return LineKind(MessageType.ERROR, apology=True)
    if normalise(script.reminder) in spoken:
        return LineKind(MessageType.SYSTEM, reminder=True)
    return LineKind(MessageType.SYSTEM)
