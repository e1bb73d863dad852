"""Conversation policy: what one call's interview covers, and prior progress from earlier attempts.

A store's ``business_context_profile`` is read tolerantly into a
:class:`BusinessContext` (only campaigns running on the call's date; the cap
``max_questions_per_call``). :func:`build_script` chooses the questions of a
session — each configured question with its frequency, a RNG seeded by the
session id, so every attempt of a session gets the same plan — and takes the
:class:`InterviewProgress` of earlier attempts into account: answered and
skipped questions are not asked again. The instructions the model gets are
rendered from the script by :mod:`engine.session.prompt`.

Nothing here reads what was said: the call is steered by the model's tool
calls. The one exception is :func:`is_opt_out`, a safety net for a spoken
"do not call me again" that a model failed to act on.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

MAX_QUESTIONS = 3
MAX_QUESTIONS_LIMIT = 10
REWARD_MIN_PERCENT = 2
REWARD_MAX_PERCENT = 15
MIN_QUESTIONS = 2
"""Departments and campaigns fill the interview up to this many questions (never past the cap)."""
APOLOGY = "Förlåt, vi har tekniska problem. Vi ringer upp dig senare. Hej då!"
"""Said by Twilio (``<Say>``) when the AI connection is lost for good: the model cannot say it."""


class QuestionConfig(msgspec.Struct, frozen=True):
    text: str
    frequency: float = 1.0
    """Probability (0–1) that a call asks this question."""
    priority: int = 0
    id: str = ""
    """The owner's question id (stable across attempts); empty: derived from the position."""
    department: str | None = None


class BusinessContext(msgspec.Struct, frozen=True):
    """What the interview needs from a store's business_context_profile."""

    store_name: str
    departments: list[str] = []
    campaigns: list[str] = []
    """Campaigns running on the call's date only."""
    questions: list[QuestionConfig] = []
    max_questions: int = MAX_QUESTIONS


class PlannedQuestion(msgspec.Struct, frozen=True):
    id: str
    text: str
    """The owner's wording: the topic the model asks about in its own words."""
    department: str | None = None


class InterviewProgress(msgspec.Struct, frozen=True):
    """What earlier attempts of a session got through (``question_answered`` calls, stored as they came)."""

    answered: frozenset[str] = frozenset()
    skipped: frozenset[str] = frozenset()
    attempts: int = 0
    """Earlier attempts that reached the customer (0: this is the first conversation)."""

    @property
    def done(self) -> frozenset[str]:
        return self.answered | self.skipped


class Script(msgspec.Struct, frozen=True):
    """The plan of one attempt: every question of the session, and those still to ask."""

    store_name: str
    questions: list[PlannedQuestion]
    remaining: list[PlannedQuestion]
    resumed: bool = False
    """An earlier attempt reached the customer: the model acknowledges the interruption."""
    apology: str = APOLOGY

    @property
    def question_ids(self) -> frozenset[str]:
        return frozenset(q.id for q in self.questions)


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


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def active_campaigns(campaigns: Any, today: dt.date) -> list[str]:
    """Names of the campaigns running on ``today`` (``starts_on``/``ends_on`` inclusive; open ends run)."""
    if isinstance(campaigns, Mapping) and "campaigns" in campaigns:
        campaigns = campaigns["campaigns"]
    if not isinstance(campaigns, Sequence) or isinstance(campaigns, str):
        return _names(campaigns)
    out: list[str] = []
    for item in campaigns:
        if isinstance(item, Mapping):
            starts, ends = _date(item.get("starts_on")), _date(item.get("ends_on"))
            if (starts is not None and starts > today) or (ends is not None and ends < today):
                continue
        out.extend(_names([item]))
    return out


