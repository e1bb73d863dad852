"""Deterministic signals over a transcript: length, specificity, coverage, topics, items.

Everything here is pure and fast (no LLM); it backs the scores when the LLM is
unavailable and grounds the LLM when it is not.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

from engine.analysis import lexicon
from engine.analysis.config import ScoringConfig
from engine.analysis.context import BusinessContext
from engine.analysis.models import ActionableItem, Sentiment, Signals, TranscriptLine
from engine.domain import MessageType, Speaker

_WORD_RE = re.compile(r"[a-zåäöéü0-9]+")
# Inflections and compound heads allowed after a stem ("kö" → "kön", not "köpte").
_SUFFIX = r"(?:a|an|ar|arna|e|en|ens|er|erna|et|n|na|s|t|ts|ade|de|r|or|orna|iga|igt|ig)?"
_COMPOUND = r"(?:avdelning|disk|hyll|sektion|bar|automat|maskin|del|butik)\w*"


def normalize(text: str) -> str:
    return " ".join(_WORD_RE.findall(text.lower()))


def words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def _phrase_body(phrase: str) -> str:
    return r"\s+".join(re.escape(p) for p in words(phrase))


@functools.lru_cache(maxsize=4096)
def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """Regex for a stem or phrase: word-bounded, allowing inflection or a compound head."""
    return group_pattern((phrase,))


@functools.lru_cache(maxsize=4096)
def group_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    """One regex matching any of ``phrases`` (longest first), as :func:`phrase_pattern` does."""
    bodies = sorted({b for b in map(_phrase_body, phrases) if b}, key=len, reverse=True)
    if not bodies:
        return re.compile(r"(?!x)x")
    return re.compile(rf"(?<![a-zåäöéü0-9])(?:{'|'.join(bodies)})(?:{_SUFFIX}|{_COMPOUND})(?![a-zåäöéü0-9])")


def mentions(text: str, phrases: Iterable[str]) -> bool:
    return group_pattern(tuple(phrases)).search(text) is not None


_TIME_RES = [re.compile(p) for p in lexicon.TIME_PATTERNS]


def department_terms(ctx: BusinessContext | None) -> dict[str, tuple[str, ...]]:
    """Store department name → phrases that name it (name, aliases)."""
    if ctx is None:
        return {}
    return {d.name: (d.name, *d.aliases) for d in ctx.departments}


def product_terms(ctx: BusinessContext | None) -> tuple[str, ...]:
    if ctx is None:
        return ()
    terms: list[str] = []
    for d in ctx.departments:
        terms.extend(d.products)
    for c in ctx.current_campaigns:
        terms.extend([c.name, *c.keywords])
    return tuple(terms)


def _place_pattern(name: str, stems: tuple[str, ...]) -> re.Pattern[str]:
    places = [*lexicon.DEPARTMENT_PLACES.get(name, ()), name]
    heads = "|".join(lexicon.PLACE_HEADS)
    alternatives = [r"\s+".join(map(re.escape, words(p))) + f"(?:{_SUFFIX})" for p in places if words(p)]
    alternatives += [re.escape(w) + f"(?:s|e)?(?:{heads})\\w*" for st in stems for w in words(st)[-1:]]
    return re.compile(rf"(?<![a-zåäöéü0-9])(?:{'|'.join(alternatives)})(?![a-zåäöéü0-9])")


_PLACE_RES = {name: _place_pattern(name, stems) for name, stems in lexicon.COMMON_DEPARTMENTS.items()}


def foreign_departments(text: str, ctx: BusinessContext | None) -> list[str]:
    """Common departments a customer names *as a place* that the store's profile does not have.

    A common department counts as the store's own when any of its stems matches
    the store's department names, aliases or products. Without a profile there
    is nothing to contradict.
    """
    if ctx is None:
        return []
    own_text = normalize(" ".join(" ".join((d.name, *d.aliases, *d.products)) for d in ctx.departments))
    absent = {normalize(a) for a in ctx.baseline_facts.absent_departments}
    found: list[str] = []
    for name, stems in lexicon.COMMON_DEPARTMENTS.items():
        if name in lexicon.UNIVERSAL_DEPARTMENTS:
            continue
        owned = mentions(own_text, (name, *stems))
        if (not owned or normalize(name) in absent) and _PLACE_RES[name].search(text):
            found.append(name)
    for a in absent:
        already = any(_PLACE_RES[f].search(a) for f in found if f in _PLACE_RES)
        if a and a not in found and not already and mentions(text, (a,)):
            found.append(a)
    return found


def listed_absent(department: str, ctx: BusinessContext) -> bool:
    """Whether baseline_facts.absent_departments names ``department`` (a lexicon name or a listed term)."""
    absent = [normalize(a) for a in ctx.baseline_facts.absent_departments]
    pattern = _PLACE_RES.get(department)
    return normalize(department) in absent or (pattern is not None and any(pattern.search(a) for a in absent))


def sentence_sentiment(text: str) -> Sentiment:
    joined = " ".join(words(text))
    neg = len(group_pattern(lexicon.NEGATIVE).findall(joined))
    pos = 0
    for m in group_pattern(lexicon.POSITIVE).finditer(joined):
        before = joined[: m.start()].split()[-2:]
        if any(n in before for n in lexicon.NEGATIONS):
            neg += 1
        else:
            pos += 1
    if neg > pos:
        return "negative"
    if pos > neg:
        return "positive"
    return "neutral"


def customer_answers(lines: Sequence[TranscriptLine]) -> list[str]:
    """Customer text per turn (consecutive customer lines merged)."""
    turns: list[str] = []
    previous: Speaker | None = None
    for line in sorted(lines, key=lambda ln: ln.order):
        if line.speaker == Speaker.CUSTOMER and line.content.strip():
            if previous == Speaker.CUSTOMER and turns:
                turns[-1] = f"{turns[-1]} {line.content.strip()}"
            else:
                turns.append(line.content.strip())
        previous = line.speaker
    return turns


def _is_question(line: TranscriptLine) -> bool:
    if line.message_type is not None:
        return line.message_type == MessageType.QUESTION
    return line.content.strip().endswith("?")


def compute_signals(
    lines: Sequence[TranscriptLine], ctx: BusinessContext | None, config: ScoringConfig
) -> Signals:
    ordered = sorted(lines, key=lambda ln: ln.order)
    answers = customer_answers(ordered)
    text = normalize(" ".join(answers))
    counts = [len(words(a)) for a in answers]
    asked = answered = 0
    for i, line in enumerate(ordered):
        if line.speaker == Speaker.AI and _is_question(line):
            asked += 1
            reply = []
            for nxt in ordered[i + 1 :]:
                if nxt.speaker == Speaker.AI:
                    break
                reply.extend(words(nxt.content))
            if len(reply) >= config.min_answer_words:
                answered += 1
    deps = [name for name, terms in department_terms(ctx).items() if mentions(text, terms)]
    if ctx is None:  # no profile: common departments still show specificity
        deps = [name for name, stems in lexicon.COMMON_DEPARTMENTS.items() if mentions(text, (name, *stems))]
    products = sorted({p for p in product_terms(ctx) if mentions(text, (p,))})
    times = sum(len(r.findall(text)) for r in _TIME_RES)
    topics = [t for t, stems in lexicon.TOPICS.items() if mentions(text, stems)]
    generic = sum(1 for a in answers if normalize(a) in lexicon.GENERIC_ANSWERS)
    sentiments = [sentence_sentiment(s) for a in answers for s in _sentences(a)]
    return Signals(
        customer_turns=len(answers),
        customer_words=sum(counts),
        mean_answer_words=round(sum(counts) / len(counts), 2) if counts else 0.0,
        questions_asked=asked,
        questions_answered=answered,
        coverage=round(answered / asked, 3) if asked else (1.0 if answers else 0.0),
        departments=deps,
        foreign_departments=foreign_departments(text, ctx),
        products=products,
        times=times,
        topics=topics,
        specific_mentions=len(deps) + len(products) + min(times, 2) + len(topics),
        generic_answers=generic,
        generic_ratio=round(generic / len(answers), 3) if answers else 0.0,
        positive_mentions=sentiments.count("positive"),
        negative_mentions=sentiments.count("negative"),
    )


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"[.!?;]+|\bmen\b", text) if s.strip()]


def rule_items(lines: Sequence[TranscriptLine], ctx: BusinessContext | None) -> list[ActionableItem]:
    """Actionable items from the customer's sentences: (department, topic, sentiment)."""
    items: dict[tuple[str | None, str], ActionableItem] = {}
    dep_terms = department_terms(ctx) or {n: (n, *s) for n, s in lexicon.COMMON_DEPARTMENTS.items()}
    for answer in customer_answers(lines):
        for sentence in _sentences(answer):
            norm = normalize(sentence)
            sentiment = sentence_sentiment(norm)
            if sentiment == "neutral":
                continue
            deps: list[str | None] = [n for n, terms in dep_terms.items() if mentions(norm, terms)] or [None]
            topics = [t for t, stems in lexicon.TOPICS.items() if mentions(norm, stems)] or ["allmänt"]
            if deps == [None] and topics == ["allmänt"]:
                continue
            for dep in deps[:1]:
                for topic in topics[:2]:
                    key = (dep, topic)
                    if key in items:
                        continue
                    suggestion = (
                        lexicon.SUGGESTIONS.get(topic, lexicon.SUGGESTIONS["allmänt"])
                        if sentiment == "negative"
                        else "Behåll det som fungerar."
                    )
                    items[key] = ActionableItem(
                        topic=topic,
                        sentiment=sentiment,
                        suggestion=suggestion,
                        department=dep,
                        priority="high" if sentiment == "negative" and dep else "medium",
                        source="rules",
                    )
    return list(items.values())
