"""Conversation control from the model's tool calls: consent, interview progress, the requested end.

A pure object (no I/O): the bridge feeds it the model's function calls and
the shape of the conversation (a customer "round" = the customer speaking
after the AI did), and acts on what it returns — the ``function_call_output``
to send, whether to ask for another response, and :class:`Effect` values to
persist (consent record, progress) or act on (an end of the call).

Rules for a model that never calls a tool (docs/session.md, "Tool contract"):
consent counts as given once the customer speaks a second time without the
model having ended the call; every customer round after the first counts as
one answer, in plan order, once the model has responded to it without
reporting progress itself (it had its chance). The interview is *done* when
every remaining question is answered (or skipped); the customer *took part*
once one is.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable

import msgspec

from engine.session.conversation import Script
from engine.session.prompt import DISCLOSURE_VERSION
from engine.session.state import Event
from engine.session.tools import (
    END_EVENTS,
    EndCall,
    EndReason,
    QuestionAnswered,
    RecordConsent,
    ToolCallError,
    parse_call,
)


class ConsentAnswer(enum.StrEnum):
    GRANTED = "granted"
    DECLINED = "declined"
    NO_ANSWER = "no_answer"
    """The call ended before the customer answered the consent question."""


class Source(enum.StrEnum):
    TOOL = "tool"
    """The model said so through a tool call."""
    INFERRED = "inferred"
    """Derived from the conversation's shape (the model did not call the tool)."""


class ConsentRecord(msgspec.Struct, frozen=True):
    """Proof of what the customer was told and answered, per attempt (GDPR art. 7(1))."""

    text_version: str
    answer: ConsentAnswer
    source: Source
    asked_at: dt.datetime | None
    """When the disclosure and consent question started playing (None: the AI never spoke)."""
    answered_at: dt.datetime | None


class ProgressUpdate(msgspec.Struct, frozen=True):
    question_id: str
    status: str
    """``answered`` or ``skipped``."""
    source: Source


class ConsentDecided(msgspec.Struct, frozen=True):
    record: ConsentRecord


class ProgressMade(msgspec.Struct, frozen=True):
    update: ProgressUpdate


class EndRequested(msgspec.Struct, frozen=True):
    event: Event
    reason: EndReason
    response_id: str | None
    """The response that carried ``end_call``: the call ends once its audio has been heard."""


class OptOutRequested(msgspec.Struct, frozen=True):
    pass


Effect = ConsentDecided | ProgressMade | EndRequested | OptOutRequested


class ToolReply(msgspec.Struct, frozen=True):
    call_id: str
    output: str
    """The ``function_call_output.output`` JSON text."""
    accepted: bool


def _output(**fields: object) -> str:
    return msgspec.json.encode(fields).decode()


