"""The dispatcher's control loop as a plain class: the Dispatcher actor only hosts it.

Each :meth:`DispatcherCore.tick`:

0. (after a start) recovers: adopts running hosts, fails the sessions of hosts
   that are gone, re-sends claimed sessions their host never got — retried
   every tick until it succeeds;
1. heartbeats every host; a host that fails to answer is lost → its live
   sessions are failed ``host_lost``, their calls ended at Twilio by SID, and
   retried (backoff, inside windows); handles the outcomes hosts report
   (retry), then acks them;
2. renews the lease of every session a live host reports; the reconciler
   settles live sessions whose lease ran out (no live host owns them) and
   reschedules retryable failures whose retry was lost;
3. claims due sessions for the least-loaded host with free slots, as many as
   the account's calls-per-second bucket allows and the provider circuit
   breakers let through, and starts them;
4. asks for a new host when calls wait and every host is full, and drains
   hosts that have been idle for a while;
5. publishes the job queue's depth, lag and dead letters as metrics.

Each step is isolated and timed (``callengine_dispatcher_step_seconds``).
Analysis needs no hand-off here: a completed session's jobs are written with
its status (see ``engine/jobs``).

The database is the source of truth: a session is claimed (written) before a
host is told to dial it, a host refuses a session it already knows, and a
restarted dispatcher re-sends only sessions a live host does not know — so
nothing is lost and nothing is dialled twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from engine import metrics as m
from engine.clock import Clock
from engine.dispatch.breaker import Breakers, ProviderUnavailableError
from engine.dispatch.placement import HostView, choose_host, idle_hosts_to_drain, plan
from engine.dispatch.ports import (
    CallEnder,
    CallStart,
    DueSession,
    HostClient,
    HostFleet,
    HostLostError,
    MetricsSink,
    NotDialledError,
    NullMetrics,
    Outcome,
    SessionQueue,
)
from engine.dispatch.rate import AccountRateLimiter
from engine.dispatch.reconcile import LeaseSteps
from engine.dispatch.retry import RetryPolicy
from engine.domain import FailureReason
from engine.errors import CallEngineError, ResourceExhaustedError
from engine.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class DispatcherOptions:
    account: str = "default"
    calls_per_second: float = 1.0
    slots_per_host: int = 200
    max_hosts: int = 16
    min_hosts: int = 1
    idle_seconds: float = 300.0
    drain_seconds: float = 60.0
    respect_call_windows: bool = True
    defer_seconds: float = 5.0
    """How far a session is pushed back when it cannot go now for a reason other than its window."""
    starts_in_flight: int = 1
    """Host start_call requests in flight at once. 1 keeps dials at the host paced by the
    bucket (strict CPS at Twilio); more overlaps Ray/DB latency but lets jitter bunch dials."""
    max_starting_hosts: int = 4
    """Host starts in flight at once (an actor start is a process start: ~3/s on 2 cores)."""
    heartbeat_timeout: float = 30.0
    """A host silent this long (status calls failing without a clear death) is treated as lost."""
    pace_seconds: float = 1.0
    """How long one tick may wait for rate-limit tokens before yielding to heartbeats."""
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    lease_seconds: float = 60.0
    """A live session's lease: renewed while a live host reports it; once expired, reconciled."""
    reconcile_seconds: float = 10.0
    """How often stale sessions and lost outcomes are looked for."""
    unretried_grace_seconds: float = 60.0
    """A retryable failure not rescheduled within this long is rescheduled by the reconciler."""
    jobs_metrics_seconds: float = 5.0
    breaker_failures: int = 3
    breaker_open_seconds: float = 15.0


@dataclass
class _Host:
    client: HostClient
    view: HostView
    active: dict[str, str] = field(default_factory=dict)


