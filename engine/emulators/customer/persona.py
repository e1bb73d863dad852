"""Persona answers: replies built from the departments and campaigns a question names.

Deterministic for a given seed, so a scenario produces the same transcript on
every run.
"""

from __future__ import annotations

import random

# Several lines per tone: honest customers do not repeat each other word for word, and
# the engine's near-duplicate fraud rule must not see two personas as one script.
_DEPARTMENT_LINES = {
    "positive": [
        "{d} var jättebra, personalen var trevlig och det var lätt att hitta det jag sökte.",
        "Jag blev glad över {d}, allt var fräscht och välordnat.",
        "På {d} fick jag snabb hjälp av en medarbetare som visste vad hon pratade om.",
        "{d} kändes lugn och överskådlig i dag, inga köer alls.",
        "Jag gillade {d}, det fanns mycket att välja på och priserna var tydliga.",
        "Det var rent och snyggt på {d}, och personalen hälsade när jag kom in.",
    ],
    "critical": [
        "{d} var tyvärr rörig, det var långa köer och flera varor saknades.",
        "Jag var inte så nöjd med {d}, ingen personal fanns att fråga.",
        "På {d} var hyllorna halvtomma och skyltarna visade fel pris.",
        "{d} var stökig, jag fick leta länge innan jag hittade rätt.",
        "Det tog en evighet att få hjälp på {d}, alla verkade upptagna.",
        "Jag blev besviken på {d}, det var smutsigt och ingen verkade bry sig.",
    ],
    "brief": ["{d} var okej.", "Bra, {d} var bra.", "{d}? Helt okej.", "{d} var inget speciellt."],
    "english": [
        "The {d} was really good, the staff were friendly and I found everything quickly.",
        "I liked the {d}, everything was fresh and clearly priced.",
        "The {d} was a bit messy today, I had to look for a while before I found what I needed.",
        "At the {d} an employee helped me right away and knew the products well.",
    ],
    "detailed": [
        "{d} var riktigt bra i dag. Skyltningen var tydlig, priserna syntes och en medarbetare "
        "hjälpte mig att hitta rätt storlek. Det enda var att det var lite trångt vid hyllorna.",
        "Om {d} kan jag säga att sortimentet var brett och att personalen kunde mycket. Jag fick "
        "ett bra tips om ett alternativ som var billigare, så jag kommer tillbaka.",
        "{d} har blivit bättre sedan ombyggnaden. Gångarna är bredare, belysningen är bättre "
        "och jag hittade allt på min lista utan att behöva fråga någon.",
        "På {d} märkte jag att de har fått in nya varor. En medarbetare förklarade skillnaden "
        "mellan två märken, men det var lite långt mellan prislapparna och varorna.",
    ],
}
_CAMPAIGN_LINES = {
    "positive": [
        "Kampanjen på {c} var prisvärd, jag passade på att köpa två.",
        "Erbjudandet på {c} var bra, jag såg det direkt vid entrén.",
        "Jag köpte {c} tack vare kampanjen, ett riktigt fynd.",
        "Kampanjen på {c} lockade mig faktiskt in i butiken.",
    ],
    "critical": [
        "Kampanjen på {c} märkte jag knappt, den var dåligt skyltad.",
        "Erbjudandet på {c} var slut när jag kom, det var synd.",
        "Kampanjpriset på {c} stämde inte med skylten, jag fick påpeka det.",
    ],
    "brief": ["Kampanjen på {c} var bra.", "{c}-kampanjen? Den var okej."],
    "english": [
        "The {c} offer was good value, I bought two.",
        "I noticed the {c} campaign at the entrance, the price was fine.",
    ],
    "detailed": [
        "Kampanjen på {c} var ett bra erbjudande. Jag såg den på skylten vid entrén och "
        "jämförde med förra veckan, och det var faktiskt billigare nu.",
        "Jag läste om kampanjen på {c} i appen innan jag kom. Priset stämde i butiken, men "
        "det hade varit bra med fler varianter att välja mellan.",
    ],
}
_GENERIC = {
    "positive": [
        "Det var bra, jag är nöjd med besöket.",
        "Allt gick smidigt, jag har inget att klaga på.",
        "Ett trevligt besök, jag kommer gärna tillbaka.",
    ],
    "critical": [
        "Det kunde ha varit bättre, det tog för lång tid vid kassan.",
        "Besöket var rörigt och jag fick inte den hjälp jag behövde.",
    ],
    "brief": ["Det var okej.", "Helt okej."],
    "english": [
        "It was a good visit, I'm happy with it.",
        "Everything went smoothly, nothing to complain about.",
    ],
    "detailed": [
        "Överlag var besöket bra. Kassan gick snabbt, men parkeringen var full och det var svårt "
        "att hitta en vagn. Personalen var trevlig när jag frågade om hjälp."
    ],
}
FALLBACK_ANSWER = "Nej, inget mer att tillägga."
ENGLISH_FALLBACK = "No, nothing more to add."
VAGUE_LINES = ["Det var väl bra.", "Jo, det var okej.", "Inget speciellt.", "Sådär."]
"""The ``vague`` persona's first answer to a topic; asked again, it answers like ``detailed``."""


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
    """A reply in the persona's tone about what the question asks (``vague``: see VAGUE_LINES)."""
    if persona == "vague":
        return rng.choice(VAGUE_LINES)
    tone = persona if persona in _GENERIC else "positive"
    parts: list[str] = []
    for department in find_mentions(question, departments)[:2]:
        parts.append(rng.choice(_DEPARTMENT_LINES[tone]).format(d=_capitalise(department)))
    for campaign in find_mentions(question, campaigns)[:1]:
        parts.append(rng.choice(_CAMPAIGN_LINES[tone]).format(c=campaign))
    if not parts:
        parts.append(rng.choice(_GENERIC[tone]))
    return " ".join(parts)


def elaborate(question: str, departments: list[str], campaigns: list[str], rng: random.Random) -> str:
    """The ``vague`` persona asked again about the same thing: now it gives details."""
    return persona_answer("detailed", question, departments, campaigns, rng)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]
