"""Analysis benchmark: assessments per second per worker (emulated LLM), weekly report build time.

    python -m engine.bench.analysis [--calls 300] [--report-calls 10000] [--no-db]

The chat emulator runs in a child process (as it would beside the engine), the
SDK talks to it over HTTP. With the database part, an embedded PostgreSQL is
started in a temporary directory. Results go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ANSWERS = [
    "Frukt och grönt var fräscht i dag, särskilt tomaterna, men bananerna var övermogna.",
    "Det var lång kö i kassan vid lunch och bara en kassa öppen, det borde fixas.",
    "Kaffekampanjen var prisvärd, jag köpte två paket kaffe.",
    "Mejeriet hade slut på mjölk och yoghurten saknades helt.",
    "Bageriet var trevligt och bröden var nybakade klockan åtta.",
    "Personalen var hjälpsam när jag inte hittade osten.",
    "Bra.",
    "Det var okej, inget speciellt.",
    "Självscanningen var trasig igen, det är irriterande.",
    "Priserna på frukt har blivit dyra, men kvaliteten är god.",
]


def _serve_emulator(port_queue: Any) -> None:
    from aiohttp import web

    from engine.emulators.chat import ChatCompletionsEmulator

    emulator = ChatCompletionsEmulator()

    async def handler(request: web.Request) -> web.Response:
        status, body = await emulator.handle(await request.json())
        return web.json_response(body, status=status)

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_queue.put(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


def _profile() -> Any:
    """The grocery store of the emulator's default scenario set, as a business profile."""
    from engine.analysis.evaluation import store_context
    from engine.emulators.scenarios.loader import default_scenarios

    return store_context(default_scenarios().store("grocery-solna"))


def _transcript(rng: random.Random) -> list[Any]:
    from engine.analysis.models import TranscriptLine
    from engine.domain import MessageType, Speaker

    lines = [TranscriptLine(Speaker.AI, "Hej! Får jag ställa några frågor?", 0, 0, MessageType.SYSTEM)]
    lines.append(TranscriptLine(Speaker.CUSTOMER, "Ja, det går bra.", 1, 1000, MessageType.RESPONSE))
    for i, q in enumerate(("Hur upplevde du frukt och grönt?", "Hur gick det i kassan?", "Något mer?")):
        lines.append(TranscriptLine(Speaker.AI, q, 2 + 2 * i, 3000 * (i + 1), MessageType.QUESTION))
        answer = " ".join(rng.sample(ANSWERS, rng.randint(1, 3)))
        lines.append(
            TranscriptLine(Speaker.CUSTOMER, answer, 3 + 2 * i, 3000 * (i + 1) + 1500, MessageType.RESPONSE)
        )
    return lines


async def bench_pure(base_url: str, calls: int) -> dict[str, float]:
    """assess_call + run_fraud_checks per call, sequential and 8 in flight (one worker process)."""
    import openai

    from engine.analysis.assessment import assess_call
    from engine.analysis.config import DEFAULT_CONFIG
    from engine.analysis.fraud import run_fraud_checks
    from engine.analysis.llm import OpenAIStructuredLLM
    from engine.analysis.models import CallFacts, PatternEvidence
    from engine.domain import SessionStatus

    llm = OpenAIStructuredLLM(
        openai.AsyncOpenAI(api_key="x", base_url=base_url, max_retries=0), "gpt-4o-mini", DEFAULT_CONFIG.llm
    )
    ctx = _profile()
    rng = random.Random(7)
    transcripts = [_transcript(rng) for _ in range(calls)]
    now = dt.datetime(2026, 11, 25, 14, 0, tzinfo=dt.UTC)
    facts = CallFacts("s", "store", SessionStatus.COMPLETED, now, purchase_at=now - dt.timedelta(hours=1))

    async def one(lines: list[Any], with_fraud: bool) -> None:
        await assess_call(lines, ctx, llm, DEFAULT_CONFIG, now=now)
        if with_fraud:
            await run_fraud_checks(lines, ctx, facts, PatternEvidence(), llm, DEFAULT_CONFIG)

    out: dict[str, float] = {}
    for label, with_fraud in (("assess", False), ("assess+fraud", True)):
        await one(transcripts[0], with_fraud)  # warm-up
        started = time.perf_counter()
        for lines in transcripts:
            await one(lines, with_fraud)
        out[f"{label} sequential /s"] = calls / (time.perf_counter() - started)
        sem = asyncio.Semaphore(8)

        async def bounded(lines: list[Any], wf: bool = with_fraud, sem: asyncio.Semaphore = sem) -> None:
            async with sem:
                await one(lines, wf)

        started = time.perf_counter()
        await asyncio.gather(*(bounded(t) for t in transcripts))
        out[f"{label} 8 in flight /s"] = calls / (time.perf_counter() - started)
    started = time.perf_counter()
    for lines in transcripts:
        await assess_call(lines, ctx, None, DEFAULT_CONFIG, now=now)
    out["assess rules-only /s"] = calls / (time.perf_counter() - started)
    await llm.aclose()
    return out


