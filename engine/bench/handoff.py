"""Hang-up → stored assessment for a burst of calls that end together, without Ray or audio.

    python -m engine.bench.handoff [--calls 20] [--rounds 5] [--workers 2] [--concurrency 8]
                                   [--profile DIR]

What the issue's target (p99 < 1 s at 20 concurrent calls) is about, isolated: an embedded
PostgreSQL, the chat emulator in its own process (as beside the engine), and ``--workers``
assessor and as many fraud worker processes, each a :class:`~engine.jobs.runner.JobRunner` over
the durable job queue running :class:`~engine.analysis.jobs.AnalysisWork` — the pool actors'
own code. Each round writes ``--calls`` sessions with a realistic transcript, then completes
them all at once (one transaction each, as that many hosts would: the status change writes the
two analysis jobs and notifies the workers) and measures, per call, ``call_ended_at`` → the
assessment's ``created_at`` as stored. Rounds after the first run on warm workers (the
production case); the report gives each round and all warm rounds together, with the machine's
load average, since the figure is CPU-bound on a shared machine. ``--profile DIR`` writes a
cProfile of every worker (``pstats``-readable) into DIR.

``callengine bench`` reports the same figure for the whole engine (gRPC, Ray, real calls).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from engine.bench.analysis import _profile, _serve_emulator, _transcript


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None, "n": 0}
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 3),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
        "max": round(ordered[-1], 3),
        "n": len(ordered),
    }


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by these processes."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        except psutil.Error:
            continue
    return total


def _postgres_pids() -> list[int]:
    import psutil

    return [p.pid for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("postgres")]


def _worker(
    data_dir: str, base_url: str, kind: str, concurrency: int, ready: Any, stop: Any, profile: str | None
) -> None:
    import cProfile

    async def main() -> None:
        from engine.analysis.config import DEFAULT_CONFIG
        from engine.analysis.jobs import AnalysisWork
        from engine.analysis.llm import OpenAIStructuredLLM, make_client
        from engine.config import DatabaseSettings, Settings
        from engine.jobs.runner import JobRunner, PostgresJobStore
        from storage import Database

        db = await Database.open(Settings(database=DatabaseSettings(data_dir=Path(data_dir))), upgrade=False)
        llm = OpenAIStructuredLLM(
            make_client("x", base_url, DEFAULT_CONFIG.llm.timeout_seconds), "gpt-4o-mini", DEFAULT_CONFIG.llm
        )
        store = PostgresJobStore(db)
        work = AnalysisWork(db, llm, DEFAULT_CONFIG)
        runner = JobRunner(
            store, work.kinds(kind), worker_id=f"{kind}-{os.getpid()}", concurrency=concurrency
        )
        task = asyncio.create_task(runner.run())
        await asyncio.wait_for(store.listening.wait(), 30)
        ready.put(os.getpid())
        while not stop.is_set():  # noqa: ASYNC110 - a multiprocessing Event has no async wait
            await asyncio.sleep(0.1)
        await runner.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await llm.aclose()
        await db.close()

    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    asyncio.run(main())
    if profiler is not None and profile:
        profiler.disable()
        profiler.dump_stats(str(Path(profile) / f"{kind}-{os.getpid()}.pstats"))


async def _round(db: Any, store_id: uuid.UUID, calls: int, rng: random.Random) -> list[float]:
    from engine.domain import SessionStatus
    from engine.errors import NotFoundError
    from storage import Principal
    from storage import records as rec

    now = dt.datetime.now(dt.UTC)
    ids: list[uuid.UUID] = []
    for _ in range(calls):
        phone = f"+4670{rng.randrange(10_000_000):07d}"
        vid = uuid.uuid4()
        async with db.transaction(Principal.service()) as tx:
            await tx.stores.upsert_verification(vid, store_id, phone, now - dt.timedelta(hours=1), 99.0, now)
            s = await tx.sessions.create_pending(vid, store_id, phone, None, now)
            await tx.sessions.transition(
                s.id, SessionStatus.PENDING, SessionStatus.IN_PROGRESS, now=now, call_connected_at=now
            )
            await tx.transcripts.add_lines(
                s.id,
                [
                    rec.TranscriptLine(ln.speaker, ln.order, ln.content, ln.timestamp_ms, ln.message_type)
                    for ln in _transcript(rng)
                ],
            )
        ids.append(s.id)

    ended: dict[uuid.UUID, dt.datetime] = {}

    async def hang_up(sid: uuid.UUID) -> None:
        at = dt.datetime.now(dt.UTC)
        ended[sid] = at
        async with db.transaction(Principal.service()) as tx:
            await tx.sessions.transition(
                sid,
                SessionStatus.IN_PROGRESS,
                SessionStatus.COMPLETED,
                now=at,
                call_ended_at=at,
                duration_seconds=90,
            )

    await asyncio.gather(*(hang_up(sid) for sid in ids))
    waits: dict[uuid.UUID, float] = {}
    deadline = time.monotonic() + 120
    while len(waits) < len(ids) and time.monotonic() < deadline:
        async with db.transaction(Principal.service()) as tx:
            for sid in ids:
                if sid in waits:
                    continue
                try:
                    found = await tx.assessments.get_by_session(sid)
                except NotFoundError:
                    continue
                if found.created_at is not None:
                    waits[sid] = (found.created_at - ended[sid]).total_seconds()
        await asyncio.sleep(0.05)
    if len(waits) < len(ids):
        raise RuntimeError(f"only {len(waits)} of {len(ids)} calls assessed within 120 s")
    await _quiet(db, ids)  # the next burst starts on an idle queue (fraud checks done too)
    return list(waits.values())


async def _quiet(db: Any, ids: list[uuid.UUID]) -> None:
    from engine.jobs import kinds
    from storage import Principal

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        async with db.transaction(Principal.service()) as tx:
            jobs = [await tx.jobs.find(k, f"{k}:{sid}") for sid in ids for k in kinds.ANALYSIS_KINDS]
        if all(job is not None and job.state in ("done", "dead") for job in jobs):
            return
        await asyncio.sleep(0.1)


async def _run(args: argparse.Namespace, base_url: str, data_dir: Path, emulator_pid: int) -> dict[str, Any]:
    from engine.analysis.context import context_to_payload
    from engine.config import DatabaseSettings, Settings
    from engine.jobs import kinds
    from storage import Database, Principal
    from storage import records as rec

    db = await Database.open(Settings(database=DatabaseSettings(data_dir=data_dir)))
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    worker_kinds = [kind for kind in (args.kinds or kinds.ANALYSIS_KINDS) for _ in range(args.workers)]
    procs = [
        ctx.Process(
            target=_worker,
            args=(str(data_dir), base_url, kind, args.concurrency, ready, stop, args.profile),
            daemon=True,
        )
        for kind in worker_kinds
    ]
    try:
        for p in procs:
            p.start()
        pids_by_kind: dict[str, list[int]] = {}
        for kind, p in zip(worker_kinds, procs, strict=True):
            pids_by_kind.setdefault(kind, []).append(p.pid or 0)
        for _ in procs:
            ready.get(timeout=120)
        business, store = uuid.uuid4(), uuid.uuid4()
        async with db.transaction(Principal.service()) as tx:
            await tx.stores.upsert_business(business, "Bench AB")
            await tx.stores.upsert_store(store, business, "Benchbutiken", "Europe/Stockholm")
            await tx.contexts.put_new_version(
                rec.BusinessContext(store_id=store, **context_to_payload(_profile()))
            )
        rng = random.Random(7)
        rounds: list[dict[str, Any]] = []
        warm: list[float] = []
        groups = {**pids_by_kind, "postgres": _postgres_pids(), "llm emulator": [emulator_pid]}
        for n in range(args.rounds):
            load = os.getloadavg()[0]
            before = {name: _cpu_s(pids) for name, pids in groups.items()}
            waits = await _round(db, store, args.calls, rng)
            cpu = {
                name: round((_cpu_s(pids) - before[name]) / args.calls * 1000, 1)
                for name, pids in groups.items()
            }
            rounds.append({"load_average": round(load, 2), **percentiles(waits), "cpu_ms_per_call": cpu})
            if n:
                warm += waits
        return {
            "calls_per_burst": args.calls,
            "workers_per_kind": args.workers,
            "concurrency_per_worker": args.concurrency,
            "cpus": os.cpu_count(),
            "rounds": rounds,
            "warm_hangup_to_assessment_s": percentiles(warm),
        }
    finally:
        stop.set()
        for p in procs:
            p.join(30)
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="worker processes per job kind")
    parser.add_argument("--concurrency", type=int, default=8, help="jobs in flight per worker")
    parser.add_argument("--profile", default=None, help="folder for the workers' cProfile stats")
    parser.add_argument("--kinds", nargs="*", default=None, help="job kinds with workers (default: both)")
    args = parser.parse_args()
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    emulator = ctx.Process(target=_serve_emulator, args=(queue,), daemon=True)
    emulator.start()
    data_dir = Path(tempfile.mkdtemp(prefix="callengine-handoff-"))
    try:
        base_url = f"http://127.0.0.1:{queue.get(timeout=30)}/v1"
        print(json.dumps(asyncio.run(_run(args, base_url, data_dir, emulator.pid or 0)), indent=2))
    finally:
        emulator.terminate()
        emulator.join(5)
        from storage import embedded

        embedded.release(data_dir / "pgdata")
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
