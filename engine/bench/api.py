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


def _server_main(data_dir: str, ready: Any, stop: Any, storage: str = "postgres") -> None:
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
            # the limits stay on (their checks are part of the measured path), sized for the run
            dispatch=dataclasses.replace(settings.dispatch, store_daily_quota=1_000_000),
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


async def _client(address: str, calls: int, concurrency: int, seed: bool = True) -> Result:
    import grpc

    from engine.api.auth import TokenAuthority
    from engine.api.gen import callengine_pb2 as pb
    from engine.api.gen import callengine_pb2_grpc as pb_grpc
    from engine.domain import Role

    token = TokenAuthority(SECRET, "callengine").mint("bench", Role.SERVICE, ttl_seconds=3600)
    md = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.CallEngineStub(channel)
        store, business = uuid.uuid4(), uuid.uuid4()
        verifications = [uuid.uuid4() for _ in range(calls + concurrency)]
        # one number per verification: the per-number cooldown would refuse repeats
        phones = {v: f"+4670{i:07d}" for i, v in enumerate(verifications)}

        async def put(vid: uuid.UUID) -> None:
            req = pb.PutVerificationRequest(
                customer_verification_id=str(vid),
                store_id=str(store),
                phone_number=phones[vid],
                purchase_amount="1",
            )
            req.purchase_time.GetCurrentTime()
            await stub.PutVerification(req, metadata=md)

        if seed:
            await stub.PutStore(
                pb.PutStoreRequest(
                    store_id=str(store), business_id=str(business), name="Bench", business_name="B"
                ),
                metadata=md,
            )
            await _run_all([put(v) for v in verifications], concurrency)
        requests = [
            pb.DispatchCallRequest(customer_verification_id=str(v), store_id=str(store))
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

        started = time.perf_counter()
        await _run_all([one(r) for r in timed], concurrency)
        seconds = time.perf_counter() - started
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
    )


async def _run_all(coros: list[Any], concurrency: int) -> None:
    queue = list(reversed(coros))

    async def worker() -> None:
        while queue:
            await queue.pop()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def run(calls: int, concurrency: int, data_dir: str | None = None, storage: str = "postgres") -> Result:
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    with tempfile.TemporaryDirectory(prefix="callengine-bench-") as tmp:
        proc = ctx.Process(target=_server_main, args=(data_dir or tmp, ready, stop, storage), daemon=True)
        proc.start()
        try:
            address = ready.get(timeout=180)
            return asyncio.run(_client(address, calls, concurrency, seed=storage == "postgres"))
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
    args = parser.parse_args(argv)
    result = run(args.calls, args.concurrency, args.data_dir, args.storage)
    extra = {"storage": args.storage, "cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)}
    print(json.dumps(dataclasses.asdict(result) | extra, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
