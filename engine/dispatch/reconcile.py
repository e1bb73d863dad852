"""The Dispatcher's durability steps: leases renewed for what live hosts hold, the reconciler,
ending a lost call at the carrier, and the job queue's metrics.

Mixed into :class:`engine.dispatch.dispatcher.DispatcherCore`; kept apart because it is a
second idea: settling what no live host owns, rather than placing calls.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine import metrics as m
from engine.dispatch.ports import CallEnder, MetricsSink, SessionQueue, StaleSession
from engine.domain import FailureReason
from engine.errors import CallEngineError
from engine.logs import get_logger

if TYPE_CHECKING:
    from engine.clock import Clock

log = get_logger(__name__)


class LeaseSteps:
    queue: SessionQueue
    clock: Clock
    calls: CallEnder | None
    metrics: MetricsSink
    hosts: dict[str, Any]
    opts: Any

    async def _retry(
        self, session_id: str, reason: FailureReason, callback_after_seconds: int | None = None
    ) -> None:
        raise NotImplementedError  # provided by DispatcherCore

    async def _end_at_carrier(self, call_sid: str | None) -> None:
        """A lost host's call may still be up at Twilio (ringing, or the customer waiting on
        silence): end it by SID before the session is retried."""
        if call_sid is None or self.calls is None:
            return
        try:
            await self.calls.end_call_by_sid(call_sid)
        except CallEngineError as exc:
            log.warning("could not end a lost host's call at the carrier: %s", exc)

    # -- leases and the reconciler ------------------------------------------------

    async def _renew_leases(self) -> None:
        until = self.clock.now() + timedelta(seconds=self.opts.lease_seconds)
        for host_id, host in list(self.hosts.items()):
            if host.active:
                await self.queue.renew_leases(host_id, list(host.active), until)

    async def _reconcile(self) -> None:
        """Settle what no live host owns: live sessions whose lease ran out, and retryable
        failures whose retry was never scheduled (the outcome was lost with a host or a restart)."""
        now = self.clock.now()
        for stale in await self.queue.stale_sessions(now, 100):
            host = self.hosts.get(stale.host_id or "")
            if host is not None and stale.session_id in host.active:
                continue  # its host still reports it: the renewal is merely late
            await self._settle(stale, now)
        older = now - timedelta(seconds=self.opts.unretried_grace_seconds)
        pending_outcomes = {sid for h in self.hosts.values() for sid in h.active}
        for session_id, reason in await self.queue.unretried_failures(older, 100):
            if session_id not in pending_outcomes:
                log.warning("session %s: retry was never scheduled; scheduling it now", session_id)
                await self._retry(session_id, reason)

    async def _settle(self, stale: StaleSession, now: datetime) -> None:
        result = await self.queue.settle_stale(stale, now)
        if result is None:
            return
        log.warning(
            "session %s: no live host owns it (host %s, phase %s): %s",
            stale.session_id,
            stale.host_id,
            stale.phase,
            result,
        )
        self.metrics.count(m.OUTCOMES.name, 1, {"status": "reconciled", "failure_reason": result})
        if result == "failed":
            await self._end_at_carrier(stale.call_sid)
            await self._retry(stale.session_id, FailureReason.HOST_LOST)

    async def _job_metrics(self) -> None:
        stats = await self.queue.job_stats(self.clock.now())
        for kind, states in stats.counts.items():
            for state in ("queued", "running", "done", "dead"):
                self.metrics.gauge(m.JOBS.name, states.get(state, 0), {"kind": kind, "state": state})
        for kind, lag in stats.lag_seconds.items():
            self.metrics.gauge(m.JOB_LAG.name, lag, {"kind": kind})
