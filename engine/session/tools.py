"""The Realtime function tools a call offers the model, and how their calls are read.

The model steers the call through these tools instead of through our
sentences (docs/session.md, "Tool contract"): ``record_consent`` after the
disclosure, ``question_answered`` as the interview goes, ``end_call`` with a
reason when it has said its goodbye. Arguments arrive as a JSON string the
model wrote, so every call is validated here (msgspec, unknown keys refused)
and a bad one is answered with an error output the model can act on; a call
never raises into the bridge.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from engine.session.state import Event

END_CALL = "end_call"
QUESTION_ANSWERED = "question_answered"
RECORD_CONSENT = "record_consent"
MAX_ARGUMENT_BYTES = 4096
"""Arguments longer than this are refused unread (a model never needs more for these tools)."""
MAX_CALLBACK_MINUTES = 7 * 24 * 60


class EndReason(enum.StrEnum):
    COMPLETED = "completed"
    DECLINED = "declined"
    OPTED_OUT = "opted_out"
    WRONG_PERSON = "wrong_person"
    CALLBACK_REQUESTED = "callback_requested"
    LANGUAGE_BARRIER = "language_barrier"


END_EVENTS: dict[EndReason, Event] = {
    EndReason.COMPLETED: Event.INTERVIEW_DONE,
    EndReason.DECLINED: Event.DECLINED,
    EndReason.OPTED_OUT: Event.OPTED_OUT,
    EndReason.WRONG_PERSON: Event.WRONG_PERSON,
    EndReason.CALLBACK_REQUESTED: Event.CALLBACK_REQUESTED,
    EndReason.LANGUAGE_BARRIER: Event.LANGUAGE_BARRIER,
}
"""The outcome each reason gives (the state machine maps the event to status and failure reason)."""


class _Args(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    pass


class EndCall(_Args, frozen=True):
    reason: EndReason
    callback_in_minutes: int | None = None
    """Only with ``callback_requested``: when the customer asked to be called (a hint for the retry)."""


class QuestionAnswered(_Args, frozen=True):
    question_id: str
    skipped: bool = False
    """The customer would not or could not answer it (it is not asked again on a retry)."""


class RecordConsent(_Args, frozen=True):
    consent: bool


ToolCall = EndCall | QuestionAnswered | RecordConsent

_TYPES: dict[str, type[_Args]] = {
    END_CALL: EndCall,
    QUESTION_ANSWERED: QuestionAnswered,
    RECORD_CONSENT: RecordConsent,
}


class ToolCallError(ValueError):
    """A call the engine cannot act on; ``str(exc)`` is told to the model in the output."""


def parse_call(name: str, arguments: str, question_ids: frozenset[str] | set[str]) -> ToolCall:
    """The typed call, or :class:`ToolCallError` naming what is wrong."""
    kind = _TYPES.get(name)
    if kind is None:
        raise ToolCallError(f"unknown tool {name[:40]!r}; the tools are {', '.join(sorted(_TYPES))}")
    if len(arguments) > MAX_ARGUMENT_BYTES:
        raise ToolCallError("arguments are too long")
    try:
        call = msgspec.json.decode(arguments or "{}", type=kind)
    except msgspec.ValidationError as exc:
        raise ToolCallError(f"invalid arguments for {name}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ToolCallError(f"arguments for {name} are not a JSON object") from exc
    if isinstance(call, QuestionAnswered) and call.question_id not in question_ids:
        known = ", ".join(sorted(question_ids)) or "none"
        raise ToolCallError(f"unknown question_id {call.question_id[:40]!r}; the ids are: {known}")
    if isinstance(call, EndCall) and call.callback_in_minutes is not None:
        if call.reason is not EndReason.CALLBACK_REQUESTED:
            raise ToolCallError("callback_in_minutes is only for reason callback_requested")
        if not 1 <= call.callback_in_minutes <= MAX_CALLBACK_MINUTES:
            raise ToolCallError(f"callback_in_minutes must be within 1..{MAX_CALLBACK_MINUTES}")
    return call  # type: ignore[return-value]


def tool_definitions() -> list[dict[str, Any]]:
    """``session.tools``: the three function tools in the Realtime GA shape."""
    return [
        {
            "type": "function",
            "name": RECORD_CONSENT,
            "description": (
                "Call once, right after the customer has answered the consent question of your opening: "
                "consent=true if they agreed to the short interview, false if they declined."
            ),
            "parameters": {
                "type": "object",
                "properties": {"consent": {"type": "boolean"}},
                "required": ["consent"],
                "additionalProperties": False,
            },
        },
        {
            "type": "function",
            "name": QUESTION_ANSWERED,
            "description": (
                "Call when the customer has answered one interview question (after your follow-up, if "
                "you asked one), or clearly did not want to answer it (skipped=true). Use the question's "
                "id from the store data."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "question_id": {"type": "string"},
                    "skipped": {"type": "boolean"},
                },
                "required": ["question_id"],
                "additionalProperties": False,
            },
        },
        {
            "type": "function",
            "name": END_CALL,
            "description": (
                "Call in the same response as your spoken goodbye, when the conversation is over. "
                "The line is closed once your goodbye has been heard; say nothing after this call."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "reason": {"type": "string", "enum": [r.value for r in EndReason]},
                    "callback_in_minutes": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_CALLBACK_MINUTES,
                        "description": "Only for callback_requested: when the customer wants to be called.",
                    },
                },
                "required": ["reason"],
                "additionalProperties": False,
            },
        },
    ]
