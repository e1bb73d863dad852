"""What the dispatcher needs from the outside world, as Protocols and typed messages.

``SessionQueue`` is the database (the storage repositories behind an adapter);
``HostClient``/``HostFleet`` are SessionHosts (Ray actors behind the seam in
``actors/``). Tests drive the dispatcher with in-memory fakes of both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import msgspec

from engine.dispatch.windows import CallWindows
from engine.domain import FailureReason, SessionStatus
from engine.errors import UnavailableError


class HostLostError(UnavailableError):
    """A SessionHost is gone (its process or node died); its calls are lost."""


class NotDialledError(UnavailableError):
    """The host did not dial the session and will not: what a dial needs could not be read (the
    database stayed unreachable). The session is still claimed, unchanged and unattempted; the
    Dispatcher gives it back to the queue (no retry counted)."""


class DueSession(msgspec.Struct, frozen=True):
    """A session claimed for dialling. No phone number: the host reads it from storage."""

    session_id: str
    verification_id: str
    store_id: str
    retry_count: int = 0
    account: str = ""


class RetryContext(msgspec.Struct, frozen=True):
    retry_count: int
    windows: CallWindows | None = None
    requested_at: datetime | None = None
    """A call-back the customer asked for, as stored with the failed attempt (its next_attempt_at)."""


class CallStart(msgspec.Struct, frozen=True):
    """Dispatcher → host: dial this session now."""

    session_id: str
    verification_id: str
    store_id: str
    attempt: int = 0


class Outcome(msgspec.Struct, frozen=True):
    """Host → dispatcher: one call attempt ended (already persisted by the session)."""

    session_id: str
    status: SessionStatus
    failure_reason: FailureReason | None = None
    retry_due: bool = False
    callback_after_seconds: int | None = None
    """With ``callback_requested``: when the customer asked to be called, in seconds after the end."""


class HostStatus(msgspec.Struct, frozen=True):
    """A host's heartbeat: capacity, calls it holds (session → verification) and unacked outcomes."""

    host_id: str
    capacity: int
    free_slots: int
    active: dict[str, str] = {}
    outcomes: list[Outcome] = []
    draining: bool = False
    turn_latency_ms: list[float] = []
    twilio_throttled_s: float = 0.0
    """Twilio answered this host 429 since the last heartbeat: the longest wait it asked for."""
    rejected: dict[str, int] = {}
    """Requests the host refused since the last heartbeat, by kind (a short fixed vocabulary)."""


class StaleSession(msgspec.Struct, frozen=True):
    """A live session whose lease ran out: no live host reported it for a while."""

    session_id: str
    host_id: str | None
    status: SessionStatus
    phase: str | None
    call_sid: str | None


class JobStats(msgspec.Struct, frozen=True):
    counts: dict[str, dict[str, int]]
    """kind → state → jobs."""
    lag_seconds: dict[str, float]
    """kind → how long the oldest due job has waited."""


class SessionQueue(Protocol):
    async def claim_due(self, now: datetime, limit: int, host_id: str) -> list[DueSession]:
        """Atomically take up to ``limit`` due pending sessions for ``host_id`` (SKIP LOCKED)."""
        ...

    async def defer(self, session_id: str, until: datetime) -> None:
        """Give a claimed session back to the queue, due at ``until``; no retry is counted."""
        ...

    async def schedule_retry(
        self, session_id: str, next_attempt_at: datetime, reason: FailureReason
    ) -> None: ...

    async def fail(self, session_id: str, reason: FailureReason) -> None:
        """End a session for good (opted out, retries exhausted, canceled)."""
        ...

    async def fail_in_progress_for_host(
        self, host_id: str, reason: FailureReason
    ) -> list[tuple[str, str | None]]:
        """Fail every live session placed on ``host_id``; return (session id, Twilio call SID)."""
        ...

    async def claimed_for_host(self, host_id: str) -> list[str]:
        """Live sessions the database places on ``host_id`` (recovery after a restart)."""
        ...

    async def hosts_with_live_sessions(self) -> list[str]: ...

    async def retry_context(self, session_id: str) -> RetryContext: ...

    async def is_opted_out(self, session_id: str) -> bool: ...

    async def windows_for(self, store_id: str) -> CallWindows: ...

    async def queue_depth(self, now: datetime) -> int: ...

    async def renew_leases(self, host_id: str, session_ids: Sequence[str], until: datetime) -> None:
        """``host_id`` still holds these live sessions until ``until``."""
        ...

    async def stale_sessions(self, now: datetime, limit: int) -> list[StaleSession]:
        """Live sessions (claimed or in progress) whose lease expired before ``now``."""
        ...

    async def settle_stale(self, session: StaleSession, now: datetime) -> str | None:
        """Settle a stale session if it is still as seen: ``"deferred"`` (never dialled: back in the
        queue), ``"failed"`` (host_lost, to be retried), or None (it moved meanwhile)."""
        ...

    async def unretried_failures(self, older_than: datetime, limit: int) -> list[tuple[str, FailureReason]]:
        """Sessions failed with a retryable reason, never rescheduled (their outcome was lost)."""
        ...

    async def job_stats(self, now: datetime) -> JobStats: ...


class HostClient(Protocol):
    host_id: str

    async def start_call(self, call: CallStart) -> bool:
        """Start the call; False if the host already knows this session (no second dial)."""
        ...

    async def status(self) -> HostStatus: ...

    async def ack(self, session_ids: Sequence[str]) -> None: ...

    async def cancel(self, session_id: str) -> bool: ...

    async def drain(self, deadline_s: float) -> None: ...


class HostFleet(Protocol):
    async def discover(self) -> list[HostClient]:
        """Hosts already running (after a dispatcher restart)."""
        ...

    async def start_host(self) -> HostClient:
        """Start one more host and wait until it serves (may wait for the autoscaler)."""
        ...

    async def retire(self, host: HostClient) -> None:
        """Stop a drained host so its node can scale down."""
        ...

    async def kill(self, host: HostClient) -> None:
        """End a host's process now, without asking it (it stopped answering)."""
        ...


class CallEnder(Protocol):
    async def end_call_by_sid(self, call_sid: str) -> None:
        """End (or cancel) a call at the carrier; idempotent for finished calls."""
        ...


class MetricsSink(Protocol):
    def gauge(self, name: str, value: float, tags: dict[str, str] | None = None) -> None: ...

    def count(self, name: str, value: float = 1.0, tags: dict[str, str] | None = None) -> None: ...

    def observe(self, name: str, value: float, tags: dict[str, str] | None = None) -> None: ...


class NullMetrics:
    def gauge(self, name: str, value: float, tags: dict[str, str] | None = None) -> None:
        pass

    def count(self, name: str, value: float = 1.0, tags: dict[str, str] | None = None) -> None:
        pass

    def observe(self, name: str, value: float, tags: dict[str, str] | None = None) -> None:
        pass
