"""What a host tells the Dispatcher beyond its calls: a requested call-back's time (scheduled there,
durably) and a Twilio 429 (the Dispatcher's own dialling slows down)."""

from __future__ import annotations

import itertools
from datetime import timedelta

from engine.domain import FailureReason, SessionStatus
from tests.unit.dispatch.test_dispatcher import settle, setup

CB = FailureReason.CALLBACK_REQUESTED


async def test_the_outcomes_call_back_time_schedules_the_retry() -> None:
    core, q, fleet, clock, _ = setup(2, capacity=5, respect_call_windows=False)
    await settle(core, clock, ticks=2)
    host = fleet.hosts[0]
    host.finish("s00", SessionStatus.FAILED, CB, callback_after=3 * 3600)
    host.finish("s01", SessionStatus.FAILED, CB, callback_after=20)  # "ring om en stund"
    ended = clock.now()
    await settle(core, clock, ticks=1)
    r0, r1 = q.rows["s00"], q.rows["s01"]
    assert r0.status == "pending" and r0.retry_count == 1 and r0.failure_reason is CB
    assert r0.next_at == ended + timedelta(hours=3), "the customer's time, not the 10-minute backoff"
    assert r1.next_at == ended + timedelta(seconds=300), "bounded below: never rung again at once"
    clock.set(r0.next_at - timedelta(seconds=1))
    await settle(core, clock, ticks=1)
    assert fleet.dial_log.count("s00") == 1, "not before the requested time"
    clock.set(r0.next_at)
    await settle(core, clock, ticks=1)
    assert fleet.dial_log.count("s00") == 2


async def test_the_stored_call_back_time_wins_and_survives_a_lost_outcome() -> None:
    core, q, fleet, clock, _ = setup(
        2, capacity=5, respect_call_windows=False, reconcile_seconds=1.0, unretried_grace_seconds=30.0
    )
    await settle(core, clock, ticks=2)
    host = fleet.hosts[0]
    asked = clock.now() + timedelta(days=1)
    # s00: the session stored the requested time with its failed status, and reported it.
    host.finish("s00", SessionStatus.FAILED, CB, callback_after=24 * 3600, stored_request=asked)
    # s01: stored it, but the host died before its outcome was reported (outcome lost).
    host.finish("s01", SessionStatus.FAILED, CB, stored_request=asked)
    host.outcomes = [o for o in host.outcomes if o.session_id != "s01"]
    q.rows["s01"].failed_at = clock.now()
    await settle(core, clock, ticks=1)
    assert q.rows["s00"].next_at == asked
    await settle(core, clock, ticks=40)
    r1 = q.rows["s01"]
    assert r1.status == "pending" and r1.retry_count == 1, "the reconciler found the lost outcome"
    assert r1.next_at == asked, "still at the customer's time, not the backoff"


async def test_a_call_back_past_the_retry_cap_ends_the_session() -> None:
    core, q, fleet, clock, _ = setup(1, capacity=5, respect_call_windows=False)
    await settle(core, clock, ticks=2)
    q.rows["s00"].retry_count = 3
    fleet.hosts[0].finish("s00", SessionStatus.FAILED, CB, callback_after=3600)
    await settle(core, clock, ticks=1)
    assert q.rows["s00"].status == "failed" and q.rows["s00"].failure_reason is FailureReason.MAX_RETRIES


async def test_a_twilio_429_on_one_host_slows_the_dispatchers_own_dialling() -> None:
    core, q, fleet, clock, _ = setup(0, capacity=50, cps=2.0)
    await settle(core, clock, ticks=1, step=0.1)  # a host is up
    for i in range(40):
        q.add(f"x{i:02d}", clock.now())
    await settle(core, clock, ticks=3, step=0.1)
    before = len(fleet.dial_log)
    assert 3 <= before < 40
    fleet.hosts[0].throttled_s = 3.0  # its REST client got a 429 asking for 3 s
    heard_at = clock.monotonic()  # the next tick's heartbeat reports it
    await settle(core, clock, ticks=40, step=0.1)
    later = fleet.dial_times[before:]
    assert later and later[0] >= heard_at + 3.0 - 1e-6, "nothing dialled within the Retry-After"
    gaps = [b - a for a, b in itertools.pairwise(later)]
    assert gaps and gaps[0] > 0.9, "then at about half the configured rate (1/s, not 2/s), recovering"
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(gaps)), "speeding up again"
    assert core.limiter.current_rate(core.opts.account) < 2.0
