"""Metric specs are safe, and every one of them is emitted by the code that owns it."""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from actors.pools import ASSESSOR, AnalysisActor
from actors.session_host import SessionHostActor, TurnLatencies
from engine import metrics as m
from engine.clock import SteppingClock
from engine.config import Settings
from engine.dispatch.dispatcher import DispatcherCore, DispatcherOptions
from engine.dispatch.ports import CallStart, HostStatus, JobStats
from engine.domain import FailureReason, SessionStatus
from engine.events.delivery import DeliveryError, WebhookDelivery
from engine.events.endpoints import Endpoint
from engine.jobs.runner import Job
from engine.session.metrics import CallMetrics
from tests.unit.dispatch.fakes import FakeFleet, FakeHost, FakeQueue

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


class Recorder:
    """A MetricsSink that keeps every emission, checking tags against the spec like RayMetrics."""

    def __init__(self) -> None:
        self.by_name = {s.name: s for s in m.ALL}
        self.seen: list[tuple[str, str, float, dict[str, str]]] = []

    def _add(self, kind: m.Kind, name: str, value: float, tags: dict[str, str] | None) -> None:
        spec = self.by_name[name]
        assert spec.kind is kind, (name, kind)
        self.seen.append((kind.value, name, value, m.check_tags(spec, tags or {})))

    def gauge(self, name: str, value: float, tags: dict[str, str] | None = None) -> None:
        self._add(m.Kind.GAUGE, name, value, tags)

    def count(self, name: str, value: float = 1.0, tags: dict[str, str] | None = None) -> None:
        self._add(m.Kind.COUNTER, name, value, tags)

    def observe(self, name: str, value: float, tags: dict[str, str] | None = None) -> None:
        self._add(m.Kind.HISTOGRAM, name, value, tags)

    def values(self, spec: m.MetricSpec) -> list[tuple[float, dict[str, str]]]:
        return [(v, t) for _, name, v, t in self.seen if name == spec.name]

    def names(self) -> set[str]:
        return {name for _, name, _, _ in self.seen}


class TimedHost(FakeHost):
    """A fake host whose heartbeat reports the turn latencies its calls measured."""

    latencies: list[float]

    async def status(self) -> HostStatus:
        status = await super().status()
        out, self.latencies = self.latencies, []
        return HostStatus(
            status.host_id,
            status.capacity,
            status.free_slots,
            status.active,
            status.outcomes,
            status.draining,
            out,
            twilio_throttled_s=status.twilio_throttled_s,
            rejected=status.rejected,
        )


class TimedFleet(FakeFleet):
    async def start_host(self) -> FakeHost:
        host = TimedHost(f"h{len(self.hosts)}", self.capacity, self.queue, self.dial_log)
        host.latencies = [420.0, 1800.0]
        self.hosts.append(host)
        return host


class JobQueue(FakeQueue):
    async def job_stats(self, now: datetime) -> JobStats:
        return JobStats({"assess": {"queued": 2, "dead": 1}}, {"assess": 12.5})


async def _dispatcher_run() -> Recorder:
    """Dial three calls; one completes, one fails retryably, then the host dies with the third."""
    clock = SteppingClock(NOW)
    queue = JobQueue()
    for sid in ("a", "b", "c"):
        queue.add(sid, NOW)
    fleet = TimedFleet(queue, capacity=5, clock=clock)
    recorder = Recorder()
    options = DispatcherOptions(calls_per_second=100.0, slots_per_host=5, account="ACx")
    core = DispatcherCore(queue, fleet, clock, options, metrics=recorder)

    async def tick() -> None:
        await core.tick()
        await core.wait_idle()
        clock.advance(1.0)

    await tick()
    await tick()
    host = fleet.hosts[0]
    host.finish("a", SessionStatus.COMPLETED)
    host.finish("b", SessionStatus.FAILED, FailureReason.NO_ANSWER)
    host.throttled_s = 1.0  # Twilio answered this host 429: its heartbeat says so
    host.rejected = {"forged_signature": 2, "stream_replayed": 1}
    await tick()
    host.dead = True
    await tick()
    return recorder


