"""Tool calls and the no-tool rules: every tool, every end_call reason, consent, progress."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from engine.domain import FailureReason, SessionStatus
from engine.session.control import (
    ConsentAnswer,
    ConsentDecided,
    EndRequested,
    InterviewControl,
    OptOutRequested,
    ProgressMade,
    Source,
)
from engine.session.conversation import BusinessContext, QuestionConfig, build_script
from engine.session.prompt import DISCLOSURE_VERSION
from engine.session.state import CallState, Event, Phase, retry_due, transition
from engine.session.tools import EndReason, ToolCallError, parse_call

CTX = BusinessContext(
    "B", questions=[QuestionConfig("A?", id="qa"), QuestionConfig("B?", id="qb")], max_questions=2
)
T0 = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


def _control() -> tuple[InterviewControl, list[dt.datetime]]:
    times = [T0]
    c = InterviewControl(build_script(CTX, "s"), now=lambda: times[-1])
    return c, times


def _call(c: InterviewControl, name: str, args: dict[str, object], rid: str = "r1", cid: str = "c1"):  # type: ignore[no-untyped-def]
    return c.function_call(cid, name, json.dumps(args), rid)


def test_consent_granted_by_tool_is_recorded_with_version_and_times() -> None:
    c, times = _control()
    c.opening_started()
    times.append(T0 + dt.timedelta(seconds=9))
    reply, effects = _call(c, "record_consent", {"consent": True})
    assert reply is not None and reply.accepted and json.loads(reply.output)["ok"] is True
    (decided,) = effects
    assert isinstance(decided, ConsentDecided)
    r = decided.record
    assert (r.answer, r.source, r.text_version) == (ConsentAnswer.GRANTED, Source.TOOL, DISCLOSURE_VERSION)
    assert r.asked_at == T0 and r.answered_at == T0 + dt.timedelta(seconds=9)
    assert c.consented and not c.took_part
    # The model called the tool without speaking: it waits for the output.
    assert c.wants_response("r1", completed=True, had_speech=False)
    assert not c.wants_response("r1", completed=True, had_speech=True)
    assert not c.wants_response("r1", completed=False, had_speech=False)  # cut by the customer
    assert not c.wants_response("other", completed=True, had_speech=False)


def test_a_refusal_records_declined_and_ends_abandoned_declined() -> None:
    c, _ = _control()
    c.opening_started()
    _, effects = _call(c, "record_consent", {"consent": False})
    assert isinstance(effects[0], ConsentDecided) and effects[0].record.answer is ConsentAnswer.DECLINED
    reply, effects = _call(c, "end_call", {"reason": "declined"}, rid="r2", cid="c2")
    assert reply is not None and reply.accepted
    (end,) = effects
    assert isinstance(end, EndRequested) and end.event is Event.DECLINED and end.response_id == "r2"
    assert not c.wants_response("r2", completed=True, had_speech=False)  # the call is ending
    assert not c.interview_done and not c.took_part


def test_end_call_declined_without_record_consent_still_records_the_refusal() -> None:
    c, _ = _control()
    _, effects = _call(c, "end_call", {"reason": "declined"})
    assert [type(e) for e in effects] == [ConsentDecided, EndRequested]
    assert c.consent is ConsentAnswer.DECLINED


@pytest.mark.parametrize(
    ("reason", "status", "failure", "retry"),
    [
        ("completed", SessionStatus.COMPLETED, None, False),
        ("declined", SessionStatus.ABANDONED, FailureReason.DECLINED, False),
        ("opted_out", SessionStatus.ABANDONED, FailureReason.OPTED_OUT, False),
        ("wrong_person", SessionStatus.ABANDONED, FailureReason.WRONG_PERSON, False),
        ("callback_requested", SessionStatus.FAILED, FailureReason.CALLBACK_REQUESTED, True),
        ("language_barrier", SessionStatus.ABANDONED, FailureReason.LANGUAGE_BARRIER, False),
    ],
)
def test_every_end_reason_maps_to_its_outcome(
    reason: str, status: SessionStatus, failure: FailureReason | None, retry: bool
) -> None:
    c, _ = _control()
    _, effects = _call(c, "end_call", {"reason": reason})
    end = next(e for e in effects if isinstance(e, EndRequested))
    assert end.reason is EndReason(reason)
    assert (OptOutRequested() in effects) is (reason == "opted_out")
    state = CallState(Phase.CONNECTED)
    state = transition(transition(state, end.event), Event.CLOSED)
    assert (state.status, state.reason, retry_due(state)) == (status, failure, retry)


def test_callback_time_is_kept_only_for_callback_requested() -> None:
    c, _ = _control()
    _call(c, "end_call", {"reason": "callback_requested", "callback_in_minutes": 90})
    assert c.callback_in_minutes == 90
    with pytest.raises(ToolCallError):
        parse_call("end_call", '{"reason":"completed","callback_in_minutes":5}', set())
    with pytest.raises(ToolCallError):
        parse_call("end_call", '{"reason":"callback_requested","callback_in_minutes":0}', set())


def test_first_end_stands_but_an_opt_out_overrides() -> None:
    c, _ = _control()
    _call(c, "end_call", {"reason": "completed"}, cid="a")
    _, effects = _call(c, "end_call", {"reason": "wrong_person"}, cid="b")
    assert effects == [] and c.end_reason is EndReason.COMPLETED
    _, effects = _call(c, "end_call", {"reason": "opted_out"}, cid="c")
    assert c.end_reason is EndReason.OPTED_OUT and OptOutRequested() in effects


def test_question_answered_tracks_progress_and_tells_what_is_left() -> None:
    c, _ = _control()
    reply, effects = _call(c, "question_answered", {"question_id": "qa"})
    assert reply is not None and json.loads(reply.output)["remaining"] == ["qb"]
    assert [type(e) for e in effects] == [ConsentDecided, ProgressMade]  # answering implies consent
    assert effects[0].record.source is Source.INFERRED  # type: ignore[union-attr]
    assert c.took_part and not c.interview_done
    reply, effects = _call(c, "question_answered", {"question_id": "qb", "skipped": True}, cid="c2")
    assert reply is not None and json.loads(reply.output)["remaining"] == []
    assert effects == [ProgressMade(effects[0].update)] and effects[0].update.status == "skipped"  # type: ignore[union-attr]
    assert c.interview_done and c.answered == ["qa"] and c.skipped == ["qb"]
    # A repeated report changes nothing.
    _, again = _call(c, "question_answered", {"question_id": "qa"}, cid="c3")
    assert again == []


@pytest.mark.parametrize(
    ("name", "arguments", "error"),
    [
        ("end_call", "{}", "reason"),
        ("end_call", '{"reason":"bored"}', "reason"),
        ("end_call", "not json", "not a JSON object"),
        ("end_call", '{"reason":"completed","extra":1}', "extra"),
        ("question_answered", '{"question_id":"nope"}', "unknown question_id"),
        ("record_consent", '{"consent":"yes"}', "consent"),
        ("transfer_call", "{}", "unknown tool"),
        ("end_call", '{"reason":"' + "x" * 5000 + '"}', "too long"),
    ],
)
def test_bad_calls_get_an_error_output_and_change_nothing(name: str, arguments: str, error: str) -> None:
    c, _ = _control()
    reply, effects = c.function_call("c1", name, arguments, "r1")
    assert reply is not None and not reply.accepted and effects == []
    body = json.loads(reply.output)
    assert body["ok"] is False and error in body["error"]
    assert c.end_reason is None and c.consent is None
    # A refused call gets another response to correct it, even when the model spoke with it.
    assert c.wants_response("r1", completed=True, had_speech=False)
    assert c.wants_response("r1", completed=True, had_speech=True)
    assert not c.wants_response("r1", completed=False, had_speech=True)


def test_each_call_id_is_answered_once() -> None:
    c, _ = _control()
    assert _call(c, "record_consent", {"consent": True})[0] is not None
    assert _call(c, "record_consent", {"consent": True}) == (None, [])


def test_no_tool_model_rounds_infer_consent_and_progress_in_plan_order() -> None:
    c, _ = _control()
    c.opening_started()
    assert c.customer_round() == []  # the reply to the opening
    assert c.response_finished("r1") == []
    effects = c.customer_round()  # the customer answers what the AI asked next
    assert [type(e) for e in effects] == [ConsentDecided]
    assert effects[0].record.source is Source.INFERRED  # type: ignore[union-attr]
    assert not c.took_part  # the model may still report it itself
    (made,) = c.response_finished("r2")  # it responded without reporting: the rule counts it
    assert isinstance(made, ProgressMade) and made.update.question_id == "qa"
    assert made.update.source is Source.INFERRED
    assert c.took_part and not c.interview_done
    c.customer_round()
    assert c.done_with_last_answer and not c.interview_done  # e.g. a hang-up right now completes
    c.response_finished("r3")
    assert c.interview_done and c.answered == ["qa", "qb"]
    c.customer_round()
    assert c.response_finished("r4") == []  # nothing left to infer


def test_the_round_rule_stops_once_the_model_reports_progress() -> None:
    c, _ = _control()
    c.customer_round()
    c.customer_round()
    _call(c, "question_answered", {"question_id": "qa"})
    assert c.response_finished("r1") == []  # reported in the response: nothing inferred
    assert c.tool_progress and c.answered == ["qa"] and not c.interview_done
    c.customer_round()
    assert c.response_finished("r2") == []  # the model reports itself from now on
    assert c.answered == ["qa"]


def test_no_consent_rule_after_an_end_and_finish_records_no_answer() -> None:
    c, _ = _control()
    c.opening_started()
    c.customer_round()
    _call(c, "end_call", {"reason": "wrong_person"})
    assert not any(isinstance(e, ConsentDecided) for e in c.customer_round())
    (final,) = c.finish()
    assert isinstance(final, ConsentDecided) and final.record.answer is ConsentAnswer.NO_ANSWER
    assert final.record.answered_at is None and c.finish() == []
