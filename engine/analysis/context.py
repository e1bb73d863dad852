"""Business context profiles: JSON shape, validation naming the bad field, completeness score.

A profile is what a store tells the engine about itself. The call session reads
departments, campaigns and questions to build the interview; the analysis reads
everything (operating hours and baseline facts for fraud checks). Versioning is
the storage layer's job: every accepted change is stored as a new version.

Shape (all JSON objects; unknown keys are rejected so typos surface)::

    operating_hours:  {"timezone": "Europe/Stockholm",
                       "monday": {"open": "08:00", "close": "21:00"}, ..., "sunday": null}
    departments:      [{"name": "Frukt och grönt", "aliases": ["frukt", "grönt"],
                        "description": "...", "products": ["bananer", "äpplen"]}]
    current_campaigns:[{"name": "Kaffekampanj", "description": "...", "keywords": ["kaffe"],
                        "starts_on": "2026-11-01", "ends_on": "2026-11-30"}]
    question_configuration: {"max_questions_per_call": 3,
                       "questions": [{"id": "q1", "text": "Hur upplevde du ...?",
                                      "frequency": 1.0, "department": "Frukt och grönt"}]}
    baseline_facts:   {"store_name": "...", "absent_departments": ["fiskdisk"],
                       "facts": [{"statement": "Butiken har ingen parkering",
                                  "contradicting_phrases": ["parkeringen"]}]}
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from typing import Any

import msgspec

from engine.errors import ValidationError

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


class DayHours(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    open: str
    close: str
    """``HH:MM``; a close earlier than open means the store closes after midnight."""


class OperatingHours(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    timezone: str = "Europe/Stockholm"
    monday: DayHours | None = None
    tuesday: DayHours | None = None
    wednesday: DayHours | None = None
    thursday: DayHours | None = None
    friday: DayHours | None = None
    saturday: DayHours | None = None
    sunday: DayHours | None = None

    def day(self, weekday: int) -> DayHours | None:
        """Hours for ``datetime.weekday()`` (0 = Monday); None = closed."""
        hours: DayHours | None = getattr(self, DAYS[weekday])
        return hours


class Department(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    aliases: list[str] = []
    description: str = ""
    products: list[str] = []


class Campaign(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    description: str = ""
    keywords: list[str] = []
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None


class Question(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    id: str
    text: str
    frequency: float = 1.0
    """Share of calls (0 < f ≤ 1) in which the question is asked."""
    department: str | None = None


class QuestionConfiguration(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    questions: list[Question]
    max_questions_per_call: int = 3


class Fact(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    statement: str
    contradicting_phrases: list[str] = []
    """Phrases that, said by a customer, contradict the statement."""


class BaselineFacts(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    store_name: str = ""
    absent_departments: list[str] = []
    """Departments the store does not have; a customer describing one is a context violation."""
    facts: list[Fact] = []


class BusinessContext(msgspec.Struct, frozen=True):
    operating_hours: OperatingHours
    departments: list[Department]
    question_configuration: QuestionConfiguration
    baseline_facts: BaselineFacts
    current_campaigns: list[Campaign] = []
    context_version: int | None = None
    """Set by whoever loaded the profile from storage; not part of the payload."""


_PAYLOAD_FIELDS = (
    "operating_hours",
    "departments",
    "current_campaigns",
    "question_configuration",
    "baseline_facts",
)
_REQUIRED = ("operating_hours", "departments", "question_configuration", "baseline_facts")
_MSGSPEC_PATH_RE = re.compile(r"- at `\$(?P<path>[^`]*)`")


def validate_business_context(payload: Any, *, version: int | None = None) -> BusinessContext:
    """Check a profile payload; raise ``ValidationError`` whose ``field`` is the bad path.

    ``payload`` is a mapping with the five JSONB columns (``current_campaigns`` may
    be absent or null). Paths look like ``departments[2].name``.
    """
    if not isinstance(payload, dict):
        raise ValidationError("business_context", "must be a JSON object")
    for key in payload:
        if key not in _PAYLOAD_FIELDS:
            raise ValidationError(str(key), "unknown field")
    for key in _REQUIRED:
        if payload.get(key) is None:
            raise ValidationError(key, "is required")
    data = {k: v for k, v in payload.items() if v is not None}
    try:
        context = msgspec.convert(data, BusinessContext, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _MSGSPEC_PATH_RE.search(message)
        path = match.group("path").lstrip(".") if match else "business_context"
        reason = message[: match.start()].strip() if match else message
        raise ValidationError(_unknown_field_path(path, reason), reason) from exc
    _check_semantics(context)
    return msgspec.structs.replace(context, context_version=version)


def _unknown_field_path(path: str, reason: str) -> str:
    # msgspec reports an unknown key at the object's path; name the key itself.
    m = re.match(r"Object contains unknown field `([^`]+)`", reason)
    if m:
        return f"{path}.{m.group(1)}" if path else m.group(1)
    return path or "business_context"


@functools.lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _check_semantics(ctx: BusinessContext) -> None:
    hours = ctx.operating_hours
    if hours.timezone not in _timezones():
        # Membership, not ZoneInfo(name): arbitrary names probe the filesystem (OSError on long ones).
        raise ValidationError("operating_hours.timezone", f"unknown time zone {hours.timezone[:64]!r}")
    for day in DAYS:
        h = getattr(hours, day)
        if h is None:
            continue
        for part in ("open", "close"):
            if not _TIME_RE.match(getattr(h, part)):
                raise ValidationError(f"operating_hours.{day}.{part}", "must be HH:MM (00:00–24:00)")
        if h.open == h.close:
            raise ValidationError(f"operating_hours.{day}.close", "must differ from open")
    if not ctx.departments:
        raise ValidationError("departments", "needs at least one department")
    seen: set[str] = set()
    for i, dep in enumerate(ctx.departments):
        name = dep.name.strip().lower()
        if not name:
            raise ValidationError(f"departments[{i}].name", "must not be empty")
        if name in seen:
            raise ValidationError(f"departments[{i}].name", f"duplicate department {dep.name!r}")
        seen.add(name)
    for i, camp in enumerate(ctx.current_campaigns):
        if not camp.name.strip():
            raise ValidationError(f"current_campaigns[{i}].name", "must not be empty")
        if camp.starts_on and camp.ends_on and camp.ends_on < camp.starts_on:
            raise ValidationError(f"current_campaigns[{i}].ends_on", "is before starts_on")
    qc = ctx.question_configuration
    if not qc.questions:
        raise ValidationError("question_configuration.questions", "needs at least one question")
    if not 1 <= qc.max_questions_per_call <= 10:
        raise ValidationError("question_configuration.max_questions_per_call", "must be within 1..10")
    ids: set[str] = set()
    for i, q in enumerate(qc.questions):
        base = f"question_configuration.questions[{i}]"
        if not q.id.strip() or q.id in ids:
            raise ValidationError(f"{base}.id", "must be non-empty and unique")
        ids.add(q.id)
        if not q.text.strip():
            raise ValidationError(f"{base}.text", "must not be empty")
        if not 0.0 < q.frequency <= 1.0:
            raise ValidationError(f"{base}.frequency", "must be within (0, 1]")
        if q.department is not None and q.department.strip().lower() not in seen:
            raise ValidationError(f"{base}.department", f"unknown department {q.department!r}")
    for i, fact in enumerate(ctx.baseline_facts.facts):
        if not fact.statement.strip():
            raise ValidationError(f"baseline_facts.facts[{i}].statement", "must not be empty")


def context_to_payload(ctx: BusinessContext) -> dict[str, Any]:
    """The five JSONB column values of a profile (inverse of :func:`validate_business_context`)."""
    raw = msgspec.to_builtins(ctx)
    return {key: raw.get(key) for key in _PAYLOAD_FIELDS}


def completeness_score(ctx: BusinessContext | None, *, today: dt.date | None = None) -> float:
    """0.00–1.00: how much the analysis and the interview can rely on this profile.

    Weights (sum 1.0): operating hours 0.20 (share of the 7 days described, an
    all-closed week counts 0), departments 0.25 (count up to 5, half of it for
    descriptions/products), campaigns 0.10 (any current campaign), questions 0.25
    (count up to 3, tied to departments for the last fifth), baseline facts 0.20
    (up to 3 facts, absent departments count as one).
    """
    if ctx is None:
        return 0.0
    hours = ctx.operating_hours
    open_days = sum(1 for d in DAYS if getattr(hours, d) is not None)
    s_hours = 0.20 * (open_days / 7 if open_days else 0.0)
    deps = ctx.departments
    detail = sum(1 for d in deps if d.description.strip() or d.products) / len(deps) if deps else 0.0
    s_deps = 0.25 * min(1.0, len(deps) / 5) * (0.5 + 0.5 * detail)
    today = today or dt.date.today()
    current = [
        c
        for c in ctx.current_campaigns
        if (c.starts_on is None or c.starts_on <= today) and (c.ends_on is None or c.ends_on >= today)
    ]
    s_camp = 0.10 if current else 0.0
    qs = ctx.question_configuration.questions
    linked = sum(1 for q in qs if q.department) / len(qs) if qs else 0.0
    s_q = 0.25 * min(1.0, len(qs) / 3) * (0.8 + 0.2 * linked)
    facts = len(ctx.baseline_facts.facts) + (1 if ctx.baseline_facts.absent_departments else 0)
    s_facts = 0.20 * min(1.0, facts / 3)
    return round(min(1.0, s_hours + s_deps + s_camp + s_q + s_facts), 2)
