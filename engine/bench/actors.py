"""Benchmark of the Ray runtime: dispatch rate onto hosts, concurrent calls and memory per node.

    RAY_AUTH_MODE=disabled python -m engine.bench.actors --calls 2000 --slots 200
    RAY_AUTH_MODE=disabled python -m engine.bench.actors --calls 40 --slots 1     # dedicated-actor mode

Local Ray, embedded PostgreSQL in a temporary directory, the real Dispatcher and
SessionHost actors; each call is the stand-in from ``actors.sim_host`` (it
claims a slot, writes in_progress to the database and holds), so the figures
are the runtime's own cost — not audio (see the call-session benchmark).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil


async def _seed(settings: Any, n: int) -> None:
    import datetime as dt
    import uuid

    from storage import Database, Principal

    db = await Database.open(settings)
    now = dt.datetime.now(dt.UTC)
    business, store = uuid.uuid4(), uuid.uuid4()
    async with db.transaction(Principal.service()) as tx:
        await tx.stores.upsert_business(business, "Bench AB")
        await tx.stores.upsert_store(store, business, "Bench", "Europe/Stockholm")
    for start in range(0, n, 200):
        async with db.transaction(Principal.service()) as tx:
            for i in range(start, min(n, start + 200)):
                vid = uuid.uuid4()
                phone = f"+4670{i:07d}"
                await tx.stores.upsert_verification(vid, store, phone, now, 100.0, now)
                await tx.sessions.create_pending(vid, store, phone, None, now)
    await db.close()


def _rss_mb(pids: set[int]) -> list[float]:
    out = []
    for pid in pids:
        try:
            out.append(psutil.Process(pid).memory_full_info().uss / 2**20)
        except (psutil.Error, OSError):
            pass
    return out


def run(calls: int, slots: int, hold: float, cps: float, starts_in_flight: int = 1) -> dict[str, Any]:
    import ray

    from actors.bootstrap import start_engine, stop_engine
    from actors.process import local_secrets_dir
    from actors.sim_host import CALL_LOG, CallLog
    from engine.config import DatabaseSettings, DispatchSettings, HostSettings, Settings, TwilioSettings

    data = Path(tempfile.mkdtemp(prefix="callengine-bench-"))
    settings = Settings(
        database=DatabaseSettings(data_dir=data, pool_size=8),
        host=HostSettings(sessions_per_host=slots),
        twilio=TwilioSettings(account_sid="ACbench", calls_per_second=cps),
        dispatch=DispatchSettings(
            poll_seconds=0.1, respect_call_windows=False, max_hosts=max(64, calls // slots + 1)
        ),
    )
    asyncio.run(_seed(settings, calls))
    hosts_needed = -(-calls // slots)
    local_secrets_dir()  # the workers read this driver's (generated) secrets from it
    ray.init(
        address="local",  # a fresh local Ray, even if another is running on this machine
        namespace="callengine",
        resources={"call_hub": hosts_needed + 1, "control": 4},
        log_to_driver=False,
    )
    try:
        log: Any = (
            ray.remote(CallLog)
            .options(name=CALL_LOG, namespace="callengine", num_cpus=0)
            .remote({}, hold, False)
        )
        t0 = time.time()
        start_engine(
            dataclasses.replace(settings, database=dataclasses.replace(settings.database)),
            call_host_factory="actors.sim_host:factory",
            dispatcher_overrides={"starts_in_flight": starts_in_flight},
            analysis=False,
            reporter=False,
        )
        while ray.get(log.count.remote()) < calls:
            if time.time() - t0 > hold - 1:
                break
            time.sleep(0.2)
        dials = ray.get(log.all.remote())
        times = sorted(d["at"] for d in dials)
        pids = {d["host_pid"] for d in dials}
        mem = _rss_mb(pids)
        node_used = psutil.virtual_memory().used / 2**20
        return {
            "calls": calls,
            "starts_in_flight": starts_in_flight,
            "slots_per_host": slots,
            "dialled": len(dials),
            "hosts": len(pids),
            "first_dial_s": round(times[0] - t0, 2) if times else None,
            "dial_rate_per_s": round((len(times) - 1) / (times[-1] - times[0]), 1)
            if len(times) > 1
            else None,
            "concurrent_calls_held": len(dials),
            "host_uss_mb_median": round(statistics.median(mem), 1) if mem else None,
            "hosts_uss_mb_total": round(sum(mem), 1),
            "mb_per_call": round(sum(mem) / max(1, len(dials)), 3),
            "node_used_mb": round(node_used),
        }
    finally:
        stop_engine(drain_hosts=False, timeout=30)
        ray.shutdown()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--slots", type=int, default=200)
    p.add_argument("--hold", type=float, default=120.0, help="seconds each call holds its slot")
    p.add_argument("--cps", type=float, default=10_000.0, help="calls-per-second limit (high = unthrottled)")
    p.add_argument("--starts-in-flight", type=int, default=1, help="concurrent host start_call requests")
    a = p.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    print(run(a.calls, a.slots, a.hold, a.cps, a.starts_in_flight))


if __name__ == "__main__":
    main()
