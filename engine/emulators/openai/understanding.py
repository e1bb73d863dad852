"""What the emulated model makes of a customer turn: language, consent, intent, how vague an answer is.

A real model understands; the emulator approximates with small word lists
(Swedish, English and a few common other languages). Used for the model's
decisions and, for ``gpt-transcribe`` sessions, the ``languages`` the
transcription reports.
"""

from __future__ import annotations

import enum
import re

_WORDS = re.compile(r"[\wåäöÅÄÖéü']+")
_MARKERS = {
    "sv": {
        "och",
        "det",
        "var",
        "jag",
        "inte",
        "bra",
        "är",
        "på",
        "att",
        "en",
        "ett",
        "med",
        "för",
        "tack",
        "ja",
        "nej",
        "hej",
        "då",
        "som",
        "den",
        "mycket",
        "okej",
        "kassan",
        "lite",
        "men",
        "hade",
        "fick",
        "vad",
        "hur",
        "kan",
        "vill",
        "nu",
        "går",
        "också",
        "väl",
    },
    "en": {
        "the",
        "and",
        "was",
        "it",
        "i",
        "you",
        "yes",
        "no",
        "thanks",
        "thank",
        "good",
        "very",
        "to",
        "of",
        "that",
        "is",
        "sure",
        "fine",
        "great",
        "store",
        "but",
        "sorry",
        "speak",
        "english",
        "bye",
        "okay",
        "please",
        "my",
        "me",
        "were",
        "nice",
        "helpful",
        "quick",
    },
    "de": {
        "ich",
        "nicht",
        "und",
        "das",
        "ist",
        "danke",
        "sprechen",
        "leider",
        "kein",
        "schwedisch",
        "nein",
        "ja",
        "bitte",
        "verstehe",
        "tut",
        "mir",
        "leid",
    },
    "es": {"no", "hablo", "lo", "siento", "gracias", "sueco", "entiendo", "por", "favor", "sí", "español"},
    "fi": {"en", "puhu", "ruotsia", "kiitos", "anteeksi", "ymmärrä", "suomi", "kyllä", "ei"},
    "ar": {"لا", "أتكلم", "شكرا", "آسف"},
}


def language_of(text: str) -> str | None:
    """``sv``, ``en``, another code, or None when the text gives no hint."""
    words = [w.lower() for w in _WORDS.findall(text)]
    if not words:
        return None
    scores = {lang: sum(1 for w in words if w in markers) for lang, markers in _MARKERS.items()}
    if re.search(r"[åäö]", text.lower()):
        scores["sv"] += 1  # a hint, not proof: English lines may name Swedish departments
    best = max(scores, key=lambda lang: (scores[lang], lang in ("sv", "en")))
    return best if scores[best] else None


class Intent(enum.StrEnum):
    CONSENT = "consent"
    DECLINE = "decline"
    OPT_OUT = "opt_out"
    WRONG_PERSON = "wrong_person"
    CALLBACK = "callback"
    GOODBYE = "goodbye"
    ANSWER = "answer"
    NOTHING = "nothing"
    """Nothing intelligible (the transcription failed or was empty)."""


_PHRASES: list[tuple[Intent, tuple[str, ...]]] = [
    (
        Intent.OPT_OUT,
        (
            "ring inte igen",
            "ring inte mer",
            "ring aldrig mer",
            "ring mig inte",
            "don't call me again",
            "do not call me again",
            "stop calling",
        ),
    ),
    (
        Intent.WRONG_PERSON,
        ("fel person", "fel nummer", "det är inte jag", "wrong number", "wrong person", "not me"),
    ),
    (
        Intent.CALLBACK,
        (
            "ring senare",
            "ring imorgon",
            "ring i morgon",
            "ring tillbaka",
            "ring mig senare",
            "call me later",
            "call back later",
            "call me tomorrow",
            "passar inte nu",
            "kör bil",
        ),
    ),
    (
        Intent.DECLINE,
        (
            "nej tack",
            "nej,",
            "nej.",
            "nej!",
            "vill inte",
            "har inte tid",
            "inte intresserad",
            "no thanks",
            "no thank you",
            "not interested",
            "i don't want",
        ),
    ),
    (
        Intent.GOODBYE,
        ("hej då", "hejdå", "adjö", "måste gå", "måste sluta", "goodbye", "bye", "have to go", "must go"),
    ),
]
_YES = (
    "ja",
    "javisst",
    "visst",
    "absolut",
    "okej",
    "ok",
    "det går bra",
    "gärna",
    "yes",
    "sure",
    "fine",
    "okay",
    "of course",
    "go ahead",
)
_VAGUE = (
    "okej",
    "ok",
    "bra",
    "helt okej",
    "det var väl bra",
    "inget speciellt",
    "vet inte",
    "sådär",
    "fine",
    "good",
    "ok i guess",
    "it was fine",
    "nothing special",
    "det var bra",
    "det var okej",
    "ja",
)


def _norm(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower()))


def intent_of(text: str | None, *, consent_question: bool) -> Intent:
    """What a customer turn means; ``consent_question``: it answers the opening's consent question."""
    if not text or not text.strip():
        return Intent.NOTHING
    lowered = f" {text.lower()} "
    for intent, phrases in _PHRASES:
        if any(p in lowered for p in phrases):
            if intent is Intent.DECLINE and not consent_question:
                continue  # "nej" inside an answer is an answer
            if intent is Intent.GOODBYE and consent_question:
                return Intent.DECLINE
            return intent
    if consent_question:
        normal = f" {_norm(text)} "
        if any(f" {y} " in normal for y in _YES):
            return Intent.CONSENT
        if normal.strip().startswith(("nej", "no")):
            return Intent.DECLINE
        return Intent.CONSENT  # an answer that is not a refusal: go on, as a person would
    return Intent.ANSWER


def is_vague(text: str) -> bool:
    """A short, generic answer that earns a follow-up question."""
    normal = _norm(text)
    words = normal.split()
    return len(words) <= 3 or normal in _VAGUE
