"""Front-door benchmark: DispatchCall accepted *and persisted* per second, with p50/p99 latency.

    python -m engine.bench.api [--calls 3000] [--concurrency 32] [--data-dir DIR]

The server (grpc.aio + real PostgreSQL with RLS and encryption, the Dispatcher
port a no-op) runs in a child process; the client runs here, so the two do not
share one GIL. Every timed call writes a new pending session (a fresh
verification each), i.e. the full path: auth, validation, then ONE statement
(``dispatch_session``: RLS principal, the verification's number copied, the
store quota and number cooldown checked, session + event + audit rows), then
the notice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import multiprocessing as mp
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

SECRET = "bench-secret-0123456789abcdef0123456789"


class _NoDispatcher:
    async def notify(self, session_id: uuid.UUID) -> None:
        return None

    async def cancel(self, session_id: uuid.UUID) -> None:
        return None

    async def ping(self) -> bool:
        return True

    async def held_reason(self) -> str | None:
        return None


class _MemorySessions:
    """``--storage memory``: the front door alone (gRPC, auth, validation, conversion), no database."""

    async def create_pending(
        self, verification_id: uuid.UUID, store_id: uuid.UUID, phone: str | None, not_before: Any, now: Any
    ) -> Any:
        from engine.domain import SessionStatus
        from storage.records import CallSessionRecord

        return CallSessionRecord(
            uuid.uuid4(), verification_id, store_id, SessionStatus.PENDING, now, now, created_at=now
        )


class _MemoryDb:
    engine = None  # the health probe fails (NOT_SERVING); RPCs are served regardless

    def __init__(self) -> None:
        self.sessions = _MemorySessions()

    @contextlib.asynccontextmanager
    async def transaction(self, principal: Any) -> AsyncIterator[Any]:
        yield self

    async def dispatch(
        self,
        principal: Any,
        verification_id: uuid.UUID,
        store_id: uuid.UUID,
        phone: Any,
        nb: Any,
        now: Any,
        _: Any,
    ) -> Any:
        return await self.sessions.create_pending(verification_id, store_id, phone, nb, now)

    async def close(self) -> None:
        return None


def _server_main(
    data_dir: str,
    ready: Any,
    stop: Any,
    storage: str = "postgres",
    profile: str | None = None,
    quota: int = 1000,
) -> None:
    from engine.api.auth import TokenAuthority
    from engine.api.server import serve_in_process
    from engine.config import DatabaseSettings, Settings
    from storage.database import Database

    async def run() -> None:
        settings = Settings.from_env()
        if not settings.database.url:
            settings = dataclasses.replace(
                settings, database=dataclasses.replace(settings.database, data_dir=Path(data_dir))
            )
        settings = dataclasses.replace(
            settings,
            database=dataclasses.replace(settings.database, pool_size=20),
            # the limits stay on (their checks are part of the measured path): the default
            # quota unless one store gets more calls than that in the run
            dispatch=dataclasses.replace(settings.dispatch, store_daily_quota=quota),
        )
        assert isinstance(settings.database, DatabaseSettings)
        db: Any = _MemoryDb() if storage == "memory" else await Database.open(settings)
        server = await serve_in_process(
            settings,
            db,
            _NoDispatcher(),
            port=0,
            host="127.0.0.1",
            authority=TokenAuthority(SECRET, "callengine"),
        )
        ready.put(server.address)
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        await server.stop(1.0)
        await db.close()

    if profile:
        import cProfile

        with cProfile.Profile() as prof:
            asyncio.run(run())
        prof.dump_stats(profile)
    else:
        asyncio.run(run())


@dataclasses.dataclass
class Result:
    calls: int
    concurrency: int
    seconds: float
    per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    server_cpu_ms_per_dispatch: float | None = None
    """The server process's CPU (gRPC, auth, validation, the statement's client side) per call."""
    postgres_cpu_ms_per_dispatch: float | None = None
    """PostgreSQL's CPU (its processes under the server: the embedded database) per call."""
    offered_per_second: float | None = None


def _cpu_seconds(pid: int | None, data_dir: str | None = None) -> tuple[float, float]:
    """CPU seconds so far of the server process and of PostgreSQL (the embedded server whose
    data lives under ``data_dir``, which detaches from the server process, and its backends)."""
    if pid is None:
        return 0.0, 0.0
    import psutil

    def used(p: Any) -> float:
        try:
            t = p.cpu_times()
            return float(t.user + t.system)
        except psutil.Error:
            return 0.0

    server = psutil.Process(pid)
    postgres = 0.0
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if data_dir and len(cmd) > 2 and cmd[0].endswith("postgres") and "-D" in cmd:
            if cmd[cmd.index("-D") + 1].startswith(data_dir):
                postgres += used(proc) + sum(used(c) for c in proc.children(recursive=True))
    return used(server), postgres


