"""Benchmark: concurrent Realtime sessions one emulator process sustains at real-time pace.

    python -m engine.bench.openai_emulator --sessions 25 50 100 --seconds 20

The emulator runs in a child process; this process drives N raw WebSocket
clients that behave like a bridge: a 20 ms mu-law frame every 20 ms (silence,
or the customer's answer after each AI line), the AI's audio streamed back by
the emulator at real-time pace. Reported per N: the emulator's CPU (share of
one core, from /proc) and CPU per second of call (→ calls one core sustains),
the lateness of received output-audio deltas against the real-time schedule
their first delta sets (client side, p50/p99/max) and of their sending (server
side: event-loop lag).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field

import msgspec
import websockets

from engine.emulators.speech import FRAME_BYTES, SILENCE_BYTE, encode_speech


def _instructions() -> str:
    """Instructions as the engine renders them (the emulated model pursues their goals)."""
    from engine.session.conversation import BusinessContext, QuestionConfig, build_script
    from engine.session.prompt import render_instructions

    ctx = BusinessContext(
        store_name="Ica Kvantum Solna",
        departments=["frukt och grönt", "kassan"],
        campaigns=["kaffe"],
        questions=[
            QuestionConfig("Hur upplevde du frukt- och gröntavdelningen?", id="q1"),
            QuestionConfig("Vad tyckte du om vår kampanj på kaffe?", id="q2"),
            QuestionConfig("Var det något som kunde ha varit bättre vid kassan?", id="q3"),
        ],
    )
    return render_instructions(build_script(ctx, "bench"), ctx)


SCRIPT = _instructions()
ANSWER = "Det var bra, frukten var fräsch."
_SILENCE_FRAME = base64.b64encode(bytes([SILENCE_BYTE]) * FRAME_BYTES).decode()
_CHUNK_MS = 100
_LEAD_CHUNKS = 3  # OpenAIEmulatorOptions.output_lead_ms (300) / _CHUNK_MS


class _Typed(msgspec.Struct):
    type: str


_TYPE = msgspec.json.Decoder(_Typed)


@dataclass
class Stats:
    late_hist: dict[int, int] = field(default_factory=dict)
    """Whole ms of client-side lateness → number of output deltas."""
    responses: int = 0
    errors: int = 0

    def late(self, ms: float) -> None:
        self.late_hist[int(ms)] = self.late_hist.get(int(ms), 0) + 1


async def _serve(port: int) -> None:
    from engine.emulators.openai import OpenAIEmulator, OpenAIEmulatorOptions
    from engine.emulators.openai.log import PacingStats

    emulator = OpenAIEmulator(OpenAIEmulatorOptions(port=port, api_key="sk-bench", output_chunk_ms=_CHUNK_MS))
    await emulator.start()
    loop = asyncio.get_running_loop()

    def report() -> None:
        # Emulator-side pacing: how late each output delta left against its real-time schedule.
        pacing = PacingStats()
        logs = list(emulator.sessions)
        for log in logs:
            pacing.merge(log.pacing)
        emulator.sessions.clear()
        result = {
            "server_late_p50_ms": pacing.percentile_ms(0.5),
            "server_late_p99_ms": pacing.percentile_ms(0.99),
            "server_late_max_ms": round(pacing.max_ms, 1),
            "audio_in_s": sum(log.audio_bytes_in for log in logs) / 8000,
            "audio_out_s": sum(r.audio_bytes_sent for log in logs for r in log.responses) / 8000,
        }
        print(json.dumps(result), flush=True)

    loop.add_signal_handler(signal.SIGUSR1, report)
    print(f"PORT={emulator.port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()


async def _session(url: str, stats: Stats, stop_at: float, delay: float = 0.0) -> None:
    await asyncio.sleep(delay)  # calls do not all start in the same instant
    answer = [
        base64.b64encode(f).decode() for f in _frames(encode_speech(ANSWER) + bytes([SILENCE_BYTE]) * 8000)
    ]
    pending: list[str] = []
    async with websockets.connect(
        url, additional_headers={"Authorization": "Bearer sk-bench"}, max_size=None
    ) as ws:
        update = {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "instructions": SCRIPT,
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcmu"},
                        "transcription": {"model": "whisper-1", "language": "sv"},
                        "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
                    },
                    "output": {"format": {"type": "audio/pcmu"}},
                },
            },
        }
        await ws.send(json.dumps(update))
        await ws.send(json.dumps({"type": "response.create"}))

        async def sender() -> None:
            loop = asyncio.get_running_loop()
            start = loop.time()
            tick = 0
            while loop.time() < stop_at:
                tick += 1
                audio = pending.pop(0) if pending else _SILENCE_FRAME
                await ws.send('{"type":"input_audio_buffer.append","audio":"' + audio + '"}')
                await asyncio.sleep(max(0.0, start + tick * 0.02 - loop.time()))

        async def receiver() -> None:
            first: float | None = None
            index = 0
            async for raw in ws:
                kind = _TYPE.decode(raw).type
                if kind == "response.output_audio.delta":
                    now = time.monotonic()
                    if first is None:
                        first, index = now, 0
                    else:
                        index += 1
                        due = max(0, index - _LEAD_CHUNKS) * _CHUNK_MS / 1000
                        stats.late(max(0.0, (now - first - due) * 1000))
                elif kind == "response.done":
                    first = None
                    stats.responses += 1
                    pending.extend(answer)
                elif kind == "error":
                    stats.errors += 1

        receive = asyncio.create_task(receiver())
        try:
            await sender()
        finally:
            receive.cancel()
            await asyncio.gather(receive, return_exceptions=True)


def _frames(audio: bytes) -> list[bytes]:
    return [audio[i : i + FRAME_BYTES] for i in range(0, len(audio) - FRAME_BYTES + 1, FRAME_BYTES)]


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _drive(port: int, sessions: int, seconds: float, stagger: float) -> None:
    """One load-generator process: ``sessions`` calls; prints its Stats as JSON."""
    stats = Stats()
    url = f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime"
    stop_at = asyncio.get_running_loop().time() + seconds

    async def guarded(index: int) -> None:
        try:
            await _session(url, stats, stop_at, stagger * index / sessions)
        except (OSError, TimeoutError, websockets.WebSocketException):
            stats.errors += 1  # a call that could not connect or was cut counts as an error

    await asyncio.gather(*(guarded(i) for i in range(sessions)))
    print(json.dumps({"responses": stats.responses, "errors": stats.errors, "late_hist": stats.late_hist}))


def _percentile(hist: dict[int, int], q: float) -> int:
    total = sum(hist.values())
    seen = 0
    for key in sorted(hist):
        seen += hist[key]
        if seen >= q * total:
            return key + 1
    return 0


async def _run(sessions: int, seconds: float, port: int, pid: int, per_driver: int) -> dict[str, float]:
    url = f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime"
    await _session(url, Stats(), asyncio.get_running_loop().time() + 0.5)  # warm-up
    drivers = max(1, -(-sessions // per_driver))
    shares = [sessions // drivers + (1 if i < sessions % drivers else 0) for i in range(drivers)]
    stagger = min(2.0, seconds / 4)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "engine.bench.openai_emulator",
            "--drive",
            str(port),
            str(share),
            str(seconds),
            str(stagger),
            stdout=asyncio.subprocess.PIPE,
        )
        for share in shares
    ]
    cpu0, wall0 = _cpu_seconds(pid), time.monotonic()
    outputs = [json.loads((await proc.communicate())[0]) for proc in procs]
    cpu_s = _cpu_seconds(pid) - cpu0
    cpu = cpu_s / (time.monotonic() - wall0)
    hist: dict[int, int] = {}
    for out in outputs:
        for key, n in out["late_hist"].items():
            hist[int(key)] = hist.get(int(key), 0) + n
    return {
        "sessions": sessions,
        "drivers": drivers,
        "cpu_s": cpu_s,
        "emulator_cpu_pct": round(cpu * 100, 1),
        "responses": sum(out["responses"] for out in outputs),
        "errors": sum(out["errors"] for out in outputs),
        "late_p50_ms": _percentile(hist, 0.5),
        "late_p99_ms": _percentile(hist, 0.99),
        "late_max_ms": max(hist, default=0),
    }


async def _main(args: argparse.Namespace) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engine.bench.openai_emulator", "--serve", stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    line = (await child.stdout.readline()).decode().strip()
    port = int(line.split("=", 1)[1])
    try:
        for n in args.sessions:
            result = await _run(n, args.seconds, port, child.pid, args.per_driver)
            child.send_signal(signal.SIGUSR1)
            result.update(json.loads(await child.stdout.readline()))
            # CPU per second of call (inbound audio is continuous, one second per session-second):
            # stable under machine contention, unlike wall-clock lateness.
            cpu_s = float(result.pop("cpu_s"))
            result["core_ms_per_call_s"] = round(cpu_s * 1000 / max(result["audio_in_s"], 1e-9), 2)
            result["calls_per_core"] = int(result["audio_in_s"] / max(cpu_s, 1e-9))
            print(json.dumps(result), flush=True)
    finally:
        child.terminate()
        await child.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--per-driver", type=int, default=40, help="calls per load-generator process")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--drive", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.port))
    elif args.drive:
        port, sessions, seconds, stagger = args.drive
        asyncio.run(_drive(int(port), int(sessions), float(seconds), float(stagger)))
    else:
        asyncio.run(_main(args))


if __name__ == "__main__":
    main()
