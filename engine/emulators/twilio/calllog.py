"""What the emulator did on each call, for tests to read (in memory only, never logged)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

TERMINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


@dataclasses.dataclass
class CallbackRecord:
    kind: str
    """``status`` (StatusCallback), ``amd`` (AsyncAmdStatusCallback) or ``twiml`` (Url fetch)."""
    call_status: str
    sequence_number: int
    http_status: int | None
    """None when the request failed (connection refused, timeout)."""
    error: str = ""


@dataclasses.dataclass
class CallRecord:
    """One call as the emulator saw it. Times are wall-clock (UTC); durations are virtual seconds."""

    sid: str
    to: str
    from_: str
    created_at: dt.datetime
    scenario: str | None
    """Scenario name, or None for a number no scenario names."""
    attempt: int
    """0-based dial attempt for this number."""
    direction: str = "outbound-api"
    """``inbound`` for a call the customer placed to one of our numbers."""
    said_by_app: list[str] = dataclasses.field(default_factory=list)
    """``<Say>`` texts the call played (TwiML, not the media stream)."""
    digits_pressed: list[str] = dataclasses.field(default_factory=list)
    """Keys the caller pressed in answer to a ``<Gather>``."""
    statuses: list[tuple[str, dt.datetime]] = dataclasses.field(default_factory=list)
    """Every status with when it was reached (``initiated`` included, as in callbacks)."""
    end_reason: str = ""
    """``app-closed-stream``, ``hangup-rest``, ``canceled-rest``, ``customer-hangup``, ``no-answer``,
    ``busy``, ``failed``, ``stream-refused``, ``stream-error``, ``twiml-done``, ``time-limit``, ``emulator-stopped``."""
    answered_by: str | None = None
    duration_s: float | None = None
    stream_sid: str | None = None
    stream_url: str | None = None
    custom_parameters: dict[str, str] = dataclasses.field(default_factory=dict)
    sip_uri: str | None = None
    """``<Dial><Sip>``: the SIP URI the call was bridged to (its X- headers in ``custom_parameters``)."""
    frames_sent: int = 0
    """Inbound (customer → app) media frames actually delivered."""
    frames_dropped: list[int] = dataclasses.field(default_factory=list)
    """``chunk`` numbers of inbound frames lost on purpose (impairments)."""
    frames_muted: int = 0
    """Inbound frames of speech replaced by silence (``silence_gaps`` impairment)."""
    frames_received: int = 0
    """Outbound (app → customer) media messages received."""
    bytes_received: int = 0
    marks_received: list[str] = dataclasses.field(default_factory=list)
    marks_echoed: list[str] = dataclasses.field(default_factory=list)
    clears: int = 0
    dtmf_sent: list[str] = dataclasses.field(default_factory=list)
    invalid_messages: int = 0
    customer_said: list[str] = dataclasses.field(default_factory=list)
    """Texts the simulated customer spoke (in order)."""
    customer_heard: list[str] = dataclasses.field(default_factory=list)
    """AI utterances the customer decoded from the played audio."""
    decode_errors: int = 0
    callbacks: list[CallbackRecord] = dataclasses.field(default_factory=list)
    pacing_late_ms: list[float] = dataclasses.field(default_factory=list)
    """How late each media tick ran (only with ``record_pacing``)."""
    ended: asyncio.Event = dataclasses.field(default_factory=asyncio.Event, repr=False)
    _status_waiters: dict[str, asyncio.Event] = dataclasses.field(default_factory=dict, repr=False)

    def add_status(self, status: str) -> None:
        self.statuses.append((status, dt.datetime.now(dt.UTC)))
        waiter = self._status_waiters.get(status)
        if waiter is not None:
            waiter.set()

    async def wait_status(self, status: str, timeout_s: float) -> CallRecord:
        """Wait until the call has reached ``status`` (e.g. ``ringing``, ``in-progress``)."""
        if status not in self.status_names():
            waiter = self._status_waiters.setdefault(status, asyncio.Event())
            await asyncio.wait_for(waiter.wait(), timeout_s)
        return self

    @property
    def status(self) -> str:
        """The REST status (``initiated`` never shows there)."""
        for status, _ in reversed(self.statuses):
            if status != "initiated":
                return status
        return "queued"

    def status_names(self) -> list[str]:
        return [s for s, _ in self.statuses]

    async def wait_ended(self, timeout_s: float) -> CallRecord:
        """Wait until the call reached a terminal status and its last callback went out."""
        await asyncio.wait_for(self.ended.wait(), timeout_s)
        return self