def context_from_profile(
    store_name: str,
    departments: Any,
    campaigns: Any,
    question_configuration: Any,
    *,
    today: dt.date | None = None,
) -> BusinessContext:
    """Tolerant reader of the JSONB columns (the shapes the API accepts vary).

    ``today`` is the call's local date (campaigns outside their dates are left out).
    """
    today = today or dt.date.today()
    raw_questions: Any = question_configuration
    max_questions = MAX_QUESTIONS
    if isinstance(question_configuration, Mapping):
        raw_questions = question_configuration.get("questions")
        # The API validates ``max_questions_per_call``; older profiles wrote ``max_questions``.
        for key in ("max_questions_per_call", "max_questions"):
            mq = question_configuration.get(key)
            if isinstance(mq, int) and not isinstance(mq, bool) and mq > 0:
                max_questions = min(mq, MAX_QUESTIONS_LIMIT)
                break
    if isinstance(raw_questions, str):
        raw_questions = [raw_questions]  # one question, not one per letter
    questions: list[QuestionConfig] = []
    for item in raw_questions if isinstance(raw_questions, Sequence) else []:
        if isinstance(item, str):
            questions.append(QuestionConfig(text=" ".join(item.split())))
        elif isinstance(item, Mapping):
            text = item.get("text") or item.get("question")
            if not isinstance(text, str) or not text.strip():
                continue
            freq = item.get("frequency")
            freq_f = float(freq) if isinstance(freq, int | float) else 1.0
            if freq_f > 1.0:  # a percentage
                freq_f /= 100.0
            prio = item.get("priority")
            qid = item.get("id")
            dep = item.get("department")
            questions.append(
                QuestionConfig(
                    text=" ".join(text.split()),
                    frequency=max(0.0, min(1.0, freq_f)),
                    priority=prio if isinstance(prio, int) else 0,
                    id=qid if isinstance(qid, str) else "",
                    department=dep if isinstance(dep, str) and dep.strip() else None,
                )
            )
    return BusinessContext(
        store_name=store_name,
        departments=_names(departments),
        campaigns=active_campaigns(campaigns, today),
        questions=questions,
        max_questions=max_questions,
    )


_ID_UNSAFE = re.compile(r"[^\w.:-]+")
MAX_ID_CHARS = 40


def _safe_id(raw: str, fallback: str, taken: set[str]) -> str:
    qid = _ID_UNSAFE.sub("-", unicodedata.normalize("NFC", raw)).strip("-")[:MAX_ID_CHARS] or fallback
    base, n = qid, 2
    while qid in taken:
        qid = f"{base[: MAX_ID_CHARS - 4]}-{n}"
        n += 1
    taken.add(qid)
    return qid


def choose_questions(context: BusinessContext, session_id: str) -> list[PlannedQuestion]:
    """Each configured question is asked with its frequency (seeded by the session id), up to the cap."""
    rng = random.Random(f"questions:{session_id}")
    chosen = [q for q in context.questions if rng.random() < q.frequency]
    chosen.sort(key=lambda q: -q.priority)  # stable: configuration order within a priority
    cap = max(1, context.max_questions)
    taken: set[str] = set()
    plan = [
        PlannedQuestion(_safe_id(q.id, f"q{i}", taken), q.text, q.department)
        for i, q in enumerate(chosen[:cap], start=1)
    ]
    fillers: list[tuple[str, str | None]] = [
        (f"Hur upplevde du avdelningen {d}?", d) for d in context.departments
    ]
    fillers += [(f"Vad tyckte du om kampanjen {c}?", None) for c in context.campaigns]
    rng.shuffle(fillers)
    for n, (text, department) in enumerate(fillers, start=1):
        if len(plan) >= min(MIN_QUESTIONS, cap):
            break
        plan.append(PlannedQuestion(_safe_id(f"extra-{n}", f"extra-{n}", taken), text, department))
    if not plan:
        plan.append(PlannedQuestion(_safe_id("visit", "visit", taken), "Hur var ditt besök i butiken i dag?"))
    return plan


def build_script(
    context: BusinessContext, session_id: str, progress: InterviewProgress | None = None
) -> Script:
    """The plan of this attempt; with ``progress`` from earlier attempts, only what is left is asked."""
    questions = choose_questions(context, session_id)
    done = progress.done if progress is not None else frozenset()
    return Script(
        store_name=" ".join(context.store_name.split()) or "butiken",
        questions=questions,
        remaining=[q for q in questions if q.id not in done],
        resumed=progress is not None and progress.attempts > 0,
    )


_NON_WORD = re.compile(r"[^\w]+")


def normalise(text: str) -> str:
    return _NON_WORD.sub(" ", unicodedata.normalize("NFC", text).lower()).strip()


_OPT_OUTS = (
    "ring inte igen",
    "ring inte mer",
    "ring mig inte",
    "ring aldrig mer",
    "don t call me again",
    "do not call me again",
    "stop calling me",
)


def is_opt_out(text: str) -> bool:
    """A spoken "never call me again" (safety net behind ``end_call(opted_out)``)."""
    spaced = f" {normalise(text)} "
    return any(f" {p} " in spaced for p in _OPT_OUTS)
