"""The dispatcher's durability: leases, the reconciler, isolated steps, recovery, breakers, ambiguous starts."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from engine.dispatch.breaker import ProviderUnavailableError
from engine.dispatch.ports import CallStart
from engine.domain import FailureReason
from engine.errors import UnavailableError
from tests.unit.dispatch.fakes import FakeHost
from tests.unit.dispatch.test_dispatcher import WED_11_LOCAL, settle, setup


async def test_a_session_no_live_host_owns_is_reconciled_and_its_call_ended() -> None:
    core, q, fleet, clock, carrier = setup(2, capacity=5, reconcile_seconds=1.0, lease_seconds=20.0)
    q.lease = timedelta(seconds=20)
    await settle(core, clock, ticks=2)
    host = fleet.hosts[0]
    # The host forgets s00 (its task died without an outcome) while s00 had dialled;
    # s01 was claimed but the host never took it.
    del host.active["s00"]
    q.rows["s00"].phase, q.rows["s00"].call_sid = "ringing", "CAdead"
    del host.active["s01"]
    q.rows["s01"].phase = "claimed"
    await settle(core, clock, ticks=5, step=1.0)
    assert q.rows["s00"].status == "claimed", "lease not expired yet: nothing settled"
    await settle(core, clock, ticks=20, step=1.0)
    r0, r1 = q.rows["s00"], q.rows["s01"]
    assert carrier.ended == ["CAdead"], "the lost call is ended at the carrier by SID"
    assert r0.status == "pending" and r0.retry_count == 1 and r0.failure_reason is FailureReason.HOST_LOST
    assert r1.retry_count == 0, "never dialled: back in the queue, no retry counted"


async def test_live_sessions_keep_their_lease_while_their_host_reports_them() -> None:
    core, q, fleet, clock, carrier = setup(1, capacity=5, reconcile_seconds=1.0, lease_seconds=5.0)
    q.lease = timedelta(seconds=5)
    await settle(core, clock, ticks=30, step=1.0)
    assert q.rows["s00"].status == "claimed" and q.rows["s00"].lease_until is not None
    assert q.rows["s00"].lease_until > clock.now()
    assert carrier.ended == [] and Counter(fleet.dial_log)["s00"] == 1


async def test_a_lost_outcome_is_retried_by_the_reconciler() -> None:
    core, q, fleet, clock, _ = setup(1, capacity=5, reconcile_seconds=1.0, unretried_grace_seconds=30.0)
    await settle(core, clock, ticks=2)
    # The session failed and stored it, but the host died before reporting the outcome.
    host = fleet.hosts[0]
    del host.active["s00"]
    r = q.rows["s00"]
    r.status, r.failure_reason, r.failed_at = "failed", FailureReason.NO_ANSWER, clock.now()
    await settle(core, clock, ticks=10)
    assert r.status == "failed", "within the grace the normal path may still report it"
    await settle(core, clock, ticks=30)
    assert r.status in ("pending", "claimed") and r.retry_count == 1


async def test_a_start_call_timeout_never_requeues_the_session() -> None:
    core, q, fleet, clock, _ = setup(0, capacity=5)
    await settle(core, clock, ticks=2)  # a host is up
    host = fleet.hosts[0]
    original = FakeHost.start_call

    async def slow(self: FakeHost, call: CallStart) -> bool:
        await original(self, call)  # the host dials...
        raise UnavailableError("start_call timed out")  # ...but the answer never arrives

    host.start_call = slow.__get__(host)  # type: ignore[method-assign]
    q.add("x", clock.now())
    await settle(core, clock, ticks=5)
    assert fleet.dial_log.count("x") == 1, "a maybe-dialling session is never queued again"
    assert q.rows["x"].status == "claimed"


async def test_provider_failures_open_the_breaker_and_nobody_is_dialled() -> None:
    core, q, fleet, clock, _ = setup(6, capacity=10, breaker_failures=2, breaker_open_seconds=30.0)
    await settle(core, clock, ticks=1)
    host = fleet.hosts[0]
    tried: list[str] = []

    async def give_back(self: FakeHost, call: CallStart) -> bool:
        tried.append(call.session_id)
        q.rows[call.session_id].status, q.rows[call.session_id].host = "pending", None
        q.rows[call.session_id].next_at = clock.now() + timedelta(seconds=300)
        raise ProviderUnavailableError("realtime", "refused")

    host.start_call = give_back.__get__(host)  # type: ignore[method-assign]
    await settle(core, clock, ticks=5)
    assert len(tried) == 2, "two failures open the breaker: the rest are not tried"
    assert core.breakers.held_reason() == "realtime_unavailable"
    host.start_call = FakeHost.start_call.__get__(host)  # type: ignore[method-assign]
    clock.advance(31)
    await settle(core, clock, ticks=3)
    assert core.breakers.held_reason() is None, "the probe succeeded: dialling resumed"
    assert len(fleet.dial_log) == 4


async def test_each_step_is_isolated_and_recovery_is_retried() -> None:
    core, q, fleet, clock, _ = setup(2, capacity=5)
    broken = {"recover": True}
    real_hosts = q.hosts_with_live_sessions

    async def failing() -> list[str]:
        if broken["recover"]:
            raise UnavailableError("database down (test)")
        return await real_hosts()

    q.hosts_with_live_sessions = failing  # type: ignore[method-assign]
    await settle(core, clock, ticks=3)
    assert not core.recovered and fleet.dial_log == [] and core.step_errors["recover"] == 3
    broken["recover"] = False
    real_depth = q.queue_depth

    async def depth_fails(now: object) -> int:
        raise UnavailableError("metrics query failed")

    q.queue_depth = depth_fails  # type: ignore[assignment, method-assign]
    await settle(core, clock, ticks=3)
    assert core.recovered
    assert core.step_errors.get("dispatch", 0) >= 1 and core.step_errors.get("scale", 0) >= 1
    q.queue_depth = real_depth  # type: ignore[method-assign]
    await settle(core, clock, ticks=3)
    assert sorted(fleet.dial_log) == ["s00", "s01"]


def test_wed_constant_is_aware() -> None:
    assert WED_11_LOCAL.tzinfo is not None


async def test_host_metric_series_are_bounded_by_live_hosts_not_by_ids_ever_seen() -> None:
    labels: set[str] = set()

    class Recording:
        def gauge(self, name: str, value: float, tags: dict[str, str] | None = None) -> None:
            if tags and "host" in tags:
                labels.add(tags["host"])

        def count(self, name: str, value: float = 1.0, tags: dict[str, str] | None = None) -> None:
            pass

        def observe(self, name: str, value: float, tags: dict[str, str] | None = None) -> None:
            pass

    core, _q, fleet, clock, _ = setup(0, capacity=2)
    core.metrics = Recording()
    for _round in range(6):  # a host dies and is replaced, six times over
        await settle(core, clock, ticks=2)
        for h in fleet.hosts:
            if not h.dead:
                h.dead = True
                break
        await settle(core, clock, ticks=1)
    assert len(fleet.hosts) >= 6
    assert labels <= {"slot0", "slot1"}, labels


async def test_the_breaker_state_is_a_dashboard_gauge() -> None:
    from engine import metrics as m
    from engine.dispatch.breaker import BreakerState

    gauges: dict[tuple[str, str], float] = {}

    class Recording:
        def gauge(self, name: str, value: float, tags: dict[str, str] | None = None) -> None:
            if name == m.BREAKER.name:
                assert tags is not None
                m.check_tags(m.BREAKER, tags)
                gauges[(name, tags["provider"])] = value

        def count(self, name: str, value: float = 1.0, tags: dict[str, str] | None = None) -> None:
            pass

        def observe(self, name: str, value: float, tags: dict[str, str] | None = None) -> None:
            pass

    core, _q, _fleet, clock, _ = setup(0, capacity=2, breaker_failures=1)
    core.metrics = Recording()
    await settle(core, clock, ticks=1)
    assert gauges[(m.BREAKER.name, "realtime")] == BreakerState.CLOSED
    core.breakers.realtime.failure(clock.monotonic())
    await settle(core, clock, ticks=1)
    assert gauges[(m.BREAKER.name, "realtime")] == BreakerState.OPEN
    assert gauges[(m.BREAKER.name, "twilio")] == BreakerState.CLOSED
    assert m.BREAKER in m.ALL, "exported through actors/metrics.RayMetrics like every spec in ALL"


async def test_a_session_its_host_could_not_dial_goes_back_to_the_queue_at_once() -> None:
    from engine.dispatch.ports import NotDialledError

    core, q, fleet, clock, _ = setup(0, capacity=5, defer_seconds=5.0)
    await settle(core, clock, ticks=2)  # a host is up
    host = fleet.hosts[0]
    refused: list[str] = []

    async def unreadable(self: FakeHost, call: CallStart) -> bool:
        refused.append(call.session_id)
        raise NotDialledError("storage unreachable before dialling")

    host.start_call = unreadable.__get__(host)  # type: ignore[method-assign]
    q.add("x", clock.now())
    await settle(core, clock, ticks=1, step=0.0)
    r = q.rows["x"]
    assert refused == ["x"] and core.dialled == 0
    assert r.status == "pending" and r.next_at == clock.now() + timedelta(seconds=5), "given back now"
    assert r.retry_count == 0 and "x" not in host.active
    host.start_call = FakeHost.start_call.__get__(host)  # type: ignore[method-assign]
    await settle(core, clock, ticks=8)
    assert fleet.dial_log == ["x"], "dialled once the database answered"