class DispatcherCore(LeaseSteps):
    def __init__(
        self,
        queue: SessionQueue,
        fleet: HostFleet,
        clock: Clock,
        options: DispatcherOptions,
        *,
        calls: CallEnder | None = None,
        metrics: MetricsSink | None = None,
    ) -> None:
        self.queue = queue
        self.fleet = fleet
        self.clock = clock
        self.opts = options
        self.calls = calls
        self.metrics = metrics or NullMetrics()
        self.limiter = AccountRateLimiter(options.calls_per_second)
        self.hosts: dict[str, _Host] = {}
        self._starting: set[asyncio.Task[None]] = set()
        self._background: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._start_slots = asyncio.Semaphore(max(1, options.starts_in_flight))
        self.dialled = 0
        self.recovered = False
        self.breakers = Breakers()
        for b in self.breakers.all():
            b.failures, b.open_seconds = options.breaker_failures, options.breaker_open_seconds
        self._next_renew = 0.0
        self._next_reconcile = 0.0
        self._next_jobs = 0.0
        self.step_errors: dict[str, int] = {}
        self._slots: dict[str, str] = {}

    # -- lifecycle -------------------------------------------------------------

    async def recover(self) -> None:
        """After a (re)start: adopt running hosts; fail sessions of hosts that are gone;
        re-send sessions claimed for a live host that never reached it."""
        for client in await self.fleet.discover():
            self._adopt(client)
        await self._heartbeat()
        known = set(self.hosts)
        for host_id in await self.queue.hosts_with_live_sessions():
            if host_id not in known:
                await self._host_lost(host_id)
        for host in list(self.hosts.values()):
            for session_id in await self.queue.claimed_for_host(host.view.host_id):
                if session_id in host.active:
                    continue
                await self._resend(host, session_id)

    async def _resend(self, host: _Host, session_id: str) -> None:
        # Claimed in the DB but unknown to its host: the dispatcher died between
        # claim and start. The host dedups by session id, so this cannot dial twice.
        ctx = await self.queue.retry_context(session_id)
        call = CallStart(session_id, "", "", ctx.retry_count)
        try:
            await host.client.start_call(call)
        except HostLostError:
            await self._host_lost(host.view.host_id)

    def _metric_slot(self, host_id: str) -> str:
        """A small reusable label for a host's metric series: host ids churn with autoscaling,
        and a series per id ever seen would grow without bound."""
        slot = self._slots.get(host_id)
        if slot is None:
            used = set(self._slots.values())
            slot = next(f"slot{i}" for i in range(len(used) + 1) if f"slot{i}" not in used)
            self._slots[host_id] = slot
        return slot

    def _forget(self, host_id: str) -> None:
        slot = self._slots.pop(host_id, None)
        if slot is not None:  # zero its series; the label is reused by the next host
            self.metrics.gauge(m.ACTIVE_CALLS.name, 0, {"host": slot})
            self.metrics.gauge(m.FREE_SLOTS.name, 0, {"host": slot})

    def _adopt(self, client: HostClient) -> _Host:
        h = _Host(client, HostView(client.host_id, self.opts.slots_per_host, self.opts.slots_per_host))
        h.view.last_seen = self.clock.monotonic()
        self.hosts[client.host_id] = h
        return h

    def wake(self) -> None:
        """A session became due (e.g. DispatchCall): run the next tick now."""
        self._wake.set()

    async def run(self, poll_seconds: float) -> None:
        """Tick forever. Recovery is the first step and is retried until it succeeds; each
        step's failure is logged and counted, and the loop carries on."""
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # pragma: no cover - every step is isolated; a last guard
                log.exception("dispatcher tick failed; continuing")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll_seconds)
            self._wake.clear()

    async def close(self) -> None:
        tasks = self._starting | self._background
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    # -- one tick --------------------------------------------------------------

    async def tick(self) -> int:
        """One round: (recovery,) heartbeat, leases, reconcile, dispatch, scale, job metrics.

        Each step runs isolated and timed: one failing step (the database away, a host
        call timing out) is logged and counted and the others still run. Returns calls started.
        """
        if not self.recovered:
            if not await self._step("recover", self.recover()):
                return 0
            self.recovered = True
        await self._step("heartbeat", self._heartbeat())
        mono = self.clock.monotonic()
        if mono >= self._next_renew:
            if await self._step("leases", self._renew_leases()):
                self._next_renew = mono + self.opts.lease_seconds / 4
        if mono >= self._next_reconcile:
            if await self._step("reconcile", self._reconcile()):
                self._next_reconcile = mono + self.opts.reconcile_seconds
        started: list[int] = []

        async def dispatch() -> None:
            started.append(await self._dispatch())

        await self._step("dispatch", dispatch())
        await self._step("scale", self._scale())
        if mono >= self._next_jobs:
            self._next_jobs = mono + self.opts.jobs_metrics_seconds
            await self._step("jobs", self._job_metrics())
        for b in self.breakers.all():
            self.metrics.gauge(m.BREAKER.name, int(b.state), {"provider": b.provider})
        self.metrics.gauge(m.DIAL_RATE.name, self.limiter.current_rate(self.opts.account))
        return sum(started)

    async def _step(self, name: str, coro: Any) -> bool:
        started = time.perf_counter()
        outcome = "ok"
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            outcome = "error"
            self.step_errors[name] = self.step_errors.get(name, 0) + 1
            log.warning(
                "dispatcher step %s failed: %s", name, exc, exc_info=not isinstance(exc, CallEngineError)
            )
        self.metrics.observe(
            m.TICK_STEP.name, time.perf_counter() - started, {"step": name, "outcome": outcome}
        )
        return outcome == "ok"

    async def _heartbeat(self) -> None:
        hosts = list(self.hosts.items())
        # Concurrently: one silent host must not stall the others' heartbeats.
        results = await asyncio.gather(*(h.client.status() for _, h in hosts), return_exceptions=True)
        for (host_id, host), result in zip(hosts, results, strict=True):
            try:
                if isinstance(result, BaseException):
                    raise result
                status = result
            except HostLostError:
                await self._host_lost(host_id)
                continue
            except CallEngineError as exc:
                # No answer (timeout, unreachable node): lost once silent for heartbeat_timeout.
                silent = self.clock.monotonic() - host.view.last_seen
                log.warning("host %s missed a heartbeat (%.1fs silent): %s", host_id, silent, exc)
                if silent >= self.opts.heartbeat_timeout:
                    await self._host_lost(host_id, kill=host.client)
                continue
            now = self.clock.monotonic()
            v = host.view
            v.capacity, v.free_slots, v.draining, v.last_seen = (
                status.capacity,
                status.free_slots,
                status.draining,
                now,
            )
            v.reserved = 0
            host.active = dict(status.active)
            if status.active:
                v.idle_since = None
            elif v.idle_since is None:
                v.idle_since = now
            tags = {"host": self._metric_slot(host_id)}
            self.metrics.gauge(m.ACTIVE_CALLS.name, len(status.active), tags)
            self.metrics.gauge(m.FREE_SLOTS.name, status.free_slots, tags)
            for ms in status.turn_latency_ms:
                self.metrics.observe(m.TURN_LATENCY.name, ms, tags)
            for kind, n in status.rejected.items():
                self.metrics.count(m.HOST_REJECTED.name, n, {"kind": kind[:40]})
            if status.twilio_throttled_s > 0:
                # Twilio answered this host 429: the account is over its CPS, so every host's
                # dials slow down here, not only that host's own REST client.
                self.limiter.slow_down(self.opts.account, now, status.twilio_throttled_s)
                self.metrics.count(m.TWILIO_THROTTLED.name, 1)
                log.warning(
                    "twilio rate-limited host %s: dialling paused %.1fs, then at %.2f calls/s",
                    host_id,
                    status.twilio_throttled_s,
                    self.limiter.current_rate(self.opts.account),
                )
            done = [await self._outcome(o) for o in status.outcomes]
            if done:
                try:
                    await host.client.ack(done)
                except HostLostError:
                    await self._host_lost(host_id)
        self.metrics.gauge(m.HOSTS.name, len(self.hosts))

    async def _outcome(self, o: Outcome) -> str:
        reason = o.failure_reason
        self.metrics.count(m.OUTCOMES.name, 1, {"status": str(o.status), "failure_reason": str(reason or "")})
        # Analysis needs no hand-off: its jobs were written with the completed status.
        if reason is FailureReason.REALTIME_LOST:
            # The AI could not be restored mid-call: the provider is failing for calls in flight.
            self.breakers.realtime.failure(self.clock.monotonic())
        if o.retry_due and reason is not None:
            await self._retry(o.session_id, reason, o.callback_after_seconds)
        return o.session_id

    async def _retry(
        self, session_id: str, reason: FailureReason, callback_after_seconds: int | None = None
    ) -> None:
        ctx = await self.queue.retry_context(session_id)
        windows = ctx.windows if self.opts.respect_call_windows else None
        now = self.clock.now()
        # A requested call-back: the time stored with the failed attempt (it survives a lost
        # outcome), else the one the outcome carries.
        requested = ctx.requested_at
        if requested is None and callback_after_seconds is not None:
            requested = now + timedelta(seconds=callback_after_seconds)
        decision = self.opts.policy.decide(
            reason=reason,
            retries_done=ctx.retry_count,
            failed_at=now,
            windows=windows,
            requested_at=requested,
        )
        if decision.next_attempt_at is not None:
            await self.queue.schedule_retry(session_id, decision.next_attempt_at, reason)
            self.metrics.count(m.RETRIES.name, 1, {"failure_reason": str(reason)})
        elif decision.give_up_reason is FailureReason.MAX_RETRIES:
            await self.queue.fail(session_id, FailureReason.MAX_RETRIES)

    async def _host_lost(self, host_id: str, kill: HostClient | None = None) -> None:
        self.hosts.pop(host_id, None)
        self._forget(host_id)
        if kill is not None:
            # A silent host may still be alive behind a partition: make sure it is gone
            # before its calls are retried, so none can be live twice.
            with contextlib.suppress(CallEngineError):
                await self.fleet.kill(kill)
        lost = await self.queue.fail_in_progress_for_host(host_id, FailureReason.HOST_LOST)
        log.warning("host %s lost with %d live sessions; retrying them", host_id, len(lost))
        self.metrics.count(m.HOST_LOST.name, 1)
        for session_id, call_sid in lost:
            await self._end_at_carrier(call_sid)
            await self._retry(session_id, FailureReason.HOST_LOST)

    async def _dispatch(self) -> int:
        """Claim and start due calls. Tokens are taken one by one at the account's rate
        (pacing inside the tick); the host calls themselves run concurrently."""
        self.metrics.gauge(m.QUEUE_DEPTH.name, await self.queue.queue_depth(self.clock.now()))
        account = self.opts.account
        live = {v for h in self.hosts.values() for v in h.active.values() if v}
        budget_end = self.clock.monotonic() + self.opts.pace_seconds
        launches: list[asyncio.Task[bool]] = []
        while True:
            host = self._pick()
            if host is None:
                break
            mono = self.clock.monotonic()
            if not self.breakers.can_pass(mono):
                break  # a provider is failing: dial nobody until a probe succeeds
            # What the bucket can release before this tick's budget ends.
            tokens = self.limiter.releasable(account, mono, budget_end)
            if tokens <= 0:
                break
            limit = min(tokens, host.view.available)
            batch = await self.queue.claim_due(self.clock.now(), limit, host.view.host_id)
            for due in batch:
                # With one start in flight (the default) a call is dialled only after the
                # previous host call returned, so the host-side dial times keep the pace.
                await self._start_slots.acquire()
                if not await self._admit(due, live, budget_end):
                    self._start_slots.release()
                    continue
                host.view.reserved += 1
                host.active[due.session_id] = due.verification_id
                live.add(due.verification_id)
                launches.append(asyncio.create_task(self._launch(host, due), name=f"start-{due.session_id}"))
            if len(batch) < limit:
                break
        results = await asyncio.gather(*launches)
        return sum(results)

    def _pick(self) -> _Host | None:
        view = choose_host(h.view for h in self.hosts.values())
        return None if view is None else self.hosts[view.host_id]

    async def _admit(self, due: DueSession, live: set[str], budget_end: float) -> bool:
        """May this claimed session be dialled now? If not, it is failed or given back."""
        now = self.clock.now()
        if await self.queue.is_opted_out(due.session_id):
            await self.queue.fail(due.session_id, FailureReason.OPTED_OUT)
            return False
        if due.verification_id in live:
            await self.queue.defer(due.session_id, now + timedelta(seconds=self.opts.defer_seconds))
            return False
        if self.opts.respect_call_windows:
            windows = await self.queue.windows_for(due.store_id)
            opens = windows.next_open(now)
            if opens is None or opens > now:
                await self.queue.defer(due.session_id, opens or now + timedelta(days=7))
                return False
        if not self.breakers.allow(self.clock.monotonic()):
            await self.queue.defer(due.session_id, now)  # a provider failed meanwhile: hold it
            return False
        account = due.account or self.opts.account
        while not self.limiter.try_acquire(account, self.clock.monotonic()):
            wait = self.limiter.wait_time(account, self.clock.monotonic())
            if self.clock.monotonic() + wait > budget_end + 1e-6:
                # Not this tick: give it back for when its token is there. Deferred to "now", a
                # bucket other than the one this tick's claims are counted on (the queue's account
                # differing from the dispatcher's) let the same session be claimed again at once,
                # for ever.
                await self.queue.defer(due.session_id, now + timedelta(seconds=wait))
                return False
            await self.clock.sleep(wait)
        return True

    async def _launch(self, host: _Host, due: DueSession) -> bool:
        try:
            return await self._launch_one(host, due)
        finally:
            self._start_slots.release()

    async def _launch_one(self, host: _Host, due: DueSession) -> bool:
        call = CallStart(due.session_id, due.verification_id, due.store_id, due.retry_count)
        try:
            await host.client.start_call(call)
        except HostLostError:
            await self._host_lost(host.view.host_id)
            return False
        except NotDialledError as exc:
            # Not dialled (the host could not read what a dial needs): back in the queue now,
            # rather than after its lease; if the database is still away, the lease does it.
            host.active.pop(due.session_id, None)
            log.warning("session %s not dialled: %s", due.session_id, exc)
            with contextlib.suppress(CallEngineError):
                await self.queue.defer(
                    due.session_id, self.clock.now() + timedelta(seconds=self.opts.defer_seconds)
                )
            return False
        except ProviderUnavailableError as exc:
            # Not dialled: the session gave itself back to the queue. Count it against the provider.
            self.breakers.get(exc.provider).failure(self.clock.monotonic())
            host.active.pop(due.session_id, None)
            log.warning("session %s not dialled: %s", due.session_id, exc)
            return False
        except ResourceExhaustedError as exc:
            # The host refused it outright (full, draining): give the session back untouched.
            log.warning("host %s refused session %s: %s", host.view.host_id, due.session_id, exc)
            host.active.pop(due.session_id, None)
            host.view.reserved = host.view.free_slots
            await self.queue.defer(due.session_id, self.clock.now())
            return False
        except CallEngineError as exc:
            # No answer in time: the host may still be dialling it. Leave it claimed for that
            # host; its heartbeat shows whether it holds the call, and if it does not, the
            # session's lease runs out and the reconciler settles it. Never re-queue it here.
            log.warning(
                "start of session %s on host %s unconfirmed: %s", due.session_id, host.view.host_id, exc
            )
            return False
        self.breakers.success()  # the Realtime session opened and Twilio accepted the create
        self.dialled += 1
        self.metrics.count(m.DIALS.name, 1, {"account": due.account or self.opts.account})
        return True

    # -- scaling ---------------------------------------------------------------

    async def _scale(self) -> None:
        views = [h.view for h in self.hosts.values()]
        waiting = await self.queue.queue_depth(self.clock.now())
        p = plan(
            views,
            waiting,
            slots_per_host=self.opts.slots_per_host,
            max_hosts=self.opts.max_hosts,
            starting=len(self._starting),
        )
        want = p.start_hosts
        if not self.hosts and not self._starting and self.opts.min_hosts > 0:
            want = max(want, self.opts.min_hosts)
        # Bounded: each start is a new worker process, and a burst of them starves the node.
        want = min(want, max(0, self.opts.max_starting_hosts - len(self._starting)))
        for _ in range(want):
            self._start_host()
        if waiting:
            return
        for host_id in idle_hosts_to_drain(
            views, now=self.clock.monotonic(), idle_seconds=self.opts.idle_seconds, keep=self.opts.min_hosts
        ):
            host = self.hosts.pop(host_id)
            self._forget(host_id)
            self._spawn(self._retire(host), f"retire-{host_id}")

    def _start_host(self) -> None:
        async def start() -> None:
            try:
                client = await self.fleet.start_host()
            except CallEngineError as exc:
                log.warning("could not start a session host: %s", exc)
                return
            self._adopt(client)
            self._wake.set()

        task = asyncio.create_task(start(), name="start-session-host")
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def _retire(self, host: _Host) -> None:
        try:
            await host.client.drain(self.opts.drain_seconds)
            await self.fleet.retire(host.client)
        except HostLostError:
            pass  # it exited on its own: nothing was live on it
        log.info("idle host %s drained and retired", host.view.host_id)

    def _spawn(self, coro: object, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)  # type: ignore[arg-type]
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def wait_idle(self) -> None:
        """Wait for background work (analysis hand-offs, retirements, host starts)."""
        tasks = self._starting | self._background
        if tasks:
            await asyncio.wait(tasks)

    async def cancel(self, session_id: str) -> bool:
        """Hang up a live call (the host records it canceled). False if no host holds it."""
        for host in self.hosts.values():
            if session_id in host.active:
                return await host.client.cancel(session_id)
        return False
