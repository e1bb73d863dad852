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


# What every (phase, event) pair gives, written out from the lifecycle rather than read off the code:
# `None` is an illegal pair. A state in CLOSING or a terminal phase is the triple (phase, outcome, reason).
_S, _F = SessionStatus, FailureReason
_PENDING = CallState(Phase.PENDING)
_DIALLING = CallState(Phase.DIALLING)
_RINGING = CallState(Phase.RINGING)
_CONNECTED = CallState(Phase.CONNECTED)


def _failed(reason: FailureReason) -> CallState:
    return CallState(Phase.FAILED, _S.FAILED, reason)


def _closing(outcome: SessionStatus, reason: FailureReason | None) -> CallState:
    return CallState(Phase.CLOSING, outcome, reason)


_FROM_PENDING: dict[Event, CallState] = {
    Event.DIAL: _DIALLING,
    Event.PROVIDER_UNAVAILABLE: _PENDING,
    Event.SHUTDOWN: _failed(_F.HOST_LOST),
    Event.HOST_LOST: _failed(_F.HOST_LOST),
    Event.INTERNAL_ERROR: _failed(_F.INTERNAL),
    Event.OPTED_OUT: CallState(Phase.ABANDONED, _S.ABANDONED, _F.OPTED_OUT),
}
_FROM_RINGING: dict[Event, CallState] = {
    Event.RINGING: _RINGING,
    Event.ANSWERED: _CONNECTED,
    Event.NO_ANSWER: _failed(_F.NO_ANSWER),
    Event.BUSY: _failed(_F.BUSY),
    Event.CALL_FAILED: _failed(_F.CALL_FAILED),
    Event.CANCELED: _failed(_F.CANCELED),
    Event.VOICEMAIL: _closing(_S.FAILED, _F.VOICEMAIL),
    Event.SHUTDOWN: _closing(_S.FAILED, _F.HOST_LOST),
    Event.HOST_LOST: _closing(_S.FAILED, _F.HOST_LOST),
    Event.INTERNAL_ERROR: _closing(_S.FAILED, _F.INTERNAL),
    Event.CLOSED: _failed(_F.NO_ANSWER),
}
# Only while dialling: Twilio may still refuse the create, and nobody has been rung yet.
_FROM_DIALLING: dict[Event, CallState] = {
    **_FROM_RINGING,
    Event.DIAL_REJECTED: _failed(_F.CALL_FAILED),
    Event.PROVIDER_UNAVAILABLE: _PENDING,
}
_FROM_CONNECTED: dict[Event, CallState] = {
    Event.RINGING: _CONNECTED,
    Event.ANSWERED: _CONNECTED,
    Event.CUSTOMER_HUNG_UP: CallState(Phase.ABANDONED, _S.ABANDONED, None),
    Event.HUNG_UP_AFTER_INTERVIEW: CallState(Phase.COMPLETED, _S.COMPLETED, None),
    Event.CLOSED: CallState(Phase.ABANDONED, _S.ABANDONED, None),
    Event.INTERVIEW_DONE: _closing(_S.COMPLETED, None),
    Event.OPTED_OUT: _closing(_S.ABANDONED, _F.OPTED_OUT),
    Event.DECLINED: _closing(_S.ABANDONED, _F.DECLINED),
    Event.WRONG_PERSON: _closing(_S.ABANDONED, _F.WRONG_PERSON),
    Event.LANGUAGE_BARRIER: _closing(_S.ABANDONED, _F.LANGUAGE_BARRIER),
    Event.CALLBACK_REQUESTED: _closing(_S.FAILED, _F.CALLBACK_REQUESTED),
    Event.SILENCE_TIMEOUT: _closing(_S.ABANDONED, None),
    Event.REALTIME_LOST: _closing(_S.FAILED, _F.REALTIME_LOST),
    Event.VOICEMAIL: _closing(_S.FAILED, _F.VOICEMAIL),
    Event.SHUTDOWN: _closing(_S.COMPLETED, None),
    Event.INTERNAL_ERROR: _closing(_S.FAILED, _F.INTERNAL),
    Event.HOST_LOST: _closing(_S.FAILED, _F.HOST_LOST),
}
_OUTCOME_PHASE = {_S.COMPLETED: Phase.COMPLETED, _S.FAILED: Phase.FAILED, _S.ABANDONED: Phase.ABANDONED}


