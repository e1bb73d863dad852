"""Business-context validation names the bad field; completeness score."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.analysis.context import completeness_score, context_to_payload, validate_business_context
from engine.errors import ValidationError
from tests.unit.analysis.samples import profile_payload


def broken(path: list[Any], value: Any) -> dict[str, Any]:
    payload = copy.deepcopy(profile_payload())
    node: Any = payload
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return payload


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["departments", 1, "name"], 42, "departments[1].name"),
        (["departments", 0, "color"], "red", "departments[0].color"),
        (["operating_hours", "monday", "open"], "8 am", "operating_hours.monday.open"),
        (["operating_hours", "timezone"], "Mars/Olympus", "operating_hours.timezone"),
        (["operating_hours", "timezone"], "a" * 300, "operating_hours.timezone"),
        (
            ["question_configuration", "questions", 1, "frequency"],
            1.5,
            "question_configuration.questions[1].frequency",
        ),
        (
            ["question_configuration", "questions", 0, "department"],
            "Fisk",
            "question_configuration.questions[0].department",
        ),
        (["current_campaigns", 0, "ends_on"], "not a date", "current_campaigns[0].ends_on"),
        (["baseline_facts", "facts", 0, "statement"], " ", "baseline_facts.facts[0].statement"),
        (["departments"], [], "departments"),
        (["question_configuration"], None, "question_configuration"),
    ],
)
def test_validation_error_names_the_field(path: list[Any], value: Any, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_business_context(broken(path, value))
    assert info.value.field == field


def test_unknown_top_level_field_and_non_object() -> None:
    with pytest.raises(ValidationError) as info:
        validate_business_context({**profile_payload(), "extra": 1})
    assert info.value.field == "extra"
    with pytest.raises(ValidationError):
        validate_business_context([1, 2])


def test_round_trip_and_version() -> None:
    ctx = validate_business_context(profile_payload(), version=7)
    assert ctx.context_version == 7
    again = validate_business_context(context_to_payload(ctx))
    assert context_to_payload(again) == context_to_payload(ctx)


def test_completeness_grows_with_detail() -> None:
    today = dt.date(2026, 11, 25)
    full = validate_business_context(profile_payload())
    minimal = validate_business_context(
        {
            "operating_hours": {"monday": {"open": "09:00", "close": "17:00"}},
            "departments": [{"name": "Allt"}],
            "question_configuration": {"questions": [{"id": "q", "text": "Hur var det?"}]},
            "baseline_facts": {},
        }
    )
    s_full, s_min = completeness_score(full, today=today), completeness_score(minimal, today=today)
    assert 0.0 <= s_min < s_full <= 1.0
    assert s_full >= 0.8
    assert completeness_score(None) == 0.0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
fields = st.sampled_from(
    ["operating_hours", "departments", "current_campaigns", "question_configuration", "baseline_facts"]
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(fields, json_values), st.sampled_from(list(profile_payload())), json_values)
def test_any_json_payload_gives_a_profile_or_a_named_validation_error(
    random_payload: dict[str, Any], key: str, value: Any
) -> None:
    for payload in (random_payload, {**profile_payload(), key: value}):
        try:
            validate_business_context(payload)
        except ValidationError as exc:
            assert exc.field
