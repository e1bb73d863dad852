"""A scenario store's business profile, as its owner would enter it (the API's JSON shape).

One definition for everyone who needs a store catalog entry as a profile: the
demo sends it through ``PutBusinessContext``, the analysis evaluation validates it.
"""

from __future__ import annotations

from typing import Any

from engine.emulators.scenarios.schema import Store

_DAYS = {
    "mon": "monday",
    "tue": "tuesday",
    "wed": "wednesday",
    "thu": "thursday",
    "fri": "friday",
    "sat": "saturday",
    "sun": "sunday",
}


def business_context(store: Store) -> dict[str, Any]:
    """The business profile a store owner would enter, in the API's JSON shape (docs/analysis.md)."""
    hours: dict[str, Any] = {"timezone": "Europe/Stockholm"}
    for short, span in store.opening_hours.items():
        open_, close = span.split("-")
        hours[_DAYS[short]] = {"open": open_, "close": close}
    questions = [
        {
            "id": f"dep{i}",
            "text": f"Hur upplevde du {department} i dag?",
            "frequency": 1.0,
            "department": department,
        }
        for i, department in enumerate(store.departments[:2])
    ]
    questions += [
        {"id": f"camp{i}", "text": f"Vad tyckte du om kampanjen på {campaign}?", "frequency": 1.0}
        for i, campaign in enumerate(store.campaigns[:1])
    ]
    return {
        "operating_hours": hours,
        "departments": [{"name": d} for d in store.departments],
        "current_campaigns": [{"name": c, "keywords": [c]} for c in store.campaigns],
        "question_configuration": {"max_questions_per_call": 3, "questions": questions},
        "baseline_facts": {"store_name": store.name},
    }
