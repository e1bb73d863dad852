"""What goes into and out of a :class:`~engine.session.call.CallSession`: the request that
starts it, the outcome it returns, and the items of its inbox (Twilio's status callbacks,
an attached media stream or SIP call, a shutdown)."""

from __future__ import annotations

import msgspec

from engine.domain import FailureReason, SessionStatus
from engine.session.media_socket import MediaSocket
from engine.telephony.media import Start


class CallRequest(msgspec.Struct, frozen=True):
    session_id: str
    store_id: str
    phone_e164: str
    attempt: int = 1
    """1 for the first call, 2.. for retries (at most MAX_RETRIES + 1 in total)."""
    inbound_call_sid: str | None = None
    """A call-back the customer placed (already answered): no dialling, the stream comes next."""


class SessionOutcome(msgspec.Struct, frozen=True):
    session_id: str
    store_id: str
    status: SessionStatus
    failure_reason: FailureReason | None
    retry_due: bool
    attempt: int
    call_sid: str | None = None
    duration_seconds: int | None = None
    openai_session_id: str | None = None
    opted_out: bool = False
    callback_after_seconds: int | None = None
    """With ``callback_requested``: when the customer asked to be called (the retry's earliest time)."""


class StatusCallback(msgspec.Struct, frozen=True):
    call_status: str
    sequence: int = 0
    answered_by: str | None = None
    call_sid: str | None = None
    """Twilio's CallSid; a callback for another call than this attempt's is dropped."""
    attempt: int | None = None
    """The attempt the callback's token names (the host checks the token); None if unknown."""


class StreamAttached(msgspec.Struct):
    ws: MediaSocket
    start: Start


class SipAttached(msgspec.Struct):
    call_id: str


class Shutdown(msgspec.Struct):
    cancel: bool = False
    """True: the call was cancelled (not retried); False: the host is going away (retried if unanswered)."""


InboxItem = StatusCallback | StreamAttached | SipAttached | Shutdown
"""What the host hands a running session."""
