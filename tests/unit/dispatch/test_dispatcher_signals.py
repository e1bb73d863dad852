"""What the dispatcher tells the outside: the metrics it emits, and what a recovery re-sends."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from engine import metrics as m
from engine.dispatch.dispatcher import DispatcherCore
from engine.dispatch.ports import CallStart, HostLostError
from engine.domain import FailureReason, SessionStatus
from engine.errors import ResourceExhaustedError
from tests.unit.dispatch.fakes import FakeFleet, FakeHost
from tests.unit.dispatch.test_dispatcher import settle, setup


class Recording:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, float, dict[str, str]]] = []

    def gauge(self, name: str, value: float, tags: dict[str, str] | None = None) -> None:
        self.events.append(("gauge", name, value, dict(tags or {})))

    def count(self, name: str, value: float = 1.0, tags: dict[str, str] | None = None) -> None:
        self.events.append(("count", name, value, dict(tags or {})))

    def observe(self, name: str, value: float, tags: dict[str, str] | None = None) -> None:
        self.events.append(("observe", name, value, dict(tags or {})))

    def of(self, name: str) -> list[tuple[str, float, dict[str, str]]]:
        return [(kind, value, tags) for kind, n, value, tags in self.events if n == name]

    def last_gauge(self, name: str, **tags: str) -> float:
        return [v for kind, v, t in self.of(name) if kind == "gauge" and t == tags][-1]


def _recorded(**opts: Any) -> tuple[DispatcherCore, Any, Any, Any, Recording]:
    core, q, fleet, clock, _ = setup(**opts)
    rec = Recording()
    core.metrics = rec
    return core, q, fleet, clock, rec


async def test_a_recovery_resends_a_claimed_session_as_its_retry() -> None:
    core, q, fleet, clock, _ = setup(1, capacity=10)
    await settle(core, clock, ticks=2)
    q.add("late", clock.now())
    q.rows["late"].retry_count = 2
    await q.claim_due(clock.now(), 1, "h0")  # claimed by a dispatcher that died before telling h0
    fresh = DispatcherCore(q, fleet, clock, core.opts)
    await fresh.recover()
    # The host reads number and store itself: only the session and its attempt are sent.
    assert fleet.hosts[0].calls[-1] == CallStart("late", "", "", 2)
    assert [c.session_id for c in fleet.hosts[0].calls] == ["s00", "late"]  # s00 was known: not re-sent


async def test_a_host_that_dies_while_a_session_is_resent_is_lost() -> None:
    core, q, fleet, clock, _ = setup(1, capacity=10, respect_call_windows=False)
    await settle(core, clock, ticks=2)
    q.add("late", clock.now())
    await q.claim_due(clock.now(), 1, "h0")
    host = fleet.hosts[0]

    async def gone(self: FakeHost, call: CallStart) -> bool:
        raise HostLostError("h0 exited")

    host.start_call = gone.__get__(host)  # type: ignore[method-assign]
    fresh = DispatcherCore(q, fleet, clock, core.opts)
    await fresh.recover()
    assert "h0" not in fresh.hosts
    for sid in ("s00", "late"):
        assert q.rows[sid].failure_reason is FailureReason.HOST_LOST and q.rows[sid].retry_count == 1


async def test_a_lost_hosts_series_are_zeroed_and_counted() -> None:
    core, _q, fleet, clock, rec = _recorded(n=2, capacity=5, respect_call_windows=False)
    await settle(core, clock, ticks=3)  # a host starts, dials both, then reports them
    assert rec.last_gauge(m.ACTIVE_CALLS.name, host="slot0") == 2
    assert rec.last_gauge(m.FREE_SLOTS.name, host="slot0") == 3
    assert rec.last_gauge(m.HOSTS.name) == 1
    fleet.hosts[0].dead = True
    await core.tick()
    assert rec.last_gauge(m.ACTIVE_CALLS.name, host="slot0") == 0
    assert rec.last_gauge(m.FREE_SLOTS.name, host="slot0") == 0
    assert rec.of(m.HOST_LOST.name) == [("count", 1, {})]
    assert sorted(t["failure_reason"] for _, _, t in rec.of(m.RETRIES.name)) == ["host_lost", "host_lost"]


async def test_dials_outcomes_and_retries_are_counted_with_their_labels() -> None:
    core, _q, fleet, clock, rec = _recorded(n=2, capacity=5, respect_call_windows=False)
    await settle(core, clock, ticks=2)
    assert rec.of(m.DIALS.name) == [("count", 1, {"account": "default"})] * 2
    host = fleet.hosts[0]
    host.finish("s00", SessionStatus.COMPLETED)
    host.finish("s01", SessionStatus.FAILED, FailureReason.BUSY)
    host.turn_latency_ms = [420.0, 380.0]
    await core.tick()
    assert rec.of(m.OUTCOMES.name) == [
        ("count", 1, {"status": "completed", "failure_reason": ""}),
        ("count", 1, {"status": "failed", "failure_reason": "busy"}),
    ]
    assert rec.of(m.RETRIES.name) == [("count", 1, {"failure_reason": "busy"})]
    assert rec.of(m.TURN_LATENCY.name) == [
        ("observe", 420.0, {"host": "slot0"}),
        ("observe", 380.0, {"host": "slot0"}),
    ]
    assert host.outcomes == []  # acknowledged


async def test_every_step_is_timed_with_its_outcome() -> None:
    core, q, _fleet, clock, rec = _recorded(n=1, capacity=5)
    await core.tick()
    steps = [(t["step"], t["outcome"]) for kind, _, t in rec.of(m.TICK_STEP.name)]
    assert steps == [
        ("recover", "ok"),
        ("heartbeat", "ok"),
        ("leases", "ok"),
        ("reconcile", "ok"),
        ("dispatch", "ok"),
        ("scale", "ok"),
        ("jobs", "ok"),
    ]
    assert all(kind == "observe" and v >= 0 for kind, v, _ in rec.of(m.TICK_STEP.name))

    async def broken(now: object) -> int:
        raise RuntimeError("depth query failed")

    q.queue_depth = broken  # type: ignore[assignment, method-assign]
    rec.events.clear()
    clock.advance(1.0)
    await core.tick()
    outcomes = {t["step"]: t["outcome"] for _, _, t in rec.of(m.TICK_STEP.name)}
    assert outcomes["dispatch"] == "error" and outcomes["scale"] == "error" and outcomes["heartbeat"] == "ok"
    assert core.step_errors == {"dispatch": 1, "scale": 1}


# ---------------------------------------------------------------------- cadence, start results, admission


async def test_leases_reconcile_and_job_metrics_run_on_their_own_cadence() -> None:
    core, _q, _fleet, clock, rec = _recorded(
        n=0, capacity=5, lease_seconds=10.0, reconcile_seconds=3.0, jobs_metrics_seconds=5.0
    )
    ran: list[set[str]] = []
    for _ in range(7):  # ticks at 0, 1, …, 6 seconds
        rec.events.clear()
        await core.tick()
        ran.append({t["step"] for _, _, t in rec.of(m.TICK_STEP.name)} & {"leases", "reconcile", "jobs"})
        clock.advance(1.0)
    # Leases every quarter of their length (2.5 s: the next tick after), reconcile every 3 s, job
    # metrics every 5 s; due at the exact moment, not a tick later.
    assert ran == [
        {"leases", "reconcile", "jobs"},
        set(),
        set(),
        {"leases", "reconcile"},
        set(),
        {"jobs"},
        {"leases", "reconcile"},
    ]


async def test_tick_returns_the_calls_it_started() -> None:
    core, q, fleet, clock, _ = setup(3, capacity=5)
    assert await core.tick() == 0  # no host yet
    await core.wait_idle()
    assert await core.tick() == 3 and core.dialled == 3
    await core.wait_idle()
    q.add("late", clock.now())
    assert await core.tick() == 1 and core.dialled == 4
    # A start the host refuses is no started call.
    fleet.hosts[0].draining = True
    q.add("later", clock.now())
    assert await core.tick() == 0 and core.dialled == 4


async def test_a_failed_recovery_starts_nothing() -> None:
    core, q, _fleet, _clock, _ = setup(1, capacity=5)

    async def down() -> list[str]:
        raise RuntimeError("database down")

    q.hosts_with_live_sessions = down  # type: ignore[method-assign]
    assert await core.tick() == 0 and not core.recovered


async def test_a_dial_is_sent_with_the_sessions_number_store_and_attempt() -> None:
    core, q, fleet, clock, _ = setup(0, capacity=5)
    q.add("s1", clock.now(), verification="v-9", store="store-7")
    q.rows["s1"].retry_count = 1
    await settle(core, clock, ticks=2)
    assert fleet.hosts[0].calls == [CallStart("s1", "v-9", "store-7", 1)]


async def test_a_host_is_never_given_more_than_it_has_room_for_in_one_tick() -> None:
    core, q, fleet, clock, _ = setup(6, capacity=3, max_hosts=1)
    await settle(core, clock, ticks=2)
    assert len(q.claims) == 3 and len(fleet.dial_log) == 3
    assert sorted(r.status for r in q.rows.values()) == ["claimed"] * 3 + ["pending"] * 3


async def test_why_a_claimed_session_is_given_back_and_until_when() -> None:
    from engine.dispatch.windows import CallWindows, DayWindow

    core, q, fleet, clock, _ = setup(0, capacity=5, defer_seconds=7.0)
    await settle(core, clock, ticks=2)  # a host is up
    now = clock.now()
    q.add("a", now, verification="same")
    q.add("b", now, verification="same")  # the same customer: one at a time
    q.add("c", now, store="lunch")  # a store that calls only over lunch
    q.add("d", now, store="never")  # a store that never calls
    noon = DayWindow(time(12), time(13))
    q.windows["lunch"] = CallWindows(days=(noon,) * 7)
    q.windows["never"] = CallWindows(days=(None,) * 7)
    await core.tick()
    assert fleet.dial_log == ["a"]
    assert q.rows["b"].next_at == now + timedelta(seconds=7)
    assert q.rows["c"].next_at == datetime(2026, 11, 25, 11, 0, tzinfo=UTC)  # 12:00 Stockholm
    assert q.rows["d"].next_at == now + timedelta(days=7)
    assert all(q.rows[s].status == "pending" for s in "bcd")


async def test_each_refused_start_leaves_the_host_and_the_queue_as_it_should() -> None:
    from engine.dispatch.breaker import ProviderUnavailableError
    from engine.errors import ResourceExhaustedError, UnavailableError

    for error in (
        ProviderUnavailableError("twilio", "down"),
        ResourceExhaustedError("full"),
        UnavailableError("no answer in time"),
    ):
        core, q, fleet, clock, _ = setup(0, capacity=5, breaker_failures=1)
        await settle(core, clock, ticks=2)
        host = fleet.hosts[0]

        async def refuse(self: FakeHost, call: CallStart, error: Exception = error) -> bool:
            raise error

        host.start_call = refuse.__get__(host)  # type: ignore[method-assign]
        q.add("s", clock.now())
        assert await core.tick() == 0
        held = core.hosts["h0"].active
        if isinstance(error, ProviderUnavailableError):
            assert "s" not in held and core.breakers.held_reason() == "twilio_unavailable"
        elif isinstance(error, ResourceExhaustedError):
            assert "s" not in held and q.rows["s"].status == "pending" and q.rows["s"].next_at == clock.now()
            assert core.hosts["h0"].view.reserved == core.hosts["h0"].view.free_slots  # treat it as full
        else:
            # No answer: the host may be dialling it; it stays claimed for that host.
            assert "s" in held and q.rows["s"].status == "claimed"


async def test_a_realtime_loss_in_a_call_counts_against_the_provider_and_only_due_retries_run() -> None:
    core, q, fleet, clock, _ = setup(2, capacity=5, breaker_failures=1, respect_call_windows=False)
    await settle(core, clock, ticks=2)
    host = fleet.hosts[0]
    host.finish("s00", SessionStatus.FAILED, FailureReason.REALTIME_LOST)  # not retryable
    host.finish("s01", SessionStatus.ABANDONED, FailureReason.OPTED_OUT)
    await core.tick()
    assert core.breakers.held_reason() == "realtime_unavailable"
    assert q.rows["s00"].retry_count == 0 and q.rows["s00"].status == "failed"
    assert q.rows["s01"].retry_count == 0 and q.rows["s01"].status == "failed"


async def test_a_retry_lands_inside_the_stores_window() -> None:
    from engine.dispatch.windows import CallWindows

    core, q, fleet, clock, _ = setup(1, capacity=5)
    q.windows["s1"] = CallWindows()  # weekdays 09–20 Stockholm
    await settle(core, clock, ticks=2)
    clock.set(datetime(2026, 11, 25, 18, 55, tzinfo=UTC))  # 19:55 Stockholm, the window ends at 20:00
    fleet.hosts[0].finish("s00", SessionStatus.FAILED, FailureReason.BUSY)
    await core.tick()
    r = q.rows["s00"]
    assert r.retry_count == 1 and r.status == "pending"
    assert r.next_at >= datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # not before 09:00 the next morning


async def test_heartbeats_go_on_past_a_lost_or_silent_host_and_each_host_has_its_slot() -> None:
    core, _q, fleet, clock, rec = _recorded(n=6, capacity=2, max_hosts=3, heartbeat_timeout=10.0)
    await settle(core, clock, ticks=3)
    assert len(fleet.hosts) == 3
    slots = {t["host"] for kind, _, t in rec.of(m.ACTIVE_CALLS.name)}
    assert slots == {"slot0", "slot1", "slot2"}
    fleet.hosts[0].dead = True
    fleet.hosts[1].silent = True
    rec.events.clear()
    await core.tick()
    # The third host still reported, after the first was lost and the second missed its beat.
    assert [t["host"] for kind, _, t in rec.of(m.ACTIVE_CALLS.name) if kind == "gauge"][-1] == "slot2"
    clock.advance(8.0)
    await core.tick()
    assert "h1" in core.hosts  # 9 s after its last answer: not yet
    clock.advance(1.0)
    await core.tick()
    assert "h1" not in core.hosts and "h1" in fleet.retired  # exactly the timeout: lost, and killed


async def test_a_host_that_dies_before_acknowledging_is_lost() -> None:
    core, q, fleet, clock, _ = setup(1, capacity=5, respect_call_windows=False)
    await settle(core, clock, ticks=2)
    host = fleet.hosts[0]

    async def gone(self: FakeHost, session_ids: object) -> None:
        raise HostLostError("exited")

    host.ack = gone.__get__(host)  # type: ignore[method-assign]
    host.finish("s00", SessionStatus.COMPLETED)
    await core.tick()
    assert "h0" not in core.hosts and q.lost_reasons == [FailureReason.HOST_LOST]


async def test_a_lost_hosts_calls_are_ended_at_the_carrier_even_if_killing_it_fails() -> None:
    from engine.errors import UnavailableError

    core, q, fleet, clock, carrier = setup(1, capacity=5, heartbeat_timeout=5.0)
    await settle(core, clock, ticks=2)
    q.rows["s00"].call_sid = "CA-live"
    host = fleet.hosts[0]
    host.silent = True

    async def unkillable(host: FakeHost) -> None:
        raise UnavailableError("node unreachable")

    fleet.kill = unkillable  # type: ignore[assignment, method-assign]
    clock.advance(6.0)
    await core.tick()
    assert "h0" not in core.hosts and carrier.ended == ["CA-live"]
    assert q.lost_reasons == [FailureReason.HOST_LOST]


# ---------------------------------------------------------------------- scaling, retiring, the loop


def _hold_host_starts(fleet: FakeFleet) -> asyncio.Event:
    """Host starts wait until the returned event is set (a slow cluster)."""
    gate = asyncio.Event()
    real_start = fleet.start_host

    async def slow_start() -> FakeHost:
        await gate.wait()
        return await real_start()

    fleet.start_host = slow_start  # type: ignore[method-assign]
    return gate


async def test_host_starts_in_flight_are_capped_while_they_are_slow() -> None:
    core, _q, fleet, _clock, _ = setup(10, capacity=1, max_hosts=10, max_starting_hosts=2)
    gate = _hold_host_starts(fleet)
    await core.tick()
    await core.tick()
    assert len(core._starting) == 2
    assert {t.get_name() for t in core._starting} == {"start-session-host"}
    gate.set()
    await core.wait_idle()
    assert len(fleet.hosts) == 2 and core._starting == set()


async def test_a_host_that_cannot_start_is_logged_and_not_adopted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="engine.dispatch.dispatcher")
    core, _q, fleet, clock, _ = setup(1, capacity=1)
    fleet.max_start = 0
    await settle(core, clock, ticks=2)
    assert core.hosts == {}
    assert "could not start a session host: no room" in [r.getMessage() for r in caplog.records]


async def test_an_idle_host_is_drained_with_its_deadline_retired_and_its_series_zeroed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="engine.dispatch.dispatcher")
    core, _q, fleet, clock, rec = _recorded(
        n=4, capacity=2, max_hosts=2, idle_seconds=30.0, min_hosts=1, drain_seconds=45.0
    )
    await settle(core, clock, ticks=3)
    for h in fleet.hosts:
        for sid in list(h.active):
            h.finish(sid, SessionStatus.COMPLETED)
    await settle(core, clock, ticks=3, step=20.0)
    (retired,) = [h for h in fleet.hosts if h.host_id in fleet.retired]
    assert retired.drain_deadlines == [45.0]
    slot = "slot1" if retired.host_id == "h1" else "slot0"
    assert rec.last_gauge(m.ACTIVE_CALLS.name, host=slot) == 0
    assert rec.last_gauge(m.FREE_SLOTS.name, host=slot) == 0
    assert f"idle host {retired.host_id} drained and retired" in [r.getMessage() for r in caplog.records]
    assert core._background == set()  # the retirement task is forgotten once done


async def test_the_loop_ticks_when_woken_and_close_cancels_background_work() -> None:
    core, q, _fleet, _clock, _ = setup(0, capacity=5)
    ticked = asyncio.Event()
    real_depth = q.queue_depth

    async def depth(now: object) -> int:
        ticked.set()
        return await real_depth(now)  # type: ignore[arg-type]

    q.queue_depth = depth  # type: ignore[method-assign]
    loop = asyncio.create_task(core.run(poll_seconds=3600))
    await asyncio.wait_for(ticked.wait(), 5)
    ticked.clear()
    core.wake()  # not an hour later: now
    await asyncio.wait_for(ticked.wait(), 5)
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    # Work still running in the background is cancelled on close.
    gate = asyncio.Event()

    async def forever() -> None:
        await gate.wait()

    core._spawn(forever(), "stuck")
    (stuck,) = core._background
    await core.close()
    assert stuck.cancelled()


async def test_what_the_dispatcher_logs(caplog: pytest.LogCaptureFixture) -> None:
    from engine.dispatch.breaker import ProviderUnavailableError
    from engine.errors import UnavailableError

    caplog.set_level(logging.WARNING, logger="engine.dispatch.dispatcher")
    core, q, fleet, clock, _ = setup(0, capacity=5, heartbeat_timeout=60.0)
    await settle(core, clock, ticks=2)
    host = fleet.hosts[0]
    errors = iter(
        [
            UnavailableError("no answer"),
            ProviderUnavailableError("twilio", "down"),
            ResourceExhaustedError("full"),
        ]
    )

    async def refuse(self: FakeHost, call: CallStart) -> bool:
        raise next(errors)

    host.start_call = refuse.__get__(host)  # type: ignore[method-assign]
    for sid in ("a", "b", "c"):
        q.add(sid, clock.now())
        await core.tick()
    host.silent = True
    clock.advance(2.0)
    await core.tick()
    host.silent = False
    host.throttled_s = 3.0
    await core.tick()
    messages = [r.getMessage() for r in caplog.records]
    assert "start of session a on host h0 unconfirmed: no answer" in messages
    assert "session b not dialled: twilio: down" in messages
    assert "host h0 refused session c: full" in messages
    assert "host h0 missed a heartbeat (2.0s silent): h0: timed out" in messages
    throttled = [
        msg for msg in messages if msg.startswith("twilio rate-limited host h0: dialling paused 3.0s")
    ]
    assert len(throttled) == 1 and throttled[0].endswith("calls/s")


async def test_a_failing_step_is_logged_with_a_trace_only_when_unexpected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from engine.errors import UnavailableError

    caplog.set_level(logging.WARNING, logger="engine.dispatch.dispatcher")
    core, q, _fleet, _clock, _ = setup(0, capacity=5)
    await core.tick()
    failures = iter([UnavailableError("db away"), RuntimeError("bug")])

    async def depth(now: object) -> int:
        raise next(failures)

    q.queue_depth = depth  # type: ignore[assignment, method-assign]
    await core.tick()
    records = [(r.getMessage(), bool(r.exc_info)) for r in caplog.records if "step" in r.getMessage()]
    assert records[0] == ("dispatcher step dispatch failed: db away", False)
    assert records[1][0] == "dispatcher step scale failed: bug" and records[1][1] is True


async def test_requests_a_host_refused_are_counted_by_kind() -> None:
    core, _q, fleet, clock, rec = _recorded(n=0, capacity=5)
    await settle(core, clock, ticks=2)
    fleet.hosts[0].rejected = {"twilio_signature": 3, "k" * 50: 1}
    await core.tick()
    assert rec.of(m.HOST_REJECTED.name) == [
        ("count", 3, {"kind": "twilio_signature"}),
        ("count", 1, {"kind": "k" * 40}),
    ]
    await core.tick()
    assert len(rec.of(m.HOST_REJECTED.name)) == 2  # reported once


async def test_a_start_to_a_host_that_died_loses_the_host() -> None:
    core, q, fleet, clock, _ = setup(0, capacity=5, respect_call_windows=False)
    await settle(core, clock, ticks=2)
    host = fleet.hosts[0]

    async def gone(self: FakeHost, call: CallStart) -> bool:
        raise HostLostError("exited")

    host.start_call = gone.__get__(host)  # type: ignore[method-assign]
    q.add("s", clock.now())
    assert await core.tick() == 0
    assert "h0" not in core.hosts and q.lost_reasons == [FailureReason.HOST_LOST]


async def test_a_session_the_host_could_not_read_is_given_back_even_if_the_queue_is_away(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from engine.dispatch.ports import NotDialledError
    from engine.errors import UnavailableError

    caplog.set_level(logging.WARNING, logger="engine.dispatch.dispatcher")
    core, q, fleet, clock, _ = setup(0, capacity=5)
    await settle(core, clock, ticks=2)
    host = fleet.hosts[0]

    async def unreadable(self: FakeHost, call: CallStart) -> bool:
        raise NotDialledError("storage unreachable")

    host.start_call = unreadable.__get__(host)  # type: ignore[method-assign]

    async def away(session_id: str, until: object) -> None:
        raise UnavailableError("database away")

    q.add("s", clock.now())
    q.defer = away  # type: ignore[assignment, method-assign]
    assert await core.tick() == 0
    assert "s" not in core.hosts["h0"].active and core.step_errors == {}
    assert "session s not dialled: storage unreachable" in [r.getMessage() for r in caplog.records]


async def test_calls_past_the_ticks_budget_wait_for_their_token_and_the_tick_ends() -> None:
    # The sessions' account is not the one the tick's claims are counted on (a queue configured for
    # another account): before the fix the same session was claimed and given back for ever.
    core, q, fleet, clock, _ = setup(0, capacity=10, cps=1.0, pace_seconds=1.0)
    await settle(core, clock, ticks=2)
    for sid in ("a", "b", "c", "d"):
        q.add(sid, clock.now())
        q.rows[sid].account = "other"
    started = await asyncio.wait_for(core.tick(), 5)
    # One at once, one after waiting a second for its token (within the tick's budget of a second).
    assert started == 2 and fleet.dial_log == ["a", "b"]
    deferred = {s: (q.rows[s].status, q.rows[s].next_at) for s in ("c", "d")}
    assert all(status == "pending" and at > clock.now() for status, at in deferred.values()), deferred
    assert q.claims.count("c") == 1  # claimed once in the tick, not again and again


async def test_only_a_realtime_loss_counts_against_the_realtime_provider() -> None:
    core, q, fleet, clock, _ = setup(2, capacity=5, breaker_failures=1, respect_call_windows=False)
    await settle(core, clock, ticks=2)
    fleet.hosts[0].finish("s00", SessionStatus.FAILED, FailureReason.BUSY)
    fleet.hosts[0].finish("s01", SessionStatus.FAILED, FailureReason.NO_ANSWER)
    await core.tick()
    assert core.breakers.held_reason() is None
    fleet.hosts[0].active["x"] = "v-x"
    q.add("x", clock.now())
    q.rows["x"].status, q.rows["x"].host = "claimed", "h0"
    fleet.hosts[0].finish("x", SessionStatus.FAILED, FailureReason.REALTIME_LOST)
    await core.tick()
    clock.advance(1.0)
    await core.tick()  # the open breaker is asked about the time: it must know when it opened
    assert core.breakers.held_reason() == "realtime_unavailable" and core.step_errors == {}


async def test_retries_ignore_the_window_when_windows_are_off() -> None:
    from engine.dispatch.windows import CallWindows

    core, q, fleet, clock, _ = setup(1, capacity=5, respect_call_windows=False)
    q.windows["s1"] = CallWindows()
    await settle(core, clock, ticks=2)
    clock.set(datetime(2026, 11, 25, 18, 55, tzinfo=UTC))
    fleet.hosts[0].finish("s00", SessionStatus.FAILED, FailureReason.BUSY)
    await core.tick()
    assert q.rows["s00"].next_at < datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


async def test_a_new_host_silent_at_its_first_heartbeat_is_not_lost_at_once() -> None:
    core, _q, fleet, clock, _ = setup(0, capacity=5, heartbeat_timeout=10.0)
    await core.tick()
    await core.wait_idle()  # adopted, no heartbeat yet
    fleet.hosts[0].silent = True
    clock.advance(1.0)
    await core.tick()
    assert "h0" in core.hosts and core.step_errors == {}


async def test_starts_in_flight_count_towards_the_hosts_asked_for() -> None:
    core, _q, fleet, _clock, _ = setup(3, capacity=1, max_hosts=10, max_starting_hosts=100)
    gate = _hold_host_starts(fleet)
    await core.tick()
    await core.tick()
    assert len(core._starting) == 3  # three calls wait: three hosts, not three more per tick
    gate.set()
    await core.wait_idle()
