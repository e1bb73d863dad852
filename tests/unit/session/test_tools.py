"""The tool contract: what each function call's arguments give, and the error each bad one gets."""

from __future__ import annotations

import json

import pytest

from engine.session.state import Event
from engine.session.tools import (
    END_EVENTS,
    MAX_ARGUMENT_BYTES,
    MAX_CALLBACK_MINUTES,
    EndCall,
    EndReason,
    QuestionAnswered,
    RecordConsent,
    ToolCallError,
    parse_call,
    tool_definitions,
)

IDS = frozenset({"qb", "qa"})


def _error(name: str, arguments: str, ids: frozenset[str] | set[str] = IDS) -> str:
    with pytest.raises(ToolCallError) as raised:
        parse_call(name, arguments, ids)
    return str(raised.value)


def test_each_tool_gives_its_typed_call() -> None:
    assert parse_call("record_consent", '{"consent": true}', IDS) == RecordConsent(consent=True)
    assert parse_call("record_consent", '{"consent": false}', IDS) == RecordConsent(consent=False)
    assert parse_call("question_answered", '{"question_id": "qa"}', IDS) == QuestionAnswered("qa", False)
    assert parse_call("question_answered", '{"question_id": "qb", "skipped": true}', IDS) == QuestionAnswered(
        "qb", True
    )
    assert parse_call("end_call", '{"reason": "wrong_person"}', IDS) == EndCall(EndReason.WRONG_PERSON, None)
    got = parse_call("end_call", '{"reason": "callback_requested", "callback_in_minutes": 30}', IDS)
    assert got == EndCall(EndReason.CALLBACK_REQUESTED, 30)


def test_callback_minutes_within_one_minute_and_a_week() -> None:
    for minutes in (1, MAX_CALLBACK_MINUTES):
        call = parse_call(
            "end_call", json.dumps({"reason": "callback_requested", "callback_in_minutes": minutes}), IDS
        )
        assert isinstance(call, EndCall) and call.callback_in_minutes == minutes
    assert MAX_CALLBACK_MINUTES == 7 * 24 * 60
    for minutes in (0, -5, MAX_CALLBACK_MINUTES + 1):
        args = json.dumps({"reason": "callback_requested", "callback_in_minutes": minutes})
        assert _error("end_call", args) == "callback_in_minutes must be within 1..10080"
    args = json.dumps({"reason": "completed", "callback_in_minutes": 5})
    assert _error("end_call", args) == "callback_in_minutes is only for reason callback_requested"


def test_the_error_names_what_is_wrong() -> None:
    assert _error("x" * 50, "{}") == (
        f"unknown tool {'x' * 40!r}; the tools are end_call, question_answered, record_consent"
    )
    assert _error("end_call", "") == "invalid arguments for end_call: Object missing required field `reason`"
    assert _error("record_consent", '{"consent": 1}') == (
        "invalid arguments for record_consent: Expected `bool`, got `int` - at `$.consent`"
    )
    assert _error("end_call", "[1]") == "invalid arguments for end_call: Expected `object`, got `array`"
    assert _error("end_call", '{"reason": "completed"') == "arguments for end_call are not a JSON object"
    assert (
        _error("question_answered", '{"question_id": "qz"}')
        == "unknown question_id 'qz'; the ids are: qa, qb"
    )
    long_id = json.dumps({"question_id": "z" * 50})
    assert (
        _error("question_answered", long_id, set()) == f"unknown question_id {'z' * 40!r}; the ids are: none"
    )


def test_arguments_up_to_the_limit_are_read() -> None:
    padding = MAX_ARGUMENT_BYTES - len('{"consent": true}')
    exact = '{"consent": true' + " " * padding + "}"
    assert len(exact) == MAX_ARGUMENT_BYTES
    assert parse_call("record_consent", exact, IDS) == RecordConsent(True)
    assert _error("record_consent", exact + " ") == "arguments are too long"


def test_every_reason_has_its_event() -> None:
    assert END_EVENTS == {
        EndReason.COMPLETED: Event.INTERVIEW_DONE,
        EndReason.DECLINED: Event.DECLINED,
        EndReason.OPTED_OUT: Event.OPTED_OUT,
        EndReason.WRONG_PERSON: Event.WRONG_PERSON,
        EndReason.CALLBACK_REQUESTED: Event.CALLBACK_REQUESTED,
        EndReason.LANGUAGE_BARRIER: Event.LANGUAGE_BARRIER,
    }


def test_the_definitions_the_model_gets() -> None:
    tools = {t["name"]: t for t in tool_definitions()}
    assert list(tools) == ["record_consent", "question_answered", "end_call"]
    assert all(t["type"] == "function" and t["description"] for t in tools.values())
    for tool in tools.values():
        assert tool["parameters"]["type"] == "object" and tool["parameters"]["additionalProperties"] is False
    consent = tools["record_consent"]["parameters"]
    assert consent["properties"] == {"consent": {"type": "boolean"}} and consent["required"] == ["consent"]
    answered = tools["question_answered"]["parameters"]
    assert answered["properties"] == {"question_id": {"type": "string"}, "skipped": {"type": "boolean"}}
    assert answered["required"] == ["question_id"]
    end = tools["end_call"]["parameters"]
    assert end["required"] == ["reason"]
    assert end["properties"]["reason"] == {"type": "string", "enum": [r.value for r in EndReason]}
    minutes = end["properties"]["callback_in_minutes"]
    assert (minutes["type"], minutes["minimum"], minutes["maximum"]) == ("integer", 1, MAX_CALLBACK_MINUTES)
    # The descriptions are the model's whole manual for the tools (docs/session.md, "Tool contract"):
    # a change to one is a change of how the model steers the call, so it is made here on purpose.
    assert minutes["description"] == "Only for callback_requested: when the customer wants to be called."
    assert tools["record_consent"]["description"] == (
        "Call once, right after the customer has answered the consent question of your opening: "
        "consent=true if they agreed to the short interview, false if they declined."
    )
    assert tools["question_answered"]["description"] == (
        "Call when the customer has answered one interview question (after your follow-up, if "
        "you asked one), or clearly did not want to answer it (skipped=true). Use the question's "
        "id from the store data."
    )
    assert tools["end_call"]["description"] == (
        "Call in the same response as your spoken goodbye, when the conversation is over. "
        "The line is closed once your goodbye has been heard; say nothing after this call."
    )
    # Every definition is what parse_call accepts: the same property names.
    assert set(consent["properties"]) == set(RecordConsent.__struct_fields__)
    assert set(answered["properties"]) == set(QuestionAnswered.__struct_fields__)
    assert set(end["properties"]) == set(EndCall.__struct_fields__)
