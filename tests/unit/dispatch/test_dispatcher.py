"""The dispatcher's control loop on fakes: placement, CPS, windows, retries, host loss, restart."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from engine.clock import SteppingClock
from engine.dispatch.dispatcher import DispatcherCore, DispatcherOptions
from engine.domain import FailureReason, SessionStatus

from .fakes import FakeFleet, FakeQueue

WED_11_LOCAL = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


class Sink:
    """The carrier: calls ended by SID (a lost host's)."""

    def __init__(self) -> None:
        self.ended: list[str] = []

    async def end_call_by_sid(self, call_sid: str) -> None:
        self.ended.append(call_sid)


def setup(
    n: int = 0, *, capacity: int = 2, cps: float = 1000.0, start: datetime = WED_11_LOCAL, **opts: object
) -> tuple[DispatcherCore, FakeQueue, FakeFleet, SteppingClock, Sink]:
    clock = SteppingClock(start)
    q = FakeQueue()
    for i in range(n):
        q.add(f"s{i:02d}", start)
    fleet = FakeFleet(q, capacity, clock=clock)
    sink = Sink()
    options = DispatcherOptions(calls_per_second=cps, slots_per_host=capacity, **opts)  # type: ignore[arg-type]
    core = DispatcherCore(q, fleet, clock, options, calls=sink)
    return core, q, fleet, clock, sink


async def settle(core: DispatcherCore, clock: SteppingClock, ticks: int = 3, step: float = 1.0) -> None:
    for _ in range(ticks):
        await core.tick()
        await core.wait_idle()
        clock.advance(step)


async def test_spreads_over_least_loaded_hosts_and_starts_hosts_when_full() -> None:
    core, _q, fleet, clock, _ = setup(5, capacity=2, max_hosts=3)
    await settle(core, clock)
    assert len(fleet.hosts) == 3
    assert sorted(len(h.active) for h in fleet.hosts) == [1, 2, 2]
    assert sorted(fleet.dial_log) == [f"s{i:02d}" for i in range(5)]


async def test_calls_per_second_holds() -> None:
    core, _q, fleet, clock, _ = setup(20, capacity=50, cps=2.0)
    await settle(core, clock, ticks=12, step=0.1)
    assert len(fleet.dial_log) == 20
    t = fleet.dial_times
    # paced inside ticks: never more than 1 + rate × elapsed calls in any stretch
    for i in range(len(t)):
        for j in range(i + 1, len(t)):
            assert j - i + 1 <= 1 + 2.0 * (t[j] - t[i]) + 1e-6
    assert t[-1] - t[0] >= 9.5


async def test_call_window_holds_with_a_moved_clock() -> None:
    night = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 03:00 Stockholm
    core, q, fleet, clock, _ = setup(2, start=night)
    await settle(core, clock)
    assert fleet.dial_log == []
    assert all(r.next_at == datetime(2026, 11, 25, 8, 0, tzinfo=UTC) for r in q.rows.values())
    clock.set(datetime(2026, 11, 25, 8, 0, tzinfo=UTC))
    await settle(core, clock)
    assert sorted(fleet.dial_log) == ["s00", "s01"]


async def test_windows_can_be_turned_off() -> None:
    core, _q, fleet, clock, _ = setup(
        1, start=datetime(2026, 11, 25, 2, 0, tzinfo=UTC), respect_call_windows=False
    )
    await settle(core, clock)
    assert fleet.dial_log == ["s00"]


async def test_opted_out_numbers_are_never_dialled() -> None:
    core, q, fleet, clock, _ = setup(2)
    q.opted_out.add("s00")
    await settle(core, clock)
    assert fleet.dial_log == ["s01"]
    assert q.rows["s00"].status == "failed" and q.rows["s00"].failure_reason is FailureReason.OPTED_OUT


async def test_never_two_live_sessions_for_one_verification() -> None:
    core, q, fleet, clock, _ = setup(0, capacity=5)
    q.add("a", WED_11_LOCAL, verification="v1")
    q.add("b", WED_11_LOCAL, verification="v1")
    await settle(core, clock)
    assert len(fleet.dial_log) == 1
    other = "b" if fleet.dial_log == ["a"] else "a"
    assert q.rows[other].status == "pending"


async def test_outcomes_retry_with_backoff() -> None:
    core, q, fleet, clock, _ = setup(2, capacity=5)
    await settle(core, clock, ticks=2)
    host = fleet.hosts[0]
    host.finish("s00", SessionStatus.COMPLETED)
    host.finish("s01", SessionStatus.FAILED, FailureReason.NO_ANSWER)
    failed_at = clock.now()
    await settle(core, clock, ticks=1)
    r = q.rows["s01"]
    assert r.status == "pending" and r.retry_count == 1
    assert r.next_at == failed_at + timedelta(seconds=600)
    assert host.outcomes == []  # acked
    clock.set(r.next_at)
    await settle(core, clock, ticks=1)
    assert Counter(fleet.dial_log)["s01"] == 2  # the retry is a new attempt, not a double dial


async def test_gives_up_after_three_retries() -> None:
    core, q, fleet, clock, _ = setup(1, capacity=5, respect_call_windows=False)
    await settle(core, clock, ticks=2)
    for _ in range(4):
        fleet.hosts[0].finish("s00", SessionStatus.FAILED, FailureReason.BUSY)
        await settle(core, clock, ticks=1)
        clock.advance(5 * 3600)
        await settle(core, clock, ticks=1)
    assert q.rows["s00"].status == "failed"
    assert q.rows["s00"].failure_reason is FailureReason.MAX_RETRIES
    assert fleet.dial_log.count("s00") == 4


async def test_host_death_fails_host_lost_and_retries_elsewhere() -> None:
    core, q, fleet, clock, _ = setup(3, capacity=3, max_hosts=2, respect_call_windows=False)
    await settle(core, clock, ticks=2)
    victim = next(h for h in fleet.hosts if h.active)
    lost = set(victim.active)
    victim.dead = True
    await settle(core, clock, ticks=1)
    for sid in lost:
        assert q.rows[sid].status == "pending" and q.rows[sid].retry_count == 1
        assert q.rows[sid].failure_reason is FailureReason.HOST_LOST
    clock.advance(601)
    await settle(core, clock, ticks=2)
    survivors = [h for h in fleet.hosts if not h.dead]
    assert lost <= {sid for h in survivors for sid in h.active}


async def test_restart_recovers_without_loss_or_double_dial() -> None:
    core, q, fleet, clock, _ = setup(4, capacity=10)
    await settle(core, clock, ticks=2)
    assert len(fleet.dial_log) == 4
    # The old dispatcher claimed two more sessions for h0 and died before telling the host.
    q.add("late1", clock.now())
    q.add("late2", clock.now())
    await q.claim_due(clock.now(), 2, "h0")
    # A host that died while the dispatcher was down.
    q.add("orphan", clock.now())
    await q.claim_due(clock.now(), 1, "h-gone")

    fresh = DispatcherCore(q, fleet, clock, core.opts)
    await fresh.recover()
    await settle(fresh, clock, ticks=2)
    counts = Counter(fleet.dial_log)
    assert all(c == 1 for c in counts.values()), counts
    assert {"late1", "late2"} <= set(counts)
    assert q.rows["orphan"].failure_reason is FailureReason.HOST_LOST
    assert q.rows["orphan"].retry_count == 1


async def test_idle_hosts_drain_and_retire() -> None:
    core, _q, fleet, clock, _ = setup(4, capacity=2, max_hosts=2, idle_seconds=30.0, min_hosts=1)
    await settle(core, clock, ticks=2)
    for h in fleet.hosts:
        for sid in list(h.active):
            h.finish(sid, SessionStatus.COMPLETED)
    await settle(core, clock, ticks=3, step=20.0)
    assert len(fleet.retired) == 1
    assert len(core.hosts) == 1


async def test_cancel_reaches_the_host() -> None:
    core, _q, _fleet, clock, _ = setup(1)
    await settle(core, clock, ticks=2)
    assert await core.cancel("s00")
    assert not await core.cancel("nope")


async def test_full_host_refusal_gives_session_back() -> None:
    core, q, fleet, clock, _ = setup(3, capacity=2, max_hosts=1)
    await settle(core, clock, ticks=2)
    fleet.hosts[0].capacity = 1  # host shrank behind the dispatcher's back
    fleet.hosts[0].active.clear()
    q.add("x", clock.now())
    await settle(core, clock, ticks=2)
    assert q.rows["x"].status in ("pending", "claimed")


async def test_silent_host_is_lost_after_heartbeat_timeout() -> None:
    core, q, fleet, clock, _ = setup(
        2, capacity=2, max_hosts=2, heartbeat_timeout=10.0, respect_call_windows=False
    )
    await settle(core, clock, ticks=2)
    host = fleet.hosts[0]
    held = set(host.active)
    host.silent = True
    await settle(core, clock, ticks=1, step=5.0)
    assert host.host_id in core.hosts  # one missed heartbeat is not death
    await settle(core, clock, ticks=2, step=6.0)
    assert host.host_id not in core.hosts and host.host_id in fleet.retired
    for sid in held:
        assert q.rows[sid].failure_reason is FailureReason.HOST_LOST and q.rows[sid].retry_count == 1


async def test_host_starts_are_bounded() -> None:
    core, _q, fleet, clock, _ = setup(10, capacity=1, max_hosts=10, max_starting_hosts=3)
    await core.tick()
    assert len(core._starting) == 3
    await settle(core, clock, ticks=6)
    assert len(fleet.hosts) == 10 and len(fleet.dial_log) == 10
