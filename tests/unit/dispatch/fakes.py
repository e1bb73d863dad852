"""In-memory fakes of the dispatcher's ports: a session queue and a fleet of hosts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from engine.dispatch.ports import (
    CallStart,
    DueSession,
    HostLostError,
    HostStatus,
    JobStats,
    Outcome,
    RetryContext,
    StaleSession,
)
from engine.dispatch.windows import CallWindows
from engine.domain import FailureReason, SessionStatus
from engine.errors import ResourceExhaustedError, UnavailableError


@dataclass
class Row:
    session_id: str
    verification_id: str
    store_id: str
    next_at: datetime
    status: str = "pending"  # pending | claimed | failed | completed
    host: str | None = None
    retry_count: int = 0
    failure_reason: FailureReason | None = None
    lease_until: datetime | None = None
    call_sid: str | None = None
    phase: str | None = None
    failed_at: datetime | None = None
    requested_at: datetime | None = None
    """A call-back time stored with a failed attempt (the session's next_attempt_at)."""
    account: str = ""


@dataclass
class FakeQueue:
    rows: dict[str, Row] = field(default_factory=dict)
    windows: dict[str, CallWindows] = field(default_factory=dict)
    opted_out: set[str] = field(default_factory=set)
    claims: list[str] = field(default_factory=list)
    lease: timedelta = timedelta(seconds=60)
    jobs: dict[str, dict[str, int]] = field(default_factory=dict)
    lost_reasons: list[FailureReason] = field(default_factory=list)
    """The reason every fail_in_progress_for_host was given."""

    def add(self, sid: str, at: datetime, *, verification: str | None = None, store: str = "s1") -> None:
        self.rows[sid] = Row(sid, verification or f"v-{sid}", store, at)

    async def claim_due(self, now: datetime, limit: int, host_id: str) -> list[DueSession]:
        due = sorted(
            (r for r in self.rows.values() if r.status == "pending" and r.next_at <= now),
            key=lambda r: (r.next_at, r.session_id),
        )[:limit]
        for r in due:
            r.status, r.host, r.phase = "claimed", host_id, "claimed"
            r.lease_until = now + self.lease
            self.claims.append(r.session_id)
        return [
            DueSession(r.session_id, r.verification_id, r.store_id, r.retry_count, r.account) for r in due
        ]

    async def defer(self, session_id: str, until: datetime) -> None:
        r = self.rows[session_id]
        r.status, r.host, r.next_at = "pending", None, until

    async def schedule_retry(self, session_id: str, next_attempt_at: datetime, reason: FailureReason) -> None:
        r = self.rows[session_id]
        r.status, r.host, r.next_at = "pending", None, next_attempt_at
        r.retry_count += 1
        r.failure_reason = reason

    async def fail(self, session_id: str, reason: FailureReason) -> None:
        r = self.rows[session_id]
        r.status, r.failure_reason = "failed", reason
        r.lease_until = None

    async def fail_in_progress_for_host(
        self, host_id: str, reason: FailureReason
    ) -> list[tuple[str, str | None]]:
        self.lost_reasons.append(reason)
        lost = [r for r in self.rows.values() if r.status == "claimed" and r.host == host_id]
        for r in lost:
            r.status, r.failure_reason = "failed", reason
        return [(r.session_id, r.call_sid) for r in lost]

    async def claimed_for_host(self, host_id: str) -> list[str]:
        return [r.session_id for r in self.rows.values() if r.status == "claimed" and r.host == host_id]

    async def hosts_with_live_sessions(self) -> list[str]:
        return sorted({r.host for r in self.rows.values() if r.status == "claimed" and r.host})

    async def retry_context(self, session_id: str) -> RetryContext:
        r = self.rows[session_id]
        requested = (
            r.requested_at
            if r.status == "failed" and r.failure_reason is FailureReason.CALLBACK_REQUESTED
            else None
        )
        return RetryContext(r.retry_count, self.windows.get(r.store_id), requested)

    async def is_opted_out(self, session_id: str) -> bool:
        return session_id in self.opted_out

    async def windows_for(self, store_id: str) -> CallWindows:
        return self.windows.get(store_id, CallWindows())

    async def queue_depth(self, now: datetime) -> int:
        return sum(1 for r in self.rows.values() if r.status == "pending" and r.next_at <= now)

    async def renew_leases(self, host_id: str, session_ids: Sequence[str], until: datetime) -> None:
        for sid in session_ids:
            r = self.rows.get(sid)
            if r is not None and r.status == "claimed" and r.host == host_id:
                r.lease_until = until

    async def stale_sessions(self, now: datetime, limit: int) -> list[StaleSession]:
        return [
            StaleSession(r.session_id, r.host, SessionStatus.PENDING, r.phase, r.call_sid)
            for r in self.rows.values()
            if r.status == "claimed" and r.lease_until is not None and r.lease_until < now
        ][:limit]

    async def settle_stale(self, session: StaleSession, now: datetime) -> str | None:
        r = self.rows[session.session_id]
        if r.status != "claimed" or r.host != session.host_id or (r.lease_until and r.lease_until >= now):
            return None
        r.host, r.lease_until = None, None
        if r.phase in (None, "claimed"):
            r.status, r.next_at, r.phase = "pending", now, None
            return "deferred"
        r.status, r.failure_reason, r.failed_at = "failed", FailureReason.HOST_LOST, now
        return "failed"

    async def unretried_failures(self, older_than: datetime, limit: int) -> list[tuple[str, FailureReason]]:
        return [
            (r.session_id, r.failure_reason)
            for r in self.rows.values()
            if r.status == "failed"
            and r.failure_reason is not None
            and r.failure_reason.retryable
            and r.failed_at is not None
            and r.failed_at < older_than
        ][:limit]

    async def job_stats(self, now: datetime) -> JobStats:
        return JobStats(dict(self.jobs), {})


@dataclass
class FakeHost:
    host_id: str
    capacity: int
    queue: FakeQueue
    dial_log: list[str]
    dial_times: list[float] | None = None
    clock: object = None
    active: dict[str, str] = field(default_factory=dict)
    known: set[tuple[str, int]] = field(default_factory=set)
    outcomes: list[Outcome] = field(default_factory=list)
    dead: bool = False
    silent: bool = False
    draining: bool = False
    throttled_s: float = 0.0
    """A Twilio 429's wait, reported (once) by the next heartbeat."""
    rejected: dict[str, int] = field(default_factory=dict)
    """Requests refused since the last heartbeat, reported (once) by the next one."""
    calls: list[CallStart] = field(default_factory=list)
    """Every start_call request received, as sent."""
    drain_deadlines: list[float] = field(default_factory=list)
    turn_latency_ms: list[float] = field(default_factory=list)
    """Reported (once) by the next heartbeat."""

    def _check(self) -> None:
        if self.dead:
            raise HostLostError(f"{self.host_id} is dead")
        if self.silent:
            raise UnavailableError(f"{self.host_id}: timed out")

    async def start_call(self, call: CallStart) -> bool:
        self._check()
        self.calls.append(call)
        if (call.session_id, call.attempt) in self.known:
            return False
        if len(self.active) >= self.capacity or self.draining:
            raise ResourceExhaustedError("full")
        self.known.add((call.session_id, call.attempt))
        self.active[call.session_id] = call.verification_id
        self.dial_log.append(call.session_id)
        if self.dial_times is not None and self.clock is not None:
            self.dial_times.append(self.clock.monotonic())  # type: ignore[attr-defined]
        return True

    def finish(
        self,
        sid: str,
        status: SessionStatus,
        reason: FailureReason | None = None,
        *,
        callback_after: int | None = None,
        stored_request: datetime | None = None,
    ) -> None:
        """The session ends: it persists its own terminal status (with a requested call-back
        time, ``stored_request``), then reports (``callback_after``: seconds, as hosts do)."""
        del self.active[sid]
        row = self.queue.rows[sid]
        row.status = "completed" if status is SessionStatus.COMPLETED else "failed"
        row.failure_reason = reason
        row.requested_at = stored_request
        self.outcomes.append(Outcome(sid, status, reason, bool(reason and reason.retryable), callback_after))

    async def status(self) -> HostStatus:
        self._check()
        return HostStatus(
            self.host_id,
            self.capacity,
            self.capacity - len(self.active),
            dict(self.active),
            list(self.outcomes),
            self.draining,
            twilio_throttled_s=self._take_throttle(),
            turn_latency_ms=self._take_latencies(),
            rejected=self._take_rejected(),
        )

    def _take_latencies(self) -> list[float]:
        taken, self.turn_latency_ms = self.turn_latency_ms, []
        return taken

    def _take_rejected(self) -> dict[str, int]:
        rejected, self.rejected = self.rejected, {}
        return rejected

    def _take_throttle(self) -> float:
        throttled, self.throttled_s = self.throttled_s, 0.0
        return throttled

    async def ack(self, session_ids: Sequence[str]) -> None:
        self._check()
        self.outcomes = [o for o in self.outcomes if o.session_id not in set(session_ids)]

    async def cancel(self, session_id: str) -> bool:
        self._check()
        if session_id in self.active:
            self.finish(session_id, SessionStatus.FAILED, FailureReason.CANCELED)
            return True
        return False

    async def drain(self, deadline_s: float) -> None:
        self._check()
        self.draining = True
        self.drain_deadlines.append(deadline_s)


@dataclass
class FakeFleet:
    queue: FakeQueue
    capacity: int = 2
    hosts: list[FakeHost] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    dial_log: list[str] = field(default_factory=list)
    max_start: int = 100
    clock: object = None
    dial_times: list[float] = field(default_factory=list)

    async def discover(self) -> list[FakeHost]:
        return [h for h in self.hosts if not h.dead and h.host_id not in self.retired]

    async def start_host(self) -> FakeHost:
        if len(self.hosts) >= self.max_start:
            raise ResourceExhaustedError("no room")
        h = FakeHost(
            f"h{len(self.hosts)}", self.capacity, self.queue, self.dial_log, self.dial_times, self.clock
        )
        self.hosts.append(h)
        return h

    async def retire(self, host: FakeHost) -> None:  # type: ignore[override]
        self.retired.append(host.host_id)
        if host.silent:
            raise UnavailableError("cannot reach it to stop it")
        host.dead = True

    async def kill(self, host: FakeHost) -> None:  # type: ignore[override]
        self.retired.append(host.host_id)
        host.dead = True