async def bench_db(base_url: str, sessions: int, report_calls: int) -> dict[str, float]:
    import openai

    from engine.analysis import service
    from engine.analysis.config import DEFAULT_CONFIG
    from engine.analysis.context import context_to_payload
    from engine.analysis.llm import OpenAIStructuredLLM
    from engine.analysis.report import monday_of
    from engine.config import DatabaseSettings, Settings
    from storage import Database, Principal
    from storage import records as rec

    llm = OpenAIStructuredLLM(
        openai.AsyncOpenAI(api_key="x", base_url=base_url, max_retries=0), "gpt-4o-mini", DEFAULT_CONFIG.llm
    )
    tmp = Path(tempfile.mkdtemp(prefix="callengine-bench-"))
    db = await Database.open(Settings(database=DatabaseSettings(data_dir=tmp, pool_size=8)))
    out: dict[str, float] = {}
    try:
        rng = random.Random(11)
        business, store = uuid.uuid4(), uuid.uuid4()
        async with db.transaction(Principal.service()) as tx:
            await tx.stores.upsert_business(business, "Bench AB")
            await tx.stores.upsert_store(store, business, "Benchbutiken", "Europe/Stockholm")
            await tx.contexts.put_new_version(
                rec.BusinessContext(store_id=store, **context_to_payload(_profile()))
            )
        now = dt.datetime.now(dt.UTC)

        async def seed(n: int) -> list[uuid.UUID]:
            ids = []
            for _ in range(n):
                phone = f"+4670{rng.randrange(10_000_000):07d}"
                vid = uuid.uuid4()
                async with db.transaction(Principal.service()) as tx:
                    await tx.stores.upsert_verification(
                        vid, store, phone, now - dt.timedelta(hours=1), 99.0, now
                    )
                    s = await tx.sessions.create_pending(vid, store, phone, None, now)
                    lines = _transcript(rng)
                    await tx.transcripts.add_lines(
                        s.id,
                        [
                            rec.TranscriptLine(
                                ln.speaker, ln.order, ln.content, ln.timestamp_ms, ln.message_type
                            )
                            for ln in lines
                        ],
                    )
                ids.append(s.id)
            return ids

        ids = await seed(sessions)
        started = time.perf_counter()
        for sid in ids:
            await service.assess_session(db, llm, sid)
        out["assess_session (DB + LLM) sequential /s"] = sessions / (time.perf_counter() - started)
        started = time.perf_counter()
        for sid in ids:
            await service.check_fraud(db, llm, sid)
        out["check_fraud (DB + LLM) sequential /s"] = sessions / (time.perf_counter() - started)

        # 10,000 assessed calls in one week (rules-only assessments: the report reads only the stored rows)
        started = time.perf_counter()
        more = await seed(report_calls - sessions)
        sem = asyncio.Semaphore(6)

        async def assess(sid: uuid.UUID) -> None:
            async with sem:
                await service.assess_session(db, None, sid)

        await asyncio.gather(*(assess(s) for s in more))
        out["seeding 10k calls s"] = time.perf_counter() - started
        week = monday_of(dt.datetime.now(dt.UTC).date())
        times = []
        for _ in range(3):
            started = time.perf_counter()
            report = await service.build_weekly_report(db, llm, store, week)
            times.append(time.perf_counter() - started)
        out["weekly report build s (median of 3)"] = statistics.median(times)
        out["weekly report calls"] = float(report.total_feedback_count)
    finally:
        await llm.aclose()
        await db.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--report-calls", type=int, default=10_000)
    parser.add_argument("--no-db", action="store_true")
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_serve_emulator, args=(queue,), daemon=True)
    proc.start()
    try:
        base_url = f"http://127.0.0.1:{queue.get(timeout=30)}/v1"
        results = asyncio.run(bench_pure(base_url, args.calls))
        if not args.no_db:
            results |= asyncio.run(bench_db(base_url, min(args.calls, 200), args.report_calls))
    finally:
        proc.terminate()
        proc.join(5)
    for key, value in results.items():
        print(f"{key:45s} {value:10.2f}")


if __name__ == "__main__":
    main()
