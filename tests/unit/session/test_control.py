"""Tool calls and the no-tool rules: every tool, every end_call reason, consent, progress."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from engine.domain import FailureReason, SessionStatus
from engine.session.control import (
    ConsentAnswer,
    ConsentDecided,
    ConsentRecord,
    EndRequested,
    InterviewControl,
    OptOutRequested,
    ProgressMade,
    ProgressUpdate,
    Source,
)
from engine.session.conversation import BusinessContext, InterviewProgress, QuestionConfig, build_script
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
    assert c.response_finished() == []
    effects = c.customer_round()  # the customer answers what the AI asked next
    assert [type(e) for e in effects] == [ConsentDecided]
    assert effects[0].record.source is Source.INFERRED  # type: ignore[union-attr]
    assert not c.took_part  # the model may still report it itself
    (made,) = c.response_finished()  # it responded without reporting: the rule counts it
    assert isinstance(made, ProgressMade) and made.update.question_id == "qa"
    assert made.update.source is Source.INFERRED
    assert c.took_part and not c.interview_done
    c.customer_round()
    assert c.done_with_last_answer and not c.interview_done  # e.g. a hang-up right now completes
    c.response_finished()
    assert c.interview_done and c.answered == ["qa", "qb"]
    c.customer_round()
    assert c.response_finished() == []  # nothing left to infer


def test_the_round_rule_stops_once_the_model_reports_progress() -> None:
    c, _ = _control()
    c.customer_round()
    c.customer_round()
    _call(c, "question_answered", {"question_id": "qa"})
    assert c.response_finished() == []  # reported in the response: nothing inferred
    assert c.tool_progress and c.answered == ["qa"] and not c.interview_done
    c.customer_round()
    assert c.response_finished() == []  # the model reports itself from now on
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


def _out(reply: object) -> dict[str, object]:
    assert reply is not None
    return json.loads(reply.output)  # type: ignore[attr-defined,no-any-return]


def test_each_reply_tells_the_model_what_to_do_next() -> None:
    c, _ = _control()
    reply, _ = _call(c, "record_consent", {"consent": True}, cid="a")
    assert _out(reply) == {"ok": True, "next": "Ask the first question."}
    reply, _ = _call(c, "question_answered", {"question_id": "qa"}, cid="b")
    assert _out(reply) == {"ok": True, "remaining": ["qb"], "next": "Go on with question qb."}
    reply, _ = _call(c, "question_answered", {"question_id": "qb"}, cid="c")
    assert _out(reply) == {
        "ok": True,
        "remaining": [],
        "next": "All questions are done: thank the customer, state the reward, say goodbye and call "
        'end_call with reason "completed".',
    }
    reply, _ = _call(c, "end_call", {"reason": "completed"}, cid="d")
    assert _out(reply) == {"ok": True, "next": "The call ends after your goodbye. Say nothing more."}
    assert reply is not None and (reply.call_id, reply.accepted) == ("d", True)
    d, _ = _control()
    reply, _ = _call(d, "record_consent", {"consent": False})
    assert _out(reply) == {
        "ok": True,
        "next": 'Say a polite goodbye and call end_call with reason "declined". Ask no questions.',
    }
    reply, _ = d.function_call("e", "end_call", "{}", "r9")
    assert _out(reply)["next"] == "Call the tool again with valid arguments. Do not say anything."
    assert reply is not None and reply.call_id == "e"


def test_with_nothing_left_to_ask_consent_leads_to_the_goodbye() -> None:
    done = InterviewProgress(answered=frozenset({"qa", "qb"}), attempts=1)
    c = InterviewControl(build_script(CTX, "s", done), now=lambda: T0)
    assert c.interview_done and c.done_with_last_answer and not c.took_part
    reply, _ = _call(c, "record_consent", {"consent": True})
    assert _out(reply)["next"] == "Thank the customer and end the call."


def test_consent_is_decided_once_and_the_question_time_is_the_first_audio() -> None:
    c, times = _control()
    c.opening_started()
    times.append(T0 + dt.timedelta(seconds=30))
    c.opening_started()  # a later response's audio is not when the question was asked
    _, first = _call(c, "record_consent", {"consent": True}, cid="a")
    _, second = _call(c, "record_consent", {"consent": False}, cid="b")
    assert second == [] and c.consent is ConsentAnswer.GRANTED
    (decided,) = first
    assert isinstance(decided, ConsentDecided) and decided.record.asked_at == T0
    assert c.consent_record == decided.record
    # No audio at all: the record says it was never asked.
    d, _ = _control()
    (never,) = d.finish()
    assert isinstance(never, ConsentDecided) and never.record.asked_at is None


def test_a_declined_consent_is_never_a_finished_interview() -> None:
    c, _ = _control()
    _call(c, "question_answered", {"question_id": "qa"}, cid="a")
    _call(c, "question_answered", {"question_id": "qb"}, cid="b")
    assert c.interview_done and c.took_part
    d, _ = _control()
    _call(d, "record_consent", {"consent": False}, cid="a")
    _call(d, "question_answered", {"question_id": "qa"}, cid="b")
    _call(d, "question_answered", {"question_id": "qb"}, cid="c")
    assert d.done_count == 2
    assert not d.interview_done and not d.done_with_last_answer and not d.took_part and not d.consented


def test_the_round_rule_counts_nothing_once_consent_is_declined() -> None:
    c, _ = _control()
    c.customer_round()
    _call(c, "record_consent", {"consent": False})
    c.customer_round()
    assert not c.done_with_last_answer
    assert c.response_finished() == [] and c.answered == []
    # The pending answer was used up: a later response infers nothing either.
    assert c.response_finished() == []


def test_the_first_round_is_the_reply_to_the_opening() -> None:
    c, _ = _control()
    c.customer_round()
    assert c.rounds == 1 and c.consent is None
    assert not c.done_with_last_answer
    assert c.response_finished() == [] and c.answered == []
    c.customer_round()
    assert c.rounds == 2 and c.consent is ConsentAnswer.GRANTED


def test_a_model_reporting_progress_replaces_what_the_rounds_guessed() -> None:
    c, _ = _control()
    c.customer_round()
    c.customer_round()
    (guess,) = c.response_finished()
    assert isinstance(guess, ProgressMade) and c.answered == ["qa"]
    _, effects = _call(c, "question_answered", {"question_id": "qb"})
    assert c.answered == ["qb"] and [type(e) for e in effects] == [ProgressMade]
    # A skipped question reported as answered later stays skipped.
    _call(c, "question_answered", {"question_id": "qa", "skipped": True}, cid="c2")
    _, effects = _call(c, "question_answered", {"question_id": "qa"}, cid="c3")
    assert effects == [] and c.skipped == ["qa"] and c.answered == ["qb"]
    made = ProgressMade(ProgressUpdate("qa", "skipped", Source.TOOL))
    d, _ = _control()
    _call(d, "question_answered", {"question_id": "qa", "skipped": True})
    assert d.skipped == ["qa"] and d.answered == [] and not d.took_part
    assert d.interview_done is False and d.done_count == 1
    e, _ = _control()
    assert _call(e, "question_answered", {"question_id": "qa", "skipped": True})[1][-1] == made


def test_an_opt_out_after_an_opt_out_changes_nothing_and_the_end_response_is_kept() -> None:
    c, _ = _control()
    _, first = _call(
        c, "end_call", {"reason": "callback_requested", "callback_in_minutes": 60}, rid="r1", cid="a"
    )
    assert c.end_response_id == "r1" and c.callback_in_minutes == 60
    assert first == [EndRequested(Event.CALLBACK_REQUESTED, EndReason.CALLBACK_REQUESTED, "r1")]
    _, second = _call(c, "end_call", {"reason": "opted_out"}, rid="r2", cid="b")
    assert second == [OptOutRequested(), EndRequested(Event.OPTED_OUT, EndReason.OPTED_OUT, "r2")]
    assert c.end_response_id == "r2" and c.callback_in_minutes is None
    _, third = _call(c, "end_call", {"reason": "opted_out"}, rid="r3", cid="c")
    assert third == [] and c.end_response_id == "r2"


def test_a_refused_call_gets_no_follow_up_once_the_call_is_ending() -> None:
    c, _ = _control()
    c.function_call("a", "end_call", "{}", "r1")
    _call(c, "end_call", {"reason": "completed"}, rid="r1", cid="b")
    assert not c.wants_response("r1", completed=True, had_speech=False)
    assert not c.wants_response("r1", completed=True, had_speech=True)


def test_a_fresh_control_has_decided_nothing() -> None:
    c, _ = _control()
    assert (c.consent, c.consent_record, c.end_reason, c.end_response_id, c.callback_in_minutes) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert (c.rounds, c.answered, c.skipped, c.tool_progress) == (0, [], [], False)
    assert not c.interview_done and not c.done_with_last_answer and not c.took_part and not c.consented


def test_one_customer_round_is_one_inferred_answer() -> None:
    c, _ = _control()
    c.customer_round()
    c.customer_round()
    assert c.response_finished() == [ProgressMade(ProgressUpdate("qa", "answered", Source.INFERRED))]
    assert c.response_finished() == []  # no new round, no new answer
    assert c.answered == ["qa"]
    c.customer_round()
    assert c.response_finished() == [ProgressMade(ProgressUpdate("qb", "answered", Source.INFERRED))]


def test_what_each_tool_call_gives_exactly() -> None:
    c, _ = _control()
    reply, effects = c.function_call("c-consent", "record_consent", '{"consent": true}', "r1")
    assert reply is not None and (reply.call_id, reply.accepted) == ("c-consent", True)
    assert effects == [
        ConsentDecided(ConsentRecord(DISCLOSURE_VERSION, ConsentAnswer.GRANTED, Source.TOOL, None, T0))
    ]
    reply, effects = c.function_call("c-qa", "question_answered", '{"question_id": "qa"}', "r1")
    assert reply is not None and (reply.call_id, reply.accepted) == ("c-qa", True)
    assert effects == [ProgressMade(ProgressUpdate("qa", "answered", Source.TOOL))]
    reply, _ = c.function_call("c-bad", "question_answered", '{"question_id": "zz"}', "r1")
    assert reply is not None and (reply.call_id, reply.accepted) == ("c-bad", False)
    d, _ = _control()
    _, effects = d.function_call("c-end", "end_call", '{"reason": "declined"}', "r1")
    assert effects == [
        ConsentDecided(ConsentRecord(DISCLOSURE_VERSION, ConsentAnswer.DECLINED, Source.TOOL, None, T0)),
        EndRequested(Event.DECLINED, EndReason.DECLINED, "r1"),
    ]
    e, later = _control()
    e.opening_started()
    later.append(T0 + dt.timedelta(seconds=5))
    assert e.finish() == [
        ConsentDecided(ConsentRecord(DISCLOSURE_VERSION, ConsentAnswer.NO_ANSWER, Source.INFERRED, T0, None))
    ]
