"""Full-engine phase of ``callengine bench``: real calls through gRPC, Ray, PostgreSQL and the emulators.

The emulators run in their own process at real-time pace (speed 1), so their
CPU is not the engine's. The bench acts as a backend: it dispatches happy-path
calls through the gRPC API as fast as the API accepts them, then measures how
fast the Dispatcher dials, how long a finished call waits for its stored
assessment, and how many database rows the run wrote per second.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import grpc

from engine.api.gen import callengine_pb2 as pb
from engine.api.gen import callengine_pb2_grpc as pb_grpc
from engine.config import Settings
from engine.demo.client import STATUS_FROM_PB, dispatch_request, put_store, put_verification
from engine.demo.plan import plan_calls
from engine.demo.runner import DemoOptions, EmulatorProcess, demo_env, engine_running, reset_embedded
from engine.domain import MAX_RETRIES, Role, SessionStatus
from engine.emulators.scenarios.loader import default_scenarios
from engine.events.types import is_settled

_COUNTED_TABLES = (
    "feedback_call_sessions",
    "conversation_transcripts",
    "call_quality_metrics",
    "quality_assessments",
    "fraud_detection_results",
    "call_session_events",
    "audit_log",
)


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "n": 0}
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 2),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "n": len(ordered),
    }


@dataclasses.dataclass
class EnginePhaseResult:
    calls: int
    calls_completed: int
    dispatch_per_s: float
    dispatch_latency_ms: dict[str, float | None]
    dial_per_s: float | None
    peak_in_progress: int
    hangup_to_assessment_ms: dict[str, float | None]
    db_rows_per_s: float | None
    wall_s: float
    load_average: tuple[float, float] = (0.0, 0.0)
    """1-minute load average when the calls were dispatched and when the last was assessed."""


async def _drive(address: str, settings: Settings, calls: int, timeout_s: float) -> dict[str, Any]:
    from engine.api.auth import authority_from_settings

    authority = authority_from_settings(settings)
    service = (("authorization", "Bearer " + authority.mint("bench", Role.SERVICE)),)
    admin = (("authorization", "Bearer " + authority.mint("bench-admin", Role.ADMIN)),)
    scenarios = default_scenarios()
    happy = [c for c in plan_calls(scenarios, max_attempts=MAX_RETRIES + 1) if "happy" in c.scenario.tags]
    stores = {s.id: s for s in scenarios.stores}
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.CallEngineStub(channel)
        await channel.channel_ready()
        for key in sorted({c.store_key for c in happy}):
            await put_store(stub, stores[key], service)
        requests = []
        for i in range(calls):
            call = dataclasses.replace(happy[i % len(happy)], verification_id=uuid.uuid4())
            await put_verification(stub, call, service)
            requests.append(dispatch_request(call))
        latencies: list[float] = []
        t0 = time.perf_counter()

        async def dispatch(req: pb.DispatchCallRequest) -> str:
            start = time.perf_counter()
            reply = await stub.DispatchCall(req, metadata=service)
            latencies.append((time.perf_counter() - start) * 1000)
            return str(reply.session_id)

        session_ids = await asyncio.gather(*(dispatch(r) for r in requests))
        dispatch_s = time.perf_counter() - t0
        deadline = time.monotonic() + timeout_s
        peak = 0
        latest: dict[str, pb.CallSession] = {}
        while time.monotonic() < deadline:
            replies = await asyncio.gather(
                *(stub.GetCall(pb.GetCallRequest(session_id=s), metadata=service) for s in session_ids)
            )
            latest = {r.session_id: r for r in replies}
            peak = max(peak, sum(1 for r in replies if r.status == pb.SESSION_STATUS_IN_PROGRESS))
            if all(is_settled(STATUS_FROM_PB[r.status], r.failure_reason or None) for r in replies):
                break
            await asyncio.sleep(0.25)  # sampling interval for the concurrency figure
        waits: list[float] = []
        completed = [r for r in latest.values() if STATUS_FROM_PB[r.status] is SessionStatus.COMPLETED]
        pending = {r.session_id: r for r in completed}
        analysis_deadline = time.monotonic() + 120
        while pending and time.monotonic() < analysis_deadline:
            for session_id, call in list(pending.items()):
                try:
                    assessment = await stub.GetAssessment(
                        pb.GetAssessmentRequest(session_id=session_id), metadata=admin
                    )
                except grpc.aio.AioRpcError as exc:
                    if exc.code() is grpc.StatusCode.NOT_FOUND:
                        continue
                    raise
                ended = call.call_ended_at.ToDatetime(dt.UTC)
                stored = assessment.created_at.ToDatetime(dt.UTC)
                waits.append((stored - ended).total_seconds() * 1000)
                del pending[session_id]
            if pending:
                await asyncio.sleep(0.25)  # assessments are stored by the pools; poll for them
        initiated = sorted(r.call_initiated_at.ToDatetime(dt.UTC) for r in latest.values())
        dial_span = (initiated[-1] - initiated[0]).total_seconds() if len(initiated) > 1 else 0.0
    return {
        "completed": len(completed),
        "dispatch_per_s": len(requests) / dispatch_s if dispatch_s else 0.0,
        "dispatch_latency_ms": percentiles(latencies),
        "dial_per_s": (len(initiated) - 1) / dial_span if dial_span > 0 else None,
        "peak_in_progress": peak,
        "hangup_to_assessment_ms": percentiles(waits),
    }


async def _count_rows(settings: Settings) -> int:
    from sqlalchemy import text

    from storage import Database, Principal

    db = await Database.open(settings)
    try:
        async with db.transaction(Principal.admin(uuid.uuid4())) as tx:
            total = 0
            for table in _COUNTED_TABLES:
                total += int((await tx.session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())
            return total
    finally:
        await db.close()


def run_engine_phase(calls: int, out_dir: Path, *, timeout_s: float = 300.0) -> EnginePhaseResult:
    options = DemoOptions(speed=1.0, out_dir=out_dir, calls_per_second=50.0)
    emulators = EmulatorProcess(1.0, out_dir / "bench-emulators.log")
    started = time.monotonic()
    try:
        env = demo_env(dict(os.environ), emulators.start(), options)
        env["CALLENGINE_DATA_DIR"] = str(Path(env["CALLENGINE_DATA_DIR"]).parent / "bench")
        # The production pool sizes (the demo runs one of each to spare its laptop).
        defaults = Settings().dispatch
        env["CALLENGINE_ASSESSOR_ACTORS"] = str(defaults.assessor_actors)
        env["CALLENGINE_FRAUD_ACTORS"] = str(defaults.fraud_actors)
        settings = Settings.from_env(env)
        if settings.database.url is None:
            reset_embedded(settings.database.data_dir)
        with engine_running(settings) as address:
            rows0 = asyncio.run(_count_rows(settings))
            t0 = time.monotonic()
            load_before = os.getloadavg()[0]
            measured = asyncio.run(_drive(address, settings, calls, timeout_s))
            load_after = os.getloadavg()[0]
            elapsed = time.monotonic() - t0
            rows = asyncio.run(_count_rows(settings)) - rows0
    finally:
        emulators.stop()
    return EnginePhaseResult(
        calls=calls,
        calls_completed=measured["completed"],
        dispatch_per_s=round(measured["dispatch_per_s"], 1),
        dispatch_latency_ms=measured["dispatch_latency_ms"],
        dial_per_s=round(measured["dial_per_s"], 2) if measured["dial_per_s"] else None,
        peak_in_progress=measured["peak_in_progress"],
        hangup_to_assessment_ms=measured["hangup_to_assessment_ms"],
        db_rows_per_s=round(rows / elapsed, 1) if elapsed else None,
        wall_s=round(time.monotonic() - started, 1),
        load_average=(round(load_before, 2), round(load_after, 2)),
    )


HANGUP_TO_ASSESSMENT_P99_TARGET_MS = 1000.0
"""The issue's target: hang-up → stored assessment p99 under a second at 20 concurrent calls."""