async def test_dispatcher_emits_its_metrics_with_their_values() -> None:
    r = await _dispatcher_run()
    slot = {"host": "slot0"}  # hosts are labelled by reusable slot, not by id
    assert r.values(m.DIALS) == [(1.0, {"account": "ACx"})] * 3
    assert r.values(m.TURN_LATENCY) == [(420.0, slot), (1800.0, slot)]
    # heartbeats: before the dials (empty), then after two of the three calls ended
    assert r.values(m.ACTIVE_CALLS)[:2] == [(0, slot), (1, slot)]
    assert r.values(m.FREE_SLOTS)[:2] == [(5, slot), (4, slot)]
    assert r.values(m.QUEUE_DEPTH)[0] == (3.0, {})
    assert sorted((t["status"], t["failure_reason"]) for _, t in r.values(m.OUTCOMES)) == [
        ("completed", ""),
        ("failed", "no_answer"),
    ]
    assert r.values(m.RETRIES) == [
        (1.0, {"failure_reason": "no_answer"}),
        (1.0, {"failure_reason": "host_lost"}),
    ]
    assert r.values(m.HOST_LOST) == [(1.0, {})]
    assert r.values(m.TWILIO_THROTTLED) == [(1.0, {})]
    assert r.values(m.HOST_REJECTED) == [(2, {"kind": "forged_signature"}), (1, {"kind": "stream_replayed"})]
    assert r.values(m.DIAL_RATE)[0] == (100.0, {}) and min(v for v, _ in r.values(m.DIAL_RATE)) == 50.0
    assert (1, {}) in r.values(m.HOSTS) and r.values(m.HOSTS)[-1] == (0, {})
    jobs = {(t["kind"], t["state"]): v for v, t in r.values(m.JOBS)}
    assert jobs == {
        ("assess", "queued"): 2,
        ("assess", "running"): 0,
        ("assess", "done"): 0,
        ("assess", "dead"): 1,
    }
    assert r.values(m.JOB_LAG) == [(12.5, {"kind": "assess"})]
    steps = {t["step"] for _, t in r.values(m.TICK_STEP)}
    assert {"recover", "heartbeat", "dispatch", "scale", "jobs"} <= steps
    assert all(v >= 0 and t["outcome"] == "ok" for v, t in r.values(m.TICK_STEP))
    assert {t["provider"] for _, t in r.values(m.BREAKER)} and all(v == 0 for v, _ in r.values(m.BREAKER))


class _Runner:
    in_flight = 3


def _analysis_actor(recorder: Recorder) -> AnalysisActor:
    actor = AnalysisActor.__new__(AnalysisActor)  # its async __init__ starts a database and a runner
    actor.pool, actor._metrics, actor._runner = ASSESSOR, recorder, _Runner()  # type: ignore[assignment]
    return actor


def test_analysis_actor_counts_each_finished_job() -> None:
    recorder = Recorder()
    actor = _analysis_actor(recorder)
    actor._finished("assess", "done", 0.2)
    actor._finished("assess", "retry", 0.1)
    actor._finished("assess", "dead", 0.1)
    assert [t["outcome"] for _, t in recorder.values(m.JOB_RUNS)] == ["done", "retry", "dead"]
    assert [t["outcome"] for _, t in recorder.values(m.ANALYSES)] == ["ok", "error", "error"]
    assert recorder.values(m.POOL_IN_FLIGHT) == [(3, {"pool": ASSESSOR})] * 3


class _StoredEvent:
    id = "evt_1"
    type = "call.completed"

    def body(self) -> bytes:
        return b'{"type": "call.completed"}'


class _EventStore:
    """Stands in for the database: the one event the job names."""

    class _Tx:
        class events:
            @staticmethod
            async def get(event_id: str) -> _StoredEvent:
                return _StoredEvent()

    @contextlib.asynccontextmanager
    async def transaction(self, principal: object) -> AsyncIterator[_Tx]:
        yield self._Tx()


async def _deliveries(recorder: Recorder) -> None:
    """One delivery to a receiver that answers 204, one to an endpoint nobody configured."""

    async def receive(request: web.Request) -> web.Response:
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    endpoint = Endpoint("crm", f"http://127.0.0.1:{port}/hook", (b"k" * 32,))
    delivery = WebhookDelivery(_EventStore(), {"crm": endpoint}, metrics=recorder)
    try:
        await delivery.handle(Job(1, "events.webhook", {"endpoint": "crm", "event_id": "evt_1"}, 1, 5))
        with pytest.raises(DeliveryError):
            await delivery.handle(Job(2, "events.webhook", {"endpoint": "gone", "event_id": "evt_1"}, 1, 5))
    finally:
        await delivery.close()
        await runner.cleanup()


async def test_webhook_delivery_counts_outcomes_and_times_attempts() -> None:
    recorder = Recorder()
    await _deliveries(recorder)
    assert [t for _, t in recorder.values(m.WEBHOOK_DELIVERIES)] == [
        {"endpoint": "crm", "outcome": "delivered"},
        {"endpoint": "gone", "outcome": "dead"},
    ]
    [(seconds, tags)] = recorder.values(m.WEBHOOK_SECONDS)  # only an attempt that reached out is timed
    assert tags == {"endpoint": "crm"} and 0 <= seconds < 10


