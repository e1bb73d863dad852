"""The call lifecycle as a pure state machine: ``transition(state, event) -> state``.

The stored ``session_status`` (pending, in_progress, completed, failed,
abandoned) is a projection of a finer internal *phase*:

    pending ─DIAL─▶ dialling ─RINGING─▶ ringing ─ANSWERED─▶ connected ─(end)─▶ closing ─CLOSED─▶ outcome
        │              │                   │                    │
        └──────────────┴─── NO_ANSWER / BUSY / CALL_FAILED / CANCELED / VOICEMAIL / HOST_LOST ──▶ failed

``closing`` remembers the outcome the call will have once the line is down
(completed, abandoned or failed + reason). This function is the only way a
session's status changes; the session persists the new state before acting on
it. Illegal transitions raise :class:`~engine.errors.ConflictError`.
"""

from __future__ import annotations

import enum

import msgspec

from engine.domain import FailureReason, SessionStatus
from engine.errors import ConflictError


class Phase(enum.StrEnum):
    PENDING = "pending"
    DIALLING = "dialling"
    RINGING = "ringing"
    CONNECTED = "connected"
    CLOSING = "closing"
    COMPLETED = "completed"
    FAILED = "failed"
    ABANDONED = "abandoned"


class Event(enum.StrEnum):
    DIAL = "dial"
    """The REST create is about to be sent."""
    DIAL_REJECTED = "dial_rejected"
    """Twilio refused the create (bad number, auth, rate limit)."""
    RINGING = "ringing"
    ANSWERED = "answered"
    """A human answered (status callback in-progress, or the stream started)."""
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CALL_FAILED = "call_failed"
    CANCELED = "canceled"
    VOICEMAIL = "voicemail"
    """Answering-machine detection said machine/fax: hang up, retry later."""
    INTERVIEW_DONE = "interview_done"
    """``end_call(completed)`` and its goodbye heard, the interview done and quiet, or the time limit hit."""
    OPTED_OUT = "opted_out"
    DECLINED = "declined"
    """``end_call(declined)``: no consent after the disclosure."""
    WRONG_PERSON = "wrong_person"
    CALLBACK_REQUESTED = "callback_requested"
    LANGUAGE_BARRIER = "language_barrier"
    SILENCE_TIMEOUT = "silence_timeout"
    CUSTOMER_HUNG_UP = "customer_hung_up"
    HUNG_UP_AFTER_INTERVIEW = "hung_up_after_interview"
    """The customer hung up once every planned question had been answered."""
    REALTIME_LOST = "realtime_lost"
    """The AI connection could not be restored."""
    SHUTDOWN = "shutdown"
    """The host is draining past its deadline."""
    HOST_LOST = "host_lost"
    INTERNAL_ERROR = "internal_error"
    CLOSED = "closed"
    """The line is down (REST hang-up done or Twilio reported completed)."""
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    """Realtime or Twilio failed before any phone rang: the session goes back to the queue."""


class CallState(msgspec.Struct, frozen=True):
    phase: Phase = Phase.PENDING
    outcome: SessionStatus | None = None
    """For ``closing`` and terminal phases: the final status."""
    reason: FailureReason | None = None

    @property
    def status(self) -> SessionStatus:
        return _STATUS[self.phase]

    @property
    def terminal(self) -> bool:
        return self.phase in _TERMINAL


_STATUS = {
    Phase.PENDING: SessionStatus.PENDING,
    Phase.DIALLING: SessionStatus.PENDING,
    Phase.RINGING: SessionStatus.PENDING,
    Phase.CONNECTED: SessionStatus.IN_PROGRESS,
    Phase.CLOSING: SessionStatus.IN_PROGRESS,
    Phase.COMPLETED: SessionStatus.COMPLETED,
    Phase.FAILED: SessionStatus.FAILED,
    Phase.ABANDONED: SessionStatus.ABANDONED,
}
_TERMINAL = frozenset({Phase.COMPLETED, Phase.FAILED, Phase.ABANDONED})
_PRE_ANSWER = frozenset({Phase.DIALLING, Phase.RINGING})
_LIVE = frozenset({Phase.DIALLING, Phase.RINGING, Phase.CONNECTED, Phase.CLOSING})

# Pre-answer events that fail the call outright, with their reason.
_DIAL_FAILURES = {
    Event.NO_ANSWER: FailureReason.NO_ANSWER,
    Event.BUSY: FailureReason.BUSY,
    Event.CALL_FAILED: FailureReason.CALL_FAILED,
    Event.CANCELED: FailureReason.CANCELED,
}

# Events that end a connected call: the outcome it will have once closed.
_ENDINGS: dict[Event, tuple[SessionStatus, FailureReason | None]] = {
    Event.INTERVIEW_DONE: (SessionStatus.COMPLETED, None),
    Event.OPTED_OUT: (SessionStatus.ABANDONED, FailureReason.OPTED_OUT),
    Event.DECLINED: (SessionStatus.ABANDONED, FailureReason.DECLINED),
    Event.WRONG_PERSON: (SessionStatus.ABANDONED, FailureReason.WRONG_PERSON),
    Event.LANGUAGE_BARRIER: (SessionStatus.ABANDONED, FailureReason.LANGUAGE_BARRIER),
    Event.CALLBACK_REQUESTED: (SessionStatus.FAILED, FailureReason.CALLBACK_REQUESTED),
    Event.SILENCE_TIMEOUT: (SessionStatus.ABANDONED, None),
    Event.REALTIME_LOST: (SessionStatus.FAILED, FailureReason.REALTIME_LOST),
    Event.VOICEMAIL: (SessionStatus.FAILED, FailureReason.VOICEMAIL),
    Event.SHUTDOWN: (SessionStatus.COMPLETED, None),
    Event.INTERNAL_ERROR: (SessionStatus.FAILED, FailureReason.INTERNAL),
    Event.HOST_LOST: (SessionStatus.FAILED, FailureReason.HOST_LOST),
}