async def _client(
    address: str,
    calls: int,
    concurrency: int,
    seed: bool = True,
    *,
    rate: float | None = None,
    server_pid: int | None = None,
    data_dir: str | None = None,
    stores: int = 1,
) -> Result:
    import grpc

    from engine.api.auth import TokenAuthority
    from engine.api.gen import callengine_pb2 as pb
    from engine.api.gen import callengine_pb2_grpc as pb_grpc
    from engine.domain import Role

    token = TokenAuthority(SECRET, "callengine").mint("bench", Role.SERVICE, ttl_seconds=3600)
    md = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.CallEngineStub(channel)
        business = uuid.uuid4()
        store_ids = [uuid.uuid4() for _ in range(stores)]
        verifications = [uuid.uuid4() for _ in range(calls + concurrency)]
        # one number per verification: the per-number cooldown would refuse repeats
        phones = {v: f"+4670{i:07d}" for i, v in enumerate(verifications)}
        # the calls go round-robin over the stores (a chain's backend dispatching for many)
        store_of = {v: store_ids[i % stores] for i, v in enumerate(verifications)}

        async def put(vid: uuid.UUID) -> None:
            req = pb.PutVerificationRequest(
                customer_verification_id=str(vid),
                store_id=str(store_of[vid]),
                phone_number=phones[vid],
                purchase_amount="1",
            )
            req.purchase_time.GetCurrentTime()
            await stub.PutVerification(req, metadata=md)

        if seed:
            for store in store_ids:
                await stub.PutStore(
                    pb.PutStoreRequest(
                        store_id=str(store), business_id=str(business), name="Bench", business_name="B"
                    ),
                    metadata=md,
                )
            await _run_all([put(v) for v in verifications], concurrency)
        requests = [
            pb.DispatchCallRequest(customer_verification_id=str(v), store_id=str(store_of[v]))
            for v in verifications
        ]
        # Warm-up (connections, pool, caches), not timed.
        await _run_all([stub.DispatchCall(r, metadata=md) for r in requests[:concurrency]], concurrency)
        timed = requests[concurrency:]
        latencies: list[float] = []
        errors = 0

        async def one(req: Any) -> None:
            nonlocal errors
            t0 = time.perf_counter()
            try:
                resp = await stub.DispatchCall(req, metadata=md, timeout=10)
                if resp.already_existed:
                    errors += 1
            except grpc.aio.AioRpcError:
                errors += 1
            latencies.append((time.perf_counter() - t0) * 1000)

        cpu0 = _cpu_seconds(server_pid, data_dir)
        started = time.perf_counter()
        if rate:
            await _offer(one, timed, rate)
        else:
            await _run_all([one(r) for r in timed], concurrency)
        seconds = time.perf_counter() - started
        cpu1 = _cpu_seconds(server_pid, data_dir)
    q = statistics.quantiles(latencies, n=100)
    return Result(
        calls=len(timed),
        concurrency=concurrency,
        seconds=round(seconds, 2),
        per_second=round(len(timed) / seconds, 1),
        p50_ms=round(q[49], 2),
        p90_ms=round(q[89], 2),
        p99_ms=round(q[98], 2),
        max_ms=round(max(latencies), 2),
        errors=errors,
        server_cpu_ms_per_dispatch=round((cpu1[0] - cpu0[0]) * 1000 / len(timed), 3) if server_pid else None,
        postgres_cpu_ms_per_dispatch=round((cpu1[1] - cpu0[1]) * 1000 / len(timed), 3)
        if server_pid
        else None,
        offered_per_second=rate,
    )


async def _offer(one: Any, requests: list[Any], rate: float) -> None:
    """Open-loop load: start one call every 1/rate seconds whatever the answers do (latency
    then includes any queueing in the server, as a real backend's traffic would see it)."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    tasks = []
    for i, req in enumerate(requests):
        delay = t0 + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(req)))
    await asyncio.gather(*tasks)


async def _run_all(coros: list[Any], concurrency: int) -> None:
    queue = list(reversed(coros))

    async def worker() -> None:
        while queue:
            await queue.pop()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def run(
    calls: int,
    concurrency: int,
    data_dir: str | None = None,
    storage: str = "postgres",
    *,
    rate: float | None = None,
    profile: str | None = None,
    stores: int = 20,
) -> Result:
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    with tempfile.TemporaryDirectory(prefix="callengine-bench-") as tmp:
        proc = ctx.Process(
            target=_server_main,
            args=(
                data_dir or tmp,
                ready,
                stop,
                storage,
                profile,
                max(1000, -(-(calls + concurrency) // stores)),
            ),
            daemon=True,
        )
        proc.start()
        try:
            address = ready.get(timeout=180)
            return asyncio.run(
                _client(
                    address,
                    calls,
                    concurrency,
                    seed=storage == "postgres",
                    rate=rate,
                    server_pid=proc.pid,
                    data_dir=str(Path(data_dir or tmp).resolve()),
                    stores=stores,
                )
            )
        finally:
            stop.set()
            proc.join(30)
            if proc.is_alive():
                proc.terminate()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--data-dir", default=None, help="embedded PostgreSQL dir (default: a temp dir)")
    parser.add_argument(
        "--storage",
        choices=("postgres", "memory"),
        default="postgres",
        help="memory: measure the front door alone, sessions not persisted",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="offered load: start this many calls per second (open loop) instead of --concurrency",
    )
    parser.add_argument("--profile", default=None, help="write the server's cProfile stats to this file")
    parser.add_argument(
        "--stores",
        type=int,
        default=20,
        help="stores the calls go to, round-robin (each store's dispatches serialize on its limits)",
    )
    args = parser.parse_args(argv)
    result = run(
        args.calls,
        args.concurrency,
        args.data_dir,
        args.storage,
        rate=args.rate,
        profile=args.profile,
        stores=args.stores,
    )
    extra = {
        "stores": args.stores,
        "storage": args.storage,
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(dataclasses.asdict(result) | extra, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
