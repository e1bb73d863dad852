"""The call state machine: exhaustive over phases × events."""

from __future__ import annotations

import itertools

import pytest

from engine.domain import FailureReason, SessionStatus
from engine.errors import ConflictError
from engine.session.state import CallState, Event, Phase, retry_due, transition


def _states() -> list[CallState]:
    out = [CallState(p) for p in (Phase.PENDING, Phase.DIALLING, Phase.RINGING, Phase.CONNECTED)]
    for outcome, reason in [
        (SessionStatus.COMPLETED, None),
        (SessionStatus.ABANDONED, FailureReason.OPTED_OUT),
        (SessionStatus.FAILED, FailureReason.VOICEMAIL),
    ]:
        out.append(CallState(Phase.CLOSING, outcome, reason))
    out += [
        CallState(Phase.COMPLETED, SessionStatus.COMPLETED),
        CallState(Phase.FAILED, SessionStatus.FAILED, FailureReason.BUSY),
        CallState(Phase.ABANDONED, SessionStatus.ABANDONED),
    ]
    return out


@pytest.mark.parametrize(("state", "event"), list(itertools.product(_states(), list(Event))))
def test_every_pair_is_defined(state: CallState, event: Event) -> None:
    try:
        new = transition(state, event)
    except ConflictError:
        return
    assert isinstance(new, CallState)
    assert not state.terminal
    if new.phase in (Phase.CLOSING,) or new.terminal:
        assert new.outcome is not None
    if new.terminal:
        assert new.outcome == new.status


def _run(*events: Event) -> CallState:
    state = CallState()
    for event in events:
        state = transition(state, event)
    return state


def test_happy_path() -> None:
    s = _run(Event.DIAL, Event.RINGING, Event.ANSWERED)
    assert s.status is SessionStatus.IN_PROGRESS
    s = transition(s, Event.INTERVIEW_DONE)
    assert s.phase is Phase.CLOSING and s.status is SessionStatus.IN_PROGRESS
    s = transition(s, Event.CLOSED)
    assert s == CallState(Phase.COMPLETED, SessionStatus.COMPLETED, None)
    assert not retry_due(s)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (Event.NO_ANSWER, FailureReason.NO_ANSWER),
        (Event.BUSY, FailureReason.BUSY),
        (Event.CALL_FAILED, FailureReason.CALL_FAILED),
    ],
)
def test_dial_failures_are_retryable(event: Event, reason: FailureReason) -> None:
    s = _run(Event.DIAL, Event.RINGING, event)
    assert s.phase is Phase.FAILED and s.reason is reason and retry_due(s)


def test_voicemail_closes_then_fails_retryably() -> None:
    s = _run(Event.DIAL, Event.RINGING, Event.VOICEMAIL)
    assert s.phase is Phase.CLOSING
    s = transition(s, Event.CLOSED)
    assert s.reason is FailureReason.VOICEMAIL and retry_due(s)


def test_opt_out_wins_and_is_final() -> None:
    s = _run(Event.DIAL, Event.ANSWERED, Event.INTERVIEW_DONE, Event.OPTED_OUT, Event.CLOSED)
    assert s.status is SessionStatus.ABANDONED and s.reason is FailureReason.OPTED_OUT
    assert not retry_due(s)


def test_customer_hangs_up_early() -> None:
    s = _run(Event.DIAL, Event.ANSWERED, Event.CUSTOMER_HUNG_UP)
    assert s.status is SessionStatus.ABANDONED and not retry_due(s)


def test_realtime_lost_fails_without_retry() -> None:
    s = _run(Event.DIAL, Event.ANSWERED, Event.REALTIME_LOST, Event.CUSTOMER_HUNG_UP)
    assert s.status is SessionStatus.FAILED and s.reason is FailureReason.REALTIME_LOST
    assert not retry_due(s)


def test_shutdown_before_answer_is_retried() -> None:
    s = _run(Event.DIAL, Event.SHUTDOWN, Event.CLOSED)
    assert s.reason is FailureReason.HOST_LOST and retry_due(s)


def test_terminal_states_reject_everything() -> None:
    s = _run(Event.DIAL, Event.BUSY)
    with pytest.raises(ConflictError):
        transition(s, Event.CLOSED)


def test_late_callbacks_are_idempotent() -> None:
    s = _run(Event.DIAL, Event.ANSWERED)
    assert transition(s, Event.RINGING) == s
    assert transition(s, Event.ANSWERED) == s


@pytest.mark.parametrize(
    ("event", "status", "reason", "retry"),
    [
        (Event.INTERVIEW_DONE, SessionStatus.COMPLETED, None, False),
        (Event.DECLINED, SessionStatus.ABANDONED, FailureReason.DECLINED, False),
        (Event.WRONG_PERSON, SessionStatus.ABANDONED, FailureReason.WRONG_PERSON, False),
        (Event.OPTED_OUT, SessionStatus.ABANDONED, FailureReason.OPTED_OUT, False),
        (Event.LANGUAGE_BARRIER, SessionStatus.ABANDONED, FailureReason.LANGUAGE_BARRIER, False),
        (Event.CALLBACK_REQUESTED, SessionStatus.FAILED, FailureReason.CALLBACK_REQUESTED, True),
    ],
)
def test_end_call_reasons_close_with_their_outcome(
    event: Event, status: SessionStatus, reason: FailureReason | None, retry: bool
) -> None:
    s = _run(Event.DIAL, Event.RINGING, Event.ANSWERED, event)
    assert s.phase is Phase.CLOSING and s.status is SessionStatus.IN_PROGRESS
    # The customer hanging up during the goodbye does not change the decided outcome.
    done = transition(s, Event.CUSTOMER_HUNG_UP)
    assert (done.status, done.reason, retry_due(done)) == (status, reason, retry)
    assert transition(s, Event.CLOSED) == done


def test_a_later_reason_does_not_change_a_decided_ending_but_an_opt_out_does() -> None:
    s = _run(Event.DIAL, Event.ANSWERED, Event.DECLINED)
    assert transition(s, Event.INTERVIEW_DONE) == s
    assert transition(s, Event.OPTED_OUT).reason is FailureReason.OPTED_OUT


def test_hang_up_after_a_finished_interview_is_completed() -> None:
    s = _run(Event.DIAL, Event.ANSWERED, Event.HUNG_UP_AFTER_INTERVIEW)
    assert s == CallState(Phase.COMPLETED, SessionStatus.COMPLETED, None)