async def test_every_spec_is_emitted() -> None:
    """A spec nobody emits is a dashboard panel that stays empty: each must come from somewhere."""
    emitted = (await _dispatcher_run()).names()
    recorder = Recorder()
    _analysis_actor(recorder)._finished("assess", "done", 0.2)
    await _deliveries(recorder)
    emitted |= recorder.names()
    assert emitted == {s.name for s in m.ALL}


class _Call:
    def __init__(self) -> None:
        self.metrics = CallMetrics()


class _CallHost:
    """The CallHost surface the SessionHost actor uses, with calls that only measure."""

    capacity = 4
    draining = False

    def __init__(self) -> None:
        self.calls: dict[str, _Call] = {}
        self.rejected: Counter[str] = Counter()

    @property
    def free_slots(self) -> int:
        return self.capacity - len(self.calls)

    async def start_call(self, request: Any) -> None:
        self.calls[request.session_id] = _Call()

    def session(self, session_id: str) -> _Call | None:
        return self.calls.get(session_id)

    def session_ids(self) -> list[str]:
        return list(self.calls)


async def test_session_host_heartbeat_carries_turn_latencies() -> None:
    actor = SessionHostActor(Settings.from_env({}), "h1")
    host = _CallHost()

    async def lookup(session_id: str) -> tuple[str, str]:
        return "+46700000000", "store"

    # What ready() does, without Ray: the actor's CallHost is up.
    actor._host, actor._lookup = host, lookup
    actor._ready.set()
    await actor.start_call(CallStart("s1", "v1", "store"))
    host.calls["s1"].metrics.on_turn_latency(640.0)
    assert (await actor.status()).turn_latency_ms == [640.0]
    host.calls["s1"].metrics.on_turn_latency(380.0)
    del host.calls["s1"]  # the call ended after its last turn
    assert (await actor.status()).turn_latency_ms == [380.0]
    assert (await actor.status()).turn_latency_ms == []


async def test_session_host_heartbeat_carries_what_the_host_refused_once() -> None:
    actor = SessionHostActor(Settings.from_env({}), "h1")
    host = _CallHost()
    host.rejected = Counter({"forged_signature": 2})
    actor._host = host
    actor._ready.set()
    assert (await actor.status()).rejected == {"forged_signature": 2}
    assert (await actor.status()).rejected == {}, "reported once"
    host.rejected["forged_signature"] += 1
    host.rejected["connection_cap"] += 4
    assert (await actor.status()).rejected == {"forged_signature": 1, "connection_cap": 4}


def test_host_reports_each_turn_latency_once() -> None:
    """The SessionHost's heartbeat carries every turn latency its calls measured, exactly once."""
    latencies = TurnLatencies()
    live: list[float] = [300.0]
    ending: list[float] = []
    latencies.track("live", live)
    latencies.track("ending", ending)
    assert latencies.take({"live", "ending"}) == [300.0]
    live.append(500.0)
    ending.extend([700.0, 900.0])
    assert latencies.take({"live"}) == [500.0, 700.0, 900.0]  # "ending" ended: its last samples too
    ending.append(1100.0)
    assert latencies.take({"live"}) == []  # an ended call is forgotten
    assert latencies.take(set()) == []


def test_metric_names_are_prometheus_safe_and_unique() -> None:
    names = [s.name for s in m.ALL]
    assert len(set(names)) == len(names)
    for spec in m.ALL:
        assert re.fullmatch(r"callengine_[a-z_]+", spec.name)
        assert spec.description
        if spec.kind is m.Kind.COUNTER:
            assert spec.name.endswith("_total")
        if spec.kind is m.Kind.HISTOGRAM:
            assert list(spec.boundaries) == sorted(spec.boundaries) and spec.boundaries


def test_no_per_call_or_personal_labels() -> None:
    for spec in m.ALL:
        for key in spec.tag_keys:
            assert key in m.ALLOWED_TAG_KEYS, (spec.name, key)
            assert not any(word in key for word in m.FORBIDDEN_TAG_WORDS), (spec.name, key)


def test_check_tags() -> None:
    tags = {"status": "failed", "failure_reason": "busy"}
    assert m.check_tags(m.OUTCOMES, tags) == tags
    with pytest.raises(ValueError, match="callengine_call_outcomes_total"):
        m.check_tags(m.OUTCOMES, {"status": "failed", "session_id": "x"})
    with pytest.raises(ValueError):
        m.check_tags(m.OUTCOMES, {"status": "failed"})
