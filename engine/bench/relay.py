"""Call-session benchmark: one CallHost process, N simultaneous calls at real-time pace.

    python -m engine.bench.relay --sessions 200 --seconds 30

The far ends run in a second process (``--peer``): a Twilio-like client per call
that streams 20 ms mu-law frames and echoes marks, and a Realtime-like server
that streams 20 ms audio deltas continuously (both directions at full rate, the
worst case). Every frame carries a unique id in its first audio bytes; the peer
timestamps a sample of them when sending and again when the engine has relayed
them to the other side (one monotonic clock, one machine), so the latency is
black-box: loopback hops + the engine's relay. Dialling goes through a stub
``TwilioCalls`` that hands the TwiML stream URL and token to the peer. The
engine process reports its CPU seconds and RSS growth per call.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import resource
import statistics
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

FRAME = 160
SAMPLE_EVERY = 10
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"  # 32+ characters, like a real one
DELTA_MS = [20]
"""Realtime audio delta size the peer sends (20 ms = worst case; the API sends larger chunks)."""


def _frame(frame_id: int, size: int = FRAME) -> str:
    return base64.b64encode(b"\x7f" + struct.pack(">Q", frame_id) + b"\xff" * (size - 9)).decode()


def _value_at(raw: str, key: str) -> str:
    """The start of a JSON string value (any spacing), without parsing the whole message."""
    at = raw.index(key) + len(key)
    at = raw.index('"', raw.index(":", at)) + 1
    return raw[at : at + 12]


def _frame_id(payload: str) -> int:
    raw = base64.b64decode(payload[:12])
    return struct.unpack(">Q", raw[1:9])[0] if raw[:1] == b"\x7f" else -1


# ====================================================================== peer process


class Peer:
    def __init__(self, delta_ms: int = 20) -> None:
        self.delta_ms = delta_ms
        self.sent: dict[int, int] = {}
        self.to_realtime_ns: list[int] = []
        self.to_twilio_ns: list[int] = []
        self.twilio: list[Any] = []
        self.realtime: list[Any] = []
        self.next_tw = 1 << 40
        self.next_rt = 1
        self.tasks: set[asyncio.Task[None]] = set()
        self.relayed = 0

    def stamp(self, frame_id: int) -> None:
        if frame_id % SAMPLE_EVERY == 0:
            self.sent[frame_id] = time.monotonic_ns()

    def arrived(self, frame_id: int, into: list[int]) -> None:
        self.relayed += 1
        sent = self.sent.pop(frame_id, None)
        if sent is not None:
            into.append(time.monotonic_ns() - sent)

    async def realtime_handler(self, ws: Any) -> None:
        await ws.send(
            json.dumps({"type": "session.created", "event_id": "e", "session": {"id": f"sess_{id(ws)}"}})
        )
        state = {"ws": ws, "item": None}
        try:
            async for message in ws:
                raw = message if isinstance(message, str) else message.decode()
                if '"input_audio_buffer.append"' in raw[:40]:
                    self.arrived(_frame_id(_value_at(raw, '"audio"')), self.to_realtime_ns)
                    continue
                event = json.loads(raw)
                kind = event.get("type")
                if kind == "session.update":
                    await ws.send(json.dumps({"type": "session.updated", "event_id": "e", "session": {}}))
                elif kind == "response.create" and state["item"] is None:
                    state["item"] = f"item_{id(ws)}"
                    await ws.send(
                        json.dumps({"type": "response.created", "event_id": "e", "response": {"id": "r"}})
                    )
                    await ws.send(
                        json.dumps(
                            {
                                "type": "response.output_item.added",
                                "event_id": "e",
                                "response_id": "r",
                                "output_index": 0,
                                "item": {"id": state["item"], "role": "assistant", "type": "message"},
                            }
                        )
                    )
                    self.realtime.append(state)
        finally:
            with contextlib.suppress(ValueError):
                self.realtime.remove(state)

    async def twilio_call(self, url: str, token: str, call_sid: str = "CA1") -> None:
        from twilio.request_validator import RequestValidator
        from websockets.asyncio.client import connect

        signature = RequestValidator(AUTH_TOKEN).compute_signature(url, {})
        async with connect(url, additional_headers={"x-twilio-signature": signature}, compression=None) as ws:
            sid = f"MZ{id(ws)}"
            await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            start = {
                "streamSid": sid,
                "callSid": call_sid,
                "accountSid": "AC1",
                "customParameters": {"token": token},
            }
            await ws.send(
                json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": sid, "start": start})
            )
            state = {"ws": ws, "sid": sid, "chunk": 0, "t0": time.monotonic()}
            self.twilio.append(state)
            try:
                async for message in ws:
                    raw = message if isinstance(message, str) else message.decode()
                    if '"media"' in raw[:20]:
                        self.arrived(_frame_id(_value_at(raw, '"payload"')), self.to_twilio_ns)
                    elif '"mark"' in raw[:20]:
                        name = json.loads(raw)["mark"]["name"]
                        await ws.send(json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": name}}))
            finally:
                self.twilio.remove(state)

    async def ticker(self) -> None:
        """One task paces every stream: a 20 ms frame per call per direction."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        tick = 0
        while True:
            tick += 1
            await asyncio.sleep(max(0.0, t0 + tick * 0.02 - loop.time()))
            for state in list(self.twilio):
                state["chunk"] += 1
                frame_id = self.next_tw
                self.next_tw += 1
                self.stamp(frame_id)
                c = state["chunk"]
                msg = (
                    '{"event":"media","sequenceNumber":"'
                    + str(c + 1)
                    + '","streamSid":"'
                    + state["sid"]
                    + '",'
                    '"media":{"track":"inbound","chunk":"' + str(c) + '","timestamp":"' + str(c * 20) + '",'
                    '"payload":"' + _frame(frame_id) + '"}}'
                )
                with contextlib.suppress(Exception):
                    await state["ws"].send(msg)
            if tick % (self.delta_ms // 20):
                continue
            for state in list(self.realtime):
                frame_id = self.next_rt
                self.next_rt += 1
                self.stamp(frame_id)
                msg = (
                    '{"type":"response.output_audio.delta","event_id":"e","response_id":"r","item_id":"'
                    + state["item"]
                    + '","output_index":0,"content_index":0,"delta":"'
                    + _frame(frame_id, FRAME * self.delta_ms // 20)
                    + '"}'
                )
                with contextlib.suppress(Exception):
                    await state["ws"].send(msg)

    def report(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "to_realtime_ms": _percentiles(self.to_realtime_ns),
            "to_twilio_ms": _percentiles(self.to_twilio_ns),
            "peer_cpu_s": usage.ru_utime + usage.ru_stime,
            "frames_relayed": self.relayed,
        }

    async def run(self) -> None:
        from websockets.asyncio.server import serve

        server = await serve(self.realtime_handler, "127.0.0.1", 0, compression=None, max_queue=None)
        port = next(iter(server.sockets)).getsockname()[1]
        ticker = asyncio.create_task(self.ticker())
        print(f"READY {port}", flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            cmd = json.loads(line)
            if "url" in cmd:
                task = asyncio.create_task(
                    self.twilio_call(cmd["url"], cmd["token"], cmd.get("call_sid", "CA1"))
                )
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            elif cmd.get("reset"):
                self.relayed = 0
                self.to_realtime_ns.clear()
                self.to_twilio_ns.clear()
            elif cmd.get("report"):
                print("REPORT " + json.dumps(self.report()), flush=True)
        ticker.cancel()
        server.close()


def _percentiles(values_ns: list[int]) -> dict[str, float]:
    if not values_ns:
        return {"n": 0}
    ms = sorted(v / 1e6 for v in values_ns)
    return {
        "n": len(ms),
        "p50": round(statistics.median(ms), 3),
        "p99": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 3),
        "max": round(ms[-1], 3),
    }


# ====================================================================== engine process


class StubCalls:
    """TwilioCalls that hands each call's stream URL + token to the peer instead of dialling."""

    def __init__(self, peer_stdin: asyncio.StreamWriter) -> None:
        self._stdin = peer_stdin
        self._n = 0

    async def create_call(
        self,
        *,
        to: str,
        twiml: str,
        status_callback: str,
        timeout_s: int,
        time_limit_s: int,
        identify: Any = None,
    ) -> str:
        url = re.search(r'url="([^"]+)"', twiml)
        token = re.search(r'name="token" value="([^"]+)"', twiml)
        assert url and token
        self._n += 1
        sid = f"CA{self._n:032x}"
        command = {"url": url.group(1), "token": token.group(1), "call_sid": sid}
        self._stdin.write((json.dumps(command) + "\n").encode())
        await self._stdin.drain()
        return sid

    async def end_call(self, call_sid: str, *, answered: bool, say: str | None = None) -> None:
        return None

    async def aclose(self) -> None:
        return None


async def _baseline_bridge(twilio_ws: Any, realtime_url: str) -> None:
    """The minimal public Twilio<->Realtime bridge shape (json + base64 round trip, no persistence)."""
    from websockets.asyncio.client import connect

    async with connect(
        realtime_url, additional_headers={"Authorization": "Bearer x"}, compression=None
    ) as rt:
        await rt.send(json.dumps({"type": "session.update", "session": {"type": "realtime"}}))
        await rt.send(json.dumps({"type": "response.create"}))
        sid: dict[str, str] = {}

        async def from_twilio() -> None:
            async for message in twilio_ws:
                data = json.loads(message)
                if data["event"] == "media":
                    await rt.send(
                        json.dumps({"type": "input_audio_buffer.append", "audio": data["media"]["payload"]})
                    )
                elif data["event"] == "start":
                    sid["sid"] = data["start"]["streamSid"]

        async def to_twilio() -> None:
            async for message in rt:
                event = json.loads(message)
                if event["type"] == "response.output_audio.delta" and "sid" in sid:
                    payload = base64.b64encode(base64.b64decode(event["delta"])).decode()
                    await twilio_ws.send(
                        json.dumps({"event": "media", "streamSid": sid["sid"], "media": {"payload": payload}})
                    )

        await asyncio.gather(from_twilio(), to_twilio())


async def run_baseline(sessions: int, seconds: float) -> dict[str, Any]:
    from websockets.asyncio.server import serve

    proc, port = await _start_peer()
    assert proc.stdin is not None and proc.stdout is not None
    rt_url = f"ws://127.0.0.1:{port}/v1/realtime?model=m"
    server = await serve(lambda ws: _baseline_bridge(ws, rt_url), "127.0.0.1", 0, compression=None)
    url = f"ws://127.0.0.1:{next(iter(server.sockets)).getsockname()[1]}/media/x"
    rss0 = _rss_kb()
    for _ in range(sessions):
        proc.stdin.write((json.dumps({"url": url, "token": "t"}) + "\n").encode())
        await asyncio.sleep(0.005)
    await asyncio.sleep(3.0)
    result = await _measure(proc, sessions, seconds, rss0)
    server.close()
    await _stop_peer(proc)
    return {"mode": "baseline (minimal public bridge shape)", "delta_ms": DELTA_MS[0], **result}


async def _start_peer() -> tuple[asyncio.subprocess.Process, int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engine.bench.relay", "--peer", "--delta-ms", str(DELTA_MS[0]),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    ready = (await proc.stdout.readline()).decode().split()
    return proc, int(ready[1])


async def _stop_peer(proc: asyncio.subprocess.Process) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10):
            await proc.wait()


async def _measure(proc: asyncio.subprocess.Process, live: int, seconds: float, rss0: int) -> dict[str, Any]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b'{"reset": true}\n')
    cpu0 = time.process_time()
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    cpu = time.process_time() - cpu0
    wall = time.monotonic() - t0
    rss = _rss_kb() - rss0
    proc.stdin.write(b'{"report": true}\n')
    await proc.stdin.drain()
    line = (await proc.stdout.readline()).decode()
    peer = json.loads(line.split(" ", 1)[1])
    return {
        "live_sessions": live,
        "seconds": round(wall, 1),
        "engine_cpu_pct_of_core": round(100 * cpu / wall, 1),
        "cpu_pct_per_call": round(100 * cpu / wall / max(live, 1), 3),
        "calls_per_core_at_this_cost": round(max(live, 1) / (cpu / wall)) if cpu else None,
        "frames_relayed_per_s": round(peer["frames_relayed"] / wall),
        "full_rate_frames_per_s": live * (50 + 50 * 20 // DELTA_MS[0]),
        "engine_cpu_us_per_relayed_frame": round(cpu / max(peer["frames_relayed"], 1) * 1e6, 1),
        "calls_per_core_at_full_rate": round(
            1e6 / (cpu / max(peer["frames_relayed"], 1) * 1e6 * (50 + 50 * 20 // DELTA_MS[0]))
        )
        if cpu
        else None,
        "rss_growth_mb": round(rss / 1024, 1),
        "mb_per_session": round(rss / 1024 / max(live, 1), 3),
        "relay_twilio_to_realtime_ms": peer["to_realtime_ms"],
        "relay_realtime_to_twilio_ms": peer["to_twilio_ms"],
        "peer_cpu_pct_of_core": round(100 * peer["peer_cpu_s"] / (wall + 3), 1),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def memory_slope_kb_per_min(samples: list[tuple[float, int]]) -> float | None:
    """Least-squares slope of RSS (KB) over time (s), in KB per minute; None under 3 samples."""
    if len(samples) < 3:
        return None
    n = len(samples)
    mt = sum(t for t, _ in samples) / n
    mr = sum(r for _, r in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    if var == 0:
        return None
    return round(sum((t - mt) * (r - mr) for t, r in samples) / var * 60.0, 1)


async def run_soak(sessions: int, seconds: float, *, sample_s: float | None = None) -> dict[str, Any]:
    """Hold ``sessions`` calls on one CallHost for ``seconds`` and sample its memory: a steady
    host has a slope near zero; per-call state that is never freed shows as a positive slope."""
    sample = sample_s or max(1.0, seconds / 60.0)
    samples: list[tuple[float, int]] = []

    async def sampler() -> None:
        t0 = time.monotonic()
        while True:
            samples.append((time.monotonic() - t0, _rss_kb()))
            await asyncio.sleep(sample)

    task = asyncio.create_task(sampler(), name="soak-sampler")
    try:
        result = await run_engine(sessions, seconds, on_warm=lambda: samples.clear())
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return {
        "mode": "soak",
        "sessions": sessions,
        "seconds": seconds,
        "hosts": [
            {
                "host": "relay-host-0",
                "rss_start_mb": round(samples[0][1] / 1024, 1) if samples else None,
                "rss_end_mb": round(samples[-1][1] / 1024, 1) if samples else None,
                "rss_slope_kb_per_min": memory_slope_kb_per_min(samples),
                "samples": len(samples),
            }
        ],
        "relay": result,
    }


def _rss_kb() -> int:
    with open(f"/proc/{os.getpid()}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def run_engine(
    sessions: int, seconds: float, *, on_warm: Callable[[], None] | None = None
) -> dict[str, Any]:
    import dataclasses
    import logging

    from engine.config import OpenAISettings, Secret, SessionSettings, Settings, TwilioSettings
    from engine.session.call import CallRequest
    from engine.session.conversation import BusinessContext
    from engine.session.host import CallHost
    from engine.session.store import MemorySessionStore

    logging.getLogger("engine").setLevel(logging.WARNING)
    proc, port = await _start_peer()
    assert proc.stdin is not None
    settings = Settings(
        twilio=TwilioSettings(account_sid="AC" + "0" * 32, auth_token=Secret(AUTH_TOKEN)),
        openai=OpenAISettings(api_key=Secret("bench"), base_url=f"http://127.0.0.1:{port}/v1"),
        session=SessionSettings(
            max_call_seconds=seconds + 30, silence_nudge_seconds=1e6, silence_hangup_seconds=1e6
        ),
    )
    settings = dataclasses.replace(
        settings, host=dataclasses.replace(settings.host, sessions_per_host=sessions)
    )
    store = MemorySessionStore({"*": BusinessContext(store_name="Benchbutiken", departments=["kassan"])})
    stdin = proc.stdin
    host = CallHost(settings, store, lambda _s: StubCalls(stdin))  # type: ignore[arg-type,return-value]
    await host.start()
    rss0 = _rss_kb()
    for i in range(sessions):
        await host.start_call(CallRequest(f"bench-{i}", "store", f"+4670000{i:04d}"))
        await asyncio.sleep(0.005)
    await asyncio.sleep(3.0)  # warm up: every call streaming both ways
    if on_warm is not None:
        on_warm()
    live = sum(1 for i in range(sessions) if (s := host.session(f"bench-{i}")) and s.bridge is not None)
    result = await _measure(proc, live, seconds, rss0)
    await host.stop()
    await _stop_peer(proc)
    return {"mode": "callengine CallHost", "sessions": sessions, "delta_ms": DELTA_MS[0], **result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--baseline", action="store_true", help="measure the minimal bridge shape instead")
    parser.add_argument("--delta-ms", type=int, default=20, help="Realtime audio delta size (multiple of 20)")
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="event loop of the measured process (Ray's async actors run on uvloop)",
    )
    parser.add_argument(
        "--compare",
        type=int,
        metavar="PAIRS",
        help="alternate engine and minimal-bridge runs PAIRS times and report medians and ratios",
    )
    parser.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    DELTA_MS[0] = max(20, args.delta_ms // 20 * 20)
    if args.peer:
        asyncio.run(Peer(DELTA_MS[0]).run())
        return 0
    if args.compare:
        from engine.bench.relay_compare import compare

        print(json.dumps(compare(args.compare, args.sessions, args.seconds, ("asyncio", "uvloop")), indent=2))
        return 0
    from engine.bench.relay_compare import run_on

    run = run_baseline if args.baseline else run_engine
    print(json.dumps(run_on(args.loop, run(args.sessions, args.seconds)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
