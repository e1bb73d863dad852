"""What the dispatcher tells the outside: the metrics it emits, and what a recovery re-sends."""

from __future__ import annotations

from typing import Any

from engine import metrics as m
from engine.dispatch.dispatcher import DispatcherCore
from engine.dispatch.ports import CallStart, HostLostError
from engine.domain import FailureReason, SessionStatus
from tests.unit.dispatch.fakes import FakeHost
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