def hangup_summary(
    calls: int, measured: dict[str, float | None], load: tuple[float, float]
) -> dict[str, Any]:
    """The hand-off figure as the report states it: percentiles, the target and whether it was
    met, and the machine's load (the figure is CPU-bound: on a shared machine it is the
    neighbours' as much as ours)."""
    p99 = measured.get("p99")
    return {
        "calls_ending_together": calls,
        **measured,
        "target_p99_ms": HANGUP_TO_ASSESSMENT_P99_TARGET_MS,
        "target_met": None if p99 is None else p99 < HANGUP_TO_ASSESSMENT_P99_TARGET_MS,
        "load_average_start_end": list(load),
        "cpus": os.cpu_count(),
    }


def summary_line(summary: dict[str, Any]) -> str:
    if summary.get("p99") is None:
        return "hang-up → stored assessment: not measured (no completed call)"
    verdict = "met" if summary["target_met"] else "NOT met"
    start, end = summary["load_average_start_end"]
    return (
        f"hang-up → stored assessment, {summary['n']} of {summary['calls_ending_together']} calls: "
        f"p50 {summary['p50']:.0f} ms, p99 {summary['p99']:.0f} ms "
        f"(target p99 < {summary['target_p99_ms']:.0f} ms: {verdict}; "
        f"load average {start:.1f} → {end:.1f} on {summary['cpus']} cores)"
    )
