"""Options and fault knobs of the offline OpenAI emulator.

Times in these options are *emulated* seconds: the emulator divides them by
``speed`` to get wall-clock seconds, so a call run at ``speed=10`` keeps the
same shape, ten times faster. Server VAD works in audio time (milliseconds of
audio received), exactly like the real API, so it scales with the sender's pace
on its own.
"""

from __future__ import annotations

import dataclasses

from engine.emulators.openai.behaviour import ModelBehaviour


@dataclasses.dataclass
class RealtimeFaults:
    """Faults on the Realtime WebSocket. Mutable: tests may change them while the emulator runs."""

    drop_after_seconds: float | None = None
    """Drop each affected socket this many emulated seconds after it connected."""
    drop_after_events: int | None = None
    """Drop each affected socket after it has sent this many server events."""
    drop_connections: int = 1
    """How many connections (the first N accepted, counted from now on) the drops apply to; 0 = every one."""
    drop_close_code: int | None = None
    """``None``: abort the TCP connection (the client sees 1006). Otherwise close with this code."""
    event_latency_seconds: float = 0.0
    """Emulated delay added to every server event (each event is late by this much; delays do not add up)."""
    refuse_connections: bool = False
    """Answer new WebSocket handshakes with ``refuse_status`` instead of upgrading."""
    refuse_status: int = 503
    """HTTP status of a refused handshake."""

    def applies_to(self, connection_number: int) -> bool:
        return self.drop_connections == 0 or connection_number <= self.drop_connections


@dataclasses.dataclass
class HttpFaults:
    """Faults on the REST side (chat completions). Mutable at run time."""

    error_status: int = 500
    """Status of an injected error (e.g. 500, 503, 429)."""
    errors_remaining: int = 0
    """The next N requests fail with ``error_status`` (a burst); -1 = every request."""
    latency_seconds: float = 0.0
    """Emulated delay before every REST answer."""

    def take_error(self) -> int | None:
        if self.errors_remaining == 0:
            return None
        if self.errors_remaining > 0:
            self.errors_remaining -= 1
        return self.error_status


@dataclasses.dataclass
class OpenAIFaults:
    realtime: RealtimeFaults = dataclasses.field(default_factory=RealtimeFaults)
    http: HttpFaults = dataclasses.field(default_factory=HttpFaults)


@dataclasses.dataclass(frozen=True)
class OpenAIEmulatorOptions:
    """How the emulator listens, paces and misbehaves."""

    host: str = "127.0.0.1"
    """Interface to bind."""
    port: int = 0
    """TCP port; 0 picks a free one (read it back from ``OpenAIEmulator.base_url``)."""
    api_key: str = dataclasses.field(default="sk-emulator", repr=False)
    """The one API key accepted (``Authorization: Bearer …``); any other gets 401."""
    speed: float = 1.0
    """1.0 = real time. Scales audio pacing, session limits and fault times (VAD runs in audio time)."""
    output_chunk_ms: int = 100
    """Audio per ``response.output_audio.delta`` (a multiple of 20 ms)."""
    output_pace: float = 1.0
    """Output audio is generated at this multiple of real time (the real model often runs ahead: >1)."""
    output_lead_ms: int = 300
    """This much audio of each response is sent at once, then the rest at pace (a receiver-side cushion)."""
    response_delay_ms: float = 0.0
    """Emulated 'thinking' time between ``response.created`` and the first audio delta."""
    max_session_seconds: float = 3600.0
    """Session time limit; at expiry the emulator sends ``error`` (code ``session_expired``) and closes."""
    max_session_logs: int = 1000
    """``OpenAIEmulator.sessions`` keeps at most this many closed connections (the newest)."""
    validate_events: bool = False
    """Debug: validate every emitted event against the openai SDK's models (slow; for tests)."""
    faults: OpenAIFaults = dataclasses.field(default_factory=OpenAIFaults)
    """Fault knobs; the same (mutable) object is exposed as ``OpenAIEmulator.faults``."""
    behaviour: ModelBehaviour = dataclasses.field(default_factory=ModelBehaviour)
    """How the emulated model behaves (paraphrasing, tool-calling by default); mutable at run time."""

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("speed must be > 0")
        if self.output_chunk_ms <= 0 or self.output_chunk_ms % 20:
            raise ValueError("output_chunk_ms must be a positive multiple of 20")
        if self.output_lead_ms < 0:
            raise ValueError("output_lead_ms must be >= 0")
        if self.output_pace <= 0:
            raise ValueError("output_pace must be > 0")

    def wall(self, emulated_seconds: float) -> float:
        """Wall-clock seconds for a span of emulated seconds."""
        return emulated_seconds / self.speed