def _from_closing(state: CallState, event: Event) -> CallState | None:
    assert state.outcome is not None
    if event in (Event.CLOSED, Event.CUSTOMER_HUNG_UP, Event.HUNG_UP_AFTER_INTERVIEW):
        return CallState(_OUTCOME_PHASE[state.outcome], state.outcome, state.reason)
    if event is Event.OPTED_OUT:
        return _closing(_S.ABANDONED, _F.OPTED_OUT)
    # The outcome is decided: nothing that can only happen before the call (a dial, a refused create,
    # an unavailable provider) is legal; every other event leaves it as it is.
    if event in (Event.DIAL, Event.DIAL_REJECTED, Event.PROVIDER_UNAVAILABLE):
        return None
    return state


def _expected(state: CallState, event: Event) -> CallState | None:
    if state.terminal:
        return None
    if state.phase is Phase.CLOSING:
        return _from_closing(state, event)
    table = {
        Phase.PENDING: _FROM_PENDING,
        Phase.DIALLING: _FROM_DIALLING,
        Phase.RINGING: _FROM_RINGING,
        Phase.CONNECTED: _FROM_CONNECTED,
    }[state.phase]
    return table.get(event)


@pytest.mark.parametrize(("state", "event"), list(itertools.product(_states(), list(Event))))
def test_each_pair_gives_its_state(state: CallState, event: Event) -> None:
    want = _expected(state, event)
    if want is None:
        with pytest.raises(ConflictError) as raised:
            transition(state, event)
        # The message names both, so a log line says which callback arrived when.
        assert str(raised.value) == f"illegal call transition: {event.value} in phase {state.phase.value}"
    else:
        got = transition(state, event)
        assert (got.phase, got.outcome, got.reason) == (want.phase, want.outcome, want.reason)


def test_the_table_covers_every_phase_and_a_closing_state_per_outcome() -> None:
    phases = {s.phase for s in _states()}
    assert phases == set(Phase)
    outcomes = {s.outcome for s in _states() if s.phase is Phase.CLOSING}
    assert outcomes == {_S.COMPLETED, _S.FAILED, _S.ABANDONED}


@pytest.mark.parametrize("phase", list(Phase))
def test_status_and_terminal_per_phase(phase: Phase) -> None:
    status = {
        Phase.PENDING: _S.PENDING,
        Phase.DIALLING: _S.PENDING,
        Phase.RINGING: _S.PENDING,
        Phase.CONNECTED: _S.IN_PROGRESS,
        Phase.CLOSING: _S.IN_PROGRESS,
        Phase.COMPLETED: _S.COMPLETED,
        Phase.FAILED: _S.FAILED,
        Phase.ABANDONED: _S.ABANDONED,
    }[phase]
    state = CallState(phase)
    assert state.status is status
    assert state.terminal is (phase in (Phase.COMPLETED, Phase.FAILED, Phase.ABANDONED))


@pytest.mark.parametrize("reason", list(FailureReason))
def test_retry_due_only_for_a_failed_phase_with_a_retryable_reason(reason: FailureReason) -> None:
    retryable = reason in {
        _F.NO_ANSWER,
        _F.BUSY,
        _F.CALL_FAILED,
        _F.VOICEMAIL,
        _F.HOST_LOST,
        _F.CALLBACK_REQUESTED,
    }
    assert retry_due(_failed(reason)) is retryable
    # The same reason on a call still closing, or on an abandoned one, is not yet (or never) a retry.
    assert retry_due(_closing(_S.FAILED, reason)) is False
    assert retry_due(CallState(Phase.ABANDONED, _S.ABANDONED, reason)) is False
    assert retry_due(CallState(Phase.FAILED, _S.FAILED, None)) is False


def test_a_closing_state_without_an_outcome_is_a_programming_error() -> None:
    # Every way into CLOSING sets the outcome; one built by hand without it is refused loudly.
    with pytest.raises(AssertionError):
        transition(CallState(Phase.CLOSING), Event.CLOSED)


@pytest.mark.parametrize("event", [Event.HOST_LOST, Event.INTERNAL_ERROR, Event.SHUTDOWN])
@pytest.mark.parametrize("outcome", [SessionStatus.COMPLETED, SessionStatus.ABANDONED, SessionStatus.FAILED])
def test_a_failure_while_closing_keeps_the_calls_own_outcome(event: Event, outcome: SessionStatus) -> None:
    closing = CallState(Phase.CLOSING, outcome, FailureReason.DECLINED)
    assert transition(closing, event) == closing