class InterviewControl:
    def __init__(self, script: Script, *, now: Callable[[], dt.datetime]) -> None:
        self._now = now
        self._remaining = [q.id for q in script.remaining]
        self._ids = script.question_ids
        self.answered: list[str] = []
        self.skipped: list[str] = []
        self.rounds = 0
        """Times the customer spoke after the AI (round 1 answers the opening)."""
        self.tool_progress = False
        """The model reports progress itself: the round rule is off."""
        self._unreported = False
        """The customer answered (round ≥ 2) and the model has not responded to it yet."""
        self.consent: ConsentAnswer | None = None
        self.consent_record: ConsentRecord | None = None
        self._asked_at: dt.datetime | None = None
        self._replied: set[str] = set()
        self._with_calls: set[str] = set()
        """Responses that carried a function call (to decide on a follow-up response)."""
        self._rejected_in: set[str] = set()
        self.end_reason: EndReason | None = None
        self.end_response_id: str | None = None
        self.callback_in_minutes: int | None = None

    # ------------------------------------------------------------------ state
    @property
    def done_count(self) -> int:
        return len(self.answered) + len(self.skipped)

    @property
    def interview_done(self) -> bool:
        """Every question this attempt had to ask is answered or skipped."""
        return self.done_count >= len(self._remaining) and self.consent is not ConsentAnswer.DECLINED

    @property
    def done_with_last_answer(self) -> bool:
        """Done, counting a customer answer the model has not had the chance to report (a hang-up)."""
        pending = 1 if self._unreported else 0
        return (
            self.done_count + pending >= len(self._remaining) and self.consent is not ConsentAnswer.DECLINED
        )

    @property
    def took_part(self) -> bool:
        return bool(self.answered) and self.consent is not ConsentAnswer.DECLINED

    @property
    def consented(self) -> bool:
        return self.consent is ConsentAnswer.GRANTED

    # ------------------------------------------------------------------ conversation shape
    def opening_started(self) -> None:
        """The AI's first audio went out: the disclosure and consent question are being said."""
        if self._asked_at is None:
            self._asked_at = self._now()

    def customer_round(self) -> list[Effect]:
        """The customer spoke (a transcribed turn) after the AI had spoken."""
        self.rounds += 1
        if self.rounds < 2:
            return []  # the reply to the opening
        self._unreported = True
        if self.end_reason is not None:
            return []
        return self._decide(ConsentAnswer.GRANTED, Source.INFERRED)  # nothing if already decided

    def response_finished(self) -> list[Effect]:
        """``response.done``: a customer answer the model responded to without reporting is inferred."""
        if not self._unreported:
            return []
        self._unreported = False
        if self.tool_progress or self.consent is ConsentAnswer.DECLINED:
            return []
        nxt = self._next_open()
        if nxt is None:
            return []
        self.answered.append(nxt)
        return [ProgressMade(ProgressUpdate(nxt, "answered", Source.INFERRED))]

    def _next_open(self) -> str | None:
        done = set(self.answered) | set(self.skipped)
        return next((q for q in self._remaining if q not in done), None)

    def _decide(self, answer: ConsentAnswer, source: Source) -> list[Effect]:
        if self.consent is not None:
            return []
        self.consent = answer
        self.consent_record = ConsentRecord(
            text_version=DISCLOSURE_VERSION,
            answer=answer,
            source=source,
            asked_at=self._asked_at,
            answered_at=self._now() if answer is not ConsentAnswer.NO_ANSWER else None,
        )
        return [ConsentDecided(self.consent_record)]

    def finish(self) -> list[Effect]:
        """The call is over: an undecided consent is recorded as not answered."""
        return self._decide(ConsentAnswer.NO_ANSWER, Source.INFERRED)

    # ------------------------------------------------------------------ tool calls
    def function_call(
        self, call_id: str, name: str, arguments: str, response_id: str
    ) -> tuple[ToolReply | None, list[Effect]]:
        """Act on one function call; None as reply if this call id was answered already."""
        if call_id in self._replied:
            return None, []
        self._replied.add(call_id)
        self._with_calls.add(response_id)
        try:
            call = parse_call(name, arguments, self._ids)
        except ToolCallError as exc:
            self._rejected_in.add(response_id)
            hint = "Call the tool again with valid arguments. Do not say anything."
            return ToolReply(call_id, _output(ok=False, error=str(exc), next=hint), False), []
        if isinstance(call, RecordConsent):
            return self._consent(call_id, call)
        if isinstance(call, QuestionAnswered):
            return self._answered(call_id, call)
        return self._end(call_id, call, response_id)

    def _consent(self, call_id: str, call: RecordConsent) -> tuple[ToolReply, list[Effect]]:
        answer = ConsentAnswer.GRANTED if call.consent else ConsentAnswer.DECLINED
        effects = self._decide(answer, Source.TOOL)
        if call.consent:
            hint = "Ask the first question." if self._remaining else "Thank the customer and end the call."
        else:
            hint = 'Say a polite goodbye and call end_call with reason "declined". Ask no questions.'
        return ToolReply(call_id, _output(ok=True, next=hint), True), effects

    def _answered(self, call_id: str, call: QuestionAnswered) -> tuple[ToolReply, list[Effect]]:
        if not self.tool_progress:
            # The model reports progress itself from now on: drop what the round rule guessed.
            self.tool_progress = True
            self.answered.clear()
        self._unreported = False
        effects = self._decide(ConsentAnswer.GRANTED, Source.INFERRED)  # answering implies consent
        qid = call.question_id
        target = self.skipped if call.skipped else self.answered
        if qid not in self.answered and qid not in self.skipped:
            target.append(qid)
            status = "skipped" if call.skipped else "answered"
            effects.append(ProgressMade(ProgressUpdate(qid, status, Source.TOOL)))
        left = [q for q in self._remaining if q not in self.answered and q not in self.skipped]
        if left:
            hint = f"Go on with question {left[0]}."
        else:
            hint = 'All questions are done: thank the customer, state the reward, say goodbye and call end_call with reason "completed".'
        return ToolReply(call_id, _output(ok=True, remaining=left, next=hint), True), effects

    def _end(self, call_id: str, call: EndCall, response_id: str) -> tuple[ToolReply, list[Effect]]:
        reply = ToolReply(
            call_id, _output(ok=True, next="The call ends after your goodbye. Say nothing more."), True
        )
        if self.end_reason is not None and not (
            call.reason is EndReason.OPTED_OUT and self.end_reason is not EndReason.OPTED_OUT
        ):
            return reply, []  # the first end stands; only an opt-out overrides it
        effects: list[Effect] = []
        if call.reason is EndReason.DECLINED:
            effects = self._decide(ConsentAnswer.DECLINED, Source.TOOL)
        if call.reason is EndReason.OPTED_OUT:
            effects.append(OptOutRequested())
        self.end_reason = call.reason
        self.end_response_id = response_id
        self.callback_in_minutes = call.callback_in_minutes
        effects.append(EndRequested(END_EVENTS[call.reason], call.reason, response_id))
        return reply, effects

    def wants_response(self, response_id: str, *, completed: bool, had_speech: bool) -> bool:
        """After ``response.done``: ask the model to go on? When it called a tool without speaking (it
        waits for the outputs) and did not end the call, or when a call was refused (it must correct
        it; the error output tells it to say nothing). A response that spoke already took its turn;
        one cut short by the customer is followed by the server's own response to the turn."""
        if response_id not in self._with_calls or not completed:
            return False
        if response_id in self._rejected_in:
            return self.end_reason is None
        return not had_speech and self.end_reason is None