_OUTCOME_PHASE = {
    SessionStatus.COMPLETED: Phase.COMPLETED,
    SessionStatus.FAILED: Phase.FAILED,
    SessionStatus.ABANDONED: Phase.ABANDONED,
}


def _failed(reason: FailureReason) -> CallState:
    return CallState(Phase.FAILED, SessionStatus.FAILED, reason)


def _closing(outcome: SessionStatus, reason: FailureReason | None) -> CallState:
    return CallState(Phase.CLOSING, outcome, reason)


def _illegal(state: CallState, event: Event) -> ConflictError:
    return ConflictError(f"illegal call transition: {event.value} in phase {state.phase.value}")


def transition(state: CallState, event: Event) -> CallState:
    """The next state, or :class:`ConflictError` if ``event`` is illegal in ``state``."""
    phase = state.phase
    if phase in _TERMINAL:
        raise _illegal(state, event)

    if event is Event.PROVIDER_UNAVAILABLE and phase in (Phase.PENDING, Phase.DIALLING):
        return CallState(Phase.PENDING)  # nobody was rung: not an attempt, just not yet
    if phase is Phase.PENDING:
        if event is Event.DIAL:
            return CallState(Phase.DIALLING)
        if event in (Event.SHUTDOWN, Event.HOST_LOST):
            return _failed(FailureReason.HOST_LOST)
        if event is Event.INTERNAL_ERROR:
            return _failed(FailureReason.INTERNAL)
        if event is Event.OPTED_OUT:
            # Defence in depth: the number opted out before we dialled; never dial it.
            return CallState(Phase.ABANDONED, SessionStatus.ABANDONED, FailureReason.OPTED_OUT)
        raise _illegal(state, event)

    if phase in _PRE_ANSWER:
        if event is Event.DIAL_REJECTED and phase is Phase.DIALLING:
            return _failed(FailureReason.CALL_FAILED)
        if event is Event.RINGING:
            return CallState(Phase.RINGING)
        if event is Event.ANSWERED:
            return CallState(Phase.CONNECTED)
        if event in _DIAL_FAILURES:
            return _failed(_DIAL_FAILURES[event])
        if event is Event.VOICEMAIL:
            # The machine picked up: the line is live, so close it before failing.
            return _closing(SessionStatus.FAILED, FailureReason.VOICEMAIL)
        if event in (Event.SHUTDOWN, Event.HOST_LOST):
            # Nobody was spoken to yet: cancel the attempt and let it be retried.
            return _closing(SessionStatus.FAILED, FailureReason.HOST_LOST)
        if event is Event.INTERNAL_ERROR:
            return _closing(SessionStatus.FAILED, FailureReason.INTERNAL)
        if event is Event.CLOSED:
            # Line went down before an answer was seen (e.g. completed with no answer).
            return _failed(FailureReason.NO_ANSWER)
        raise _illegal(state, event)

    if phase is Phase.CONNECTED:
        if event in (Event.RINGING, Event.ANSWERED):
            return state  # late or duplicated callbacks
        if event is Event.CUSTOMER_HUNG_UP:
            return CallState(Phase.ABANDONED, SessionStatus.ABANDONED)
        if event is Event.HUNG_UP_AFTER_INTERVIEW:
            return CallState(Phase.COMPLETED, SessionStatus.COMPLETED)
        if event in _ENDINGS:
            return _closing(*_ENDINGS[event])
        if event is Event.CLOSED:
            # The line dropped without either side deciding to end: the customer left.
            return CallState(Phase.ABANDONED, SessionStatus.ABANDONED)
        raise _illegal(state, event)

    # CLOSING: the outcome is decided; only closing the line or a harder failure remain.
    assert phase is Phase.CLOSING and state.outcome is not None
    if event in (Event.CLOSED, Event.CUSTOMER_HUNG_UP, Event.HUNG_UP_AFTER_INTERVIEW):
        return CallState(_OUTCOME_PHASE[state.outcome], state.outcome, state.reason)
    if event is Event.OPTED_OUT:
        # An opt-out always wins: the customer must never be called again.
        return _closing(SessionStatus.ABANDONED, FailureReason.OPTED_OUT)
    if event in _ENDINGS or event in (Event.RINGING, Event.ANSWERED) or event in _DIAL_FAILURES:
        # Already ending: later reasons do not change the outcome. A lost host or an internal error
        # while closing is among them: the call's own outcome stands, only closing failed.
        return state
    raise _illegal(state, event)


def retry_due(state: CallState) -> bool:
    """Whether the Dispatcher should try this customer again (within MAX_RETRIES)."""
    return state.phase is Phase.FAILED and state.reason is not None and state.reason.retryable


LIVE_PHASES = _LIVE
