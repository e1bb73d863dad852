"""What each Realtime connection did, kept in memory for tests and benchmarks.

This is test evidence, not logging: it holds transcript text on purpose and
never goes to a logger.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any


@dataclasses.dataclass
class ItemLog:
    id: str
    role: str
    """``user``, ``assistant`` or ``system`` (other item types: their ``type``)."""
    source: str
    """``audio`` (a committed customer turn), ``client`` (conversation.item.create) or ``response``."""
    text: str | None = None


@dataclasses.dataclass
class ResponseLog:
    id: str
    item_id: str | None
    text: str
    keys: tuple[str, ...]
    """The moves this response made (``opening``, ``question:q1``, ``followup:q1``, ``closing``, …)."""
    instructions: str | None = None
    calls: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    """Tool calls made: (name, JSON arguments)."""
    status: str = "in_progress"
    reason: str | None = None
    """For cancelled responses: ``turn_detected`` or ``client_cancelled``."""
    audio_bytes_total: int = 0
    audio_bytes_sent: int = 0


@dataclasses.dataclass
class TruncationLog:
    item_id: str
    content_index: int
    audio_end_ms: int
    text_kept: str


@dataclasses.dataclass
class ErrorLog:
    code: str | None
    param: str | None
    client_event_type: str | None


@dataclasses.dataclass
class PacingStats:
    """Lateness of output audio deltas against their real-time schedule (wall ms), every delta counted."""

    count: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    buckets: dict[int, int] = dataclasses.field(default_factory=dict)
    """Whole milliseconds of lateness → number of deltas (for percentiles)."""

    def add(self, late_ms: float) -> None:
        self.count += 1
        self.total_ms += late_ms
        self.max_ms = max(self.max_ms, late_ms)
        key = int(late_ms)
        self.buckets[key] = self.buckets.get(key, 0) + 1

    def merge(self, other: PacingStats) -> None:
        self.count += other.count
        self.total_ms += other.total_ms
        self.max_ms = max(self.max_ms, other.max_ms)
        for key, n in other.buckets.items():
            self.buckets[key] = self.buckets.get(key, 0) + n

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.count if self.count else 0.0

    def percentile_ms(self, q: float) -> int:
        """Upper bound (whole ms) of the q-quantile, 0 < q <= 1."""
        target = q * self.count
        seen = 0
        for key in sorted(self.buckets):
            seen += self.buckets[key]
            if seen >= target:
                return key + 1
        return 0


@dataclasses.dataclass
class SessionLog:
    """One Realtime WebSocket connection."""

    connection_number: int
    session_id: str
    model: str
    session_updates: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    """Every ``session`` object received in ``session.update``, as sent."""
    items: list[ItemLog] = dataclasses.field(default_factory=list)
    transcripts: list[str] = dataclasses.field(default_factory=list)
    """Customer turns as decoded from the audio ("" when nothing decoded)."""
    responses: list[ResponseLog] = dataclasses.field(default_factory=list)
    truncations: list[TruncationLog] = dataclasses.field(default_factory=list)
    cancels: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    """(response id, reason) for every cancelled response."""
    errors: list[ErrorLog] = dataclasses.field(default_factory=list)
    speech: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    """(``started``/``stopped``, audio ms) from server VAD."""
    events_received: int = 0
    events_sent: int = 0
    audio_bytes_in: int = 0
    pacing: PacingStats = dataclasses.field(default_factory=PacingStats)
    tool_calls: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    """Every function call the model made, in order: (name, JSON arguments)."""
    tool_outputs: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    """Every ``function_call_output`` the client sent: (call id, output)."""
    invalid_events: list[str] = dataclasses.field(default_factory=list)
    """With ``validate_events``: every emitted event the SDK models rejected (should stay empty)."""
    close_reason: str | None = None
    """``client``, ``dropped``, ``expired`` or ``server``."""
    closed: asyncio.Event = dataclasses.field(default_factory=asyncio.Event, repr=False)

    def last_response(self) -> ResponseLog | None:
        return self.responses[-1] if self.responses else None
