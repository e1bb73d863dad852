"""How many simulated calls one Twilio emulator process holds at real-time pace.

``python -m engine.bench.twilio_emulator --calls 50 100 200 --seconds 20``

Each step starts a Twilio emulator in this process (speed 1.0) and an echo
"engine" in a child process (so its CPU is not counted), places N calls whose
customers talk with it: the echo server greets, then plays every inbound frame
back (100 ms per message, like Realtime deltas) with a mark per second, so each customer hears its own words as the AI's
turn and answers again: 50 frames/s each way per call, speech encoded and
decoded all the time. It reports how late the 20 ms media ticks ran, the
emulator process's CPU and memory, and whether any frame was lost.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import aiohttp

from engine.emulators.scenarios import parse_scenarios
from engine.emulators.twilio.options import TwilioEmulatorOptions
from engine.emulators.twilio.server import TwilioEmulator

PHONE = "+46701740605"
GREETING = "Hej! Jag ringer om ditt köp i dag. Är det okej att jag ställer några frågor?"


@dataclasses.dataclass
class StepResult:
    calls: int
    seconds: float
    ticks: int
    late_p50_ms: float
    late_p99_ms: float
    late_max_ms: float
    late_over_20ms: float
    """Share of ticks more than one frame (20 ms) late."""
    cpu_percent: float
    """Emulator process CPU over the step, % of one core."""
    cpu_per_call: float
    """CPU per live call, % of one core (process CPU / call-seconds)."""
    rss_mb: float
    completed: int
    decode_errors: int

    def row(self) -> str:
        return (
            f"| {self.calls} | {self.late_p50_ms:.2f} | {self.late_p99_ms:.1f} | {self.late_max_ms:.0f} | "
            f"{self.late_over_20ms * 100:.2f} % | {self.cpu_percent:.0f} % | {self.cpu_per_call:.2f} % | "
            f"{100 / max(self.cpu_per_call, 1e-9):.0f} | {self.rss_mb:.0f} | "
            f"{self.completed}/{self.calls} | {self.decode_errors} |"
        )


async def _echo_server() -> None:
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    from engine.emulators.speech import encode_speech

    greeting = base64.b64encode(encode_speech(GREETING)).decode()

    async def handle(ws: ServerConnection) -> None:
        try:
            await ws.recv()
            sid = json.loads(await ws.recv())["streamSid"]
            await ws.send(json.dumps({"event": "media", "streamSid": sid, "media": {"payload": greeting}}))
            frames = 0
            batch: list[bytes] = []
            async for raw in ws:
                message = json.loads(raw)
                if message["event"] != "media":
                    continue
                batch.append(base64.b64decode(message["media"]["payload"]))
                frames += 1
                if len(batch) == 5:  # 100 ms per message, like Realtime audio deltas
                    payload = base64.b64encode(b"".join(batch)).decode()
                    batch.clear()
                    await ws.send(
                        json.dumps({"event": "media", "streamSid": sid, "media": {"payload": payload}})
                    )
                if frames % 50 == 0:
                    await ws.send(
                        json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": str(frames)}})
                    )
        except ConnectionClosed:
            pass

    async with serve(handle, "127.0.0.1", 0, compression=None, max_size=1 << 20) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(port, flush=True)
        await asyncio.Event().wait()


async def run_step(calls: int, seconds: float, echo_url: str, ramp_s: float = 2.0) -> StepResult:
    scenarios = parse_scenarios(
        {
            "scenarios": [
                {
                    "name": "bench",
                    "phone": PHONE,
                    "attempts": [{"ring_seconds": 0.1}],
                    "persona": "detailed",
                    "reply_delay_ms": 400,
                    "hangup_after_seconds": seconds,
                }
            ]
        }
    )
    options = TwilioEmulatorOptions(speed=1.0, scenarios=scenarios, record_pacing=True)
    twiml = f'<Response><Connect><Stream url="{echo_url}"/></Connect></Response>'
    async with TwilioEmulator(options) as twilio, aiohttp.ClientSession() as http:
        token = base64.b64encode(f"{twilio.account_sid}:{twilio.auth_token}".encode()).decode()
        headers = {"Authorization": f"Basic {token}"}
        url = f"{twilio.base_url}/2010-04-01/Accounts/{twilio.account_sid}/Calls.json"
        cpu0, wall0 = time.process_time(), time.monotonic()
        for _ in range(calls):
            form = {"To": PHONE, "From": "+46850000000", "Twiml": twiml}
            async with http.post(url, data=form, headers=headers) as response:
                response.raise_for_status()
            await asyncio.sleep(ramp_s / calls)
        await twilio.wait_idle(seconds + ramp_s + 60)
        cpu_s, wall_s = time.process_time() - cpu0, time.monotonic() - wall0
        cpu = cpu_s / wall_s * 100
        call_seconds = sum(r.frames_sent + len(r.frames_dropped) for r in twilio.calls) * 0.02
        late = sorted(x for record in twilio.calls for x in record.pacing_late_ms)
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return StepResult(
            calls=calls,
            seconds=seconds,
            ticks=len(late),
            late_p50_ms=statistics.median(late) if late else 0.0,
            late_p99_ms=late[int(len(late) * 0.99)] if late else 0.0,
            late_max_ms=late[-1] if late else 0.0,
            late_over_20ms=sum(1 for x in late if x > 20) / max(1, len(late)),
            cpu_percent=cpu,
            cpu_per_call=cpu_s / max(call_seconds, 1e-9) * 100,
            rss_mb=rss_mb,
            completed=sum(1 for r in twilio.calls if r.end_reason == "customer-hangup"),
            decode_errors=sum(r.decode_errors for r in twilio.calls),
        )


async def _steps(calls: list[int], seconds: float, echo_url: str) -> None:
    print(
        "| calls | tick lateness p50 ms | p99 ms | max ms | ticks > 20 ms late | emulator CPU "
        "| CPU per call | calls per core | RSS MB | calls completed | decode errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in calls:
        print((await run_step(n, seconds, echo_url)).row(), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, nargs="+", default=[25, 50, 100, 200])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each call")
    parser.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.echo_server:
        asyncio.run(_echo_server())
        return 0
    child = subprocess.Popen(
        [sys.executable, "-m", "engine.bench.twilio_emulator", "--echo-server"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        print(f"load average before: {os.getloadavg()[0]:.1f} (cores: {os.cpu_count()})")
        asyncio.run(_steps(args.calls, args.seconds, f"ws://127.0.0.1:{port}/media"))
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    finally:
        child.terminate()
        child.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
