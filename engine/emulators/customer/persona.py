"""Persona answers: replies built from the departments and campaigns a question names.

Deterministic for a given seed, so a scenario produces the same transcript on
every run.
"""

from __future__ import annotations

import random

_DEPARTMENT_LINES = {
    "positive": [
        "{d} var jättebra, personalen var trevlig och det var lätt att hitta det jag sökte.",
        "Jag blev glad över {d}, allt var fräscht och välordnat.",
    ],
    "critical": [
        "{d} var tyvärr rörig, det var långa köer och flera varor saknades.",
        "Jag var inte så nöjd med {d}, ingen personal fanns att fråga.",
    ],
    "brief": ["{d} var okej.", "Bra, {d} var bra."],
    "detailed": [
        "{d} var riktigt bra i dag. Skyltningen var tydlig, priserna syntes och en medarbetare "
        "hjälpte mig att hitta rätt storlek. Det enda var att det var lite trångt vid hyllorna.",
        "Om {d} kan jag säga att sortimentet var brett och att personalen kunde mycket. Jag fick "
        "ett bra tips om ett alternativ som var billigare, så jag kommer tillbaka.",
    ],
}
_CAMPAIGN_LINES = {
    "positive": ["Kampanjen på {c} var prisvärd, jag passade på att köpa två."],
    "critical": ["Kampanjen på {c} märkte jag knappt, den var dåligt skyltad."],
    "brief": ["Kampanjen på {c} var bra."],
    "detailed": [
        "Kampanjen på {c} var ett bra erbjudande. Jag såg den på skylten vid entrén och "
        "jämförde med förra veckan, och det var faktiskt billigare nu."
    ],
}
_GENERIC = {
    "positive": ["Det var bra, jag är nöjd med besöket."],
    "critical": ["Det kunde ha varit bättre, det tog för lång tid vid kassan."],
    "brief": ["Det var okej."],
    "detailed": [
        "Överlag var besöket bra. Kassan gick snabbt, men parkeringen var full och det var svårt "
        "att hitta en vagn. Personalen var trevlig när jag frågade om hjälp."
    ],
}
FALLBACK_ANSWER = "Nej, inget mer att tillägga."


def find_mentions(text: str, names: list[str]) -> list[str]:
    """Names (departments/campaigns) mentioned in ``text``, case-insensitively, in catalog order."""
    lowered = text.casefold()
    return [name for name in names if name.casefold() in lowered]


def persona_answer(
    persona: str,
    question: str,
    departments: list[str],
    campaigns: list[str],
    rng: random.Random,
) -> str:
    """A reply in the persona's tone about what the question asks."""
    tone = persona if persona in _GENERIC else "positive"
    parts: list[str] = []
    for department in find_mentions(question, departments)[:2]:
        parts.append(rng.choice(_DEPARTMENT_LINES[tone]).format(d=_capitalise(department)))
    for campaign in find_mentions(question, campaigns)[:1]:
        parts.append(rng.choice(_CAMPAIGN_LINES[tone]).format(c=campaign))
    if not parts:
        parts.append(rng.choice(_GENERIC[tone]))
    return " ".join(parts)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]
