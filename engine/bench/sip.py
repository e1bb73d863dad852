"""SIP media mode in the relay bench's harness: one CallHost process, N calls, no audio through it.

    python -m engine.bench.sip --sessions 100 --seconds 20

The engine process runs a real :class:`~engine.session.host.CallHost` in SIP mode (the stub
Twilio client hands each ``<Dial><Sip>`` to the peer). The peer process plays OpenAI's side
of every call: it POSTs the signed ``realtime.call.incoming`` webhook to the host, answers
``realtime/calls/{id}/accept|hangup`` and serves the sideband, where it repeats a canned
conversation turn (customer speech and transcription, an AI response with ten transcript
deltas and ``output_audio_buffer.started/stopped``: 24 events) at ``--events-per-s`` per call: the
control traffic a real call has, without its audio. Reported: the engine process's CPU per
call, MB per call and sideband events handled per second, to set against the minimal
bridge's CPU per call in the same harness (``python -m engine.bench.relay --baseline``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote

from engine.bench.relay import AUTH_TOKEN, _rss_kb
from engine.bench.relay_compare import run_on

WEBHOOK_SECRET = "whsec_YmVuY2gtd2ViaG9vay1zZWNyZXQtMDEyMzQ1Njc4OQ=="
TRANSCRIPT_DELTAS = 10
"""Per AI answer: with the turn's other events, 24 events a turn (a turn every 2.4 s at 10/s)."""


def _turn(n: int, transcript_deltas: int) -> list[dict[str, Any]]:
    """One customer turn and the AI's answer, as the sideband shows it (no audio)."""
    u, a, r = f"item_u{n}", f"item_a{n}", f"resp_{n}"
    events: list[dict[str, Any]] = [
        {"type": "input_audio_buffer.speech_started", "event_id": "e", "item_id": u, "audio_start_ms": 0},
        {"type": "input_audio_buffer.speech_stopped", "event_id": "e", "item_id": u, "audio_end_ms": 900},
        {"type": "input_audio_buffer.committed", "event_id": "e", "item_id": u},
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "event_id": "e",
            "item_id": u,
            "content_index": 0,
            "transcript": "Det var bra, tack.",
            "languages": [{"code": "sv"}],  # as gpt-transcribe reports it
            "usage": {"type": "duration", "seconds": 1},
        },
        {"type": "response.created", "event_id": "e", "response": {"id": r, "status": "in_progress"}},
        {
            "type": "response.output_item.added",
            "event_id": "e",
            "response_id": r,
            "output_index": 0,
            "item": {"id": a, "type": "message", "role": "assistant", "content": []},
        },
        {"type": "output_audio_buffer.started", "event_id": "e", "response_id": r},
    ]
    events += [
        {
            "type": "response.output_audio_transcript.delta",
            "event_id": "e",
            "response_id": r,
            "item_id": a,
            "output_index": 0,
            "content_index": 0,
            "delta": "ord ",
        }
    ] * transcript_deltas
    events += [
        {
            "type": "response.output_audio_transcript.done",
            "event_id": "e",
            "response_id": r,
            "item_id": a,
            "output_index": 0,
            "content_index": 0,
            "transcript": "Tack! Vad tyckte du om kassan?",
        },
        {"type": "response.done", "event_id": "e", "response": {"id": r, "status": "completed"}},
        {"type": "output_audio_buffer.stopped", "event_id": "e", "response_id": r},
    ]
    return events


# ====================================================================== peer process


class SipPeer:
    def __init__(self, events_per_s: float) -> None:
        self.events_per_s = events_per_s
        self.sent = 0
        self.calls: dict[str, dict[str, Any]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.http: Any = None

    async def run(self) -> None:
        import aiohttp
        from aiohttp import web

        app = web.Application()
        app.router.add_post("/v1/realtime/calls/{call_id}/{action}", self.action)
        app.router.add_get("/v1/realtime", self.realtime)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.http = aiohttp.ClientSession()
        print(f"READY {port}", flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            cmd = json.loads(line)
            if "sip" in cmd:
                task = asyncio.create_task(self.incoming(cmd["sip"], cmd["webhook"]))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            elif cmd.get("reset"):
                self.sent = 0
            elif cmd.get("report"):
                print("REPORT " + json.dumps({"events_sent": self.sent}), flush=True)
        await self.http.close()
        await runner.cleanup()

    async def incoming(self, sip: str, webhook: str) -> None:
        from engine.emulators.openai.sip import sign_webhook

        _, _, query = unquote(sip).partition("?")
        headers = [{"name": k, "value": v} for k, v in parse_qsl(query)]
        call_id = f"rtc_{len(self.calls)}"
        self.calls[call_id] = {"ws": None}
        body = json.dumps(
            {
                "object": "event",
                "id": f"evt_{call_id}",
                "type": "realtime.call.incoming",
                "created_at": int(time.time()),
                "data": {"call_id": call_id, "sip_headers": headers},
            }
        ).encode()
        signed = sign_webhook(WEBHOOK_SECRET, f"wh_{call_id}", int(time.time()), body)
        async with self.http.post(webhook, data=body, headers=signed) as response:
            await response.read()

    async def action(self, request: Any) -> Any:
        from aiohttp import web

        await request.read()
        return web.Response(status=200)

    async def realtime(self, request: Any) -> Any:
        from aiohttp import web

        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        if "call_id" not in request.query:  # the probe before dialling
            await ws.close()
            return ws
        sender = asyncio.create_task(self.converse(ws))
        try:
            async for _ in ws:
                pass  # response.create, tool outputs: taken, not acted on
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        return ws

    async def converse(self, ws: Any) -> None:
        await ws.send_str(json.dumps({"type": "session.created", "event_id": "e", "session": {"id": "s"}}))
        n = 0
        gap = 1.0 / self.events_per_s
        while True:
            n += 1
            turn = [json.dumps(e) for e in _turn(n, TRANSCRIPT_DELTAS)]
            for raw in turn:
                await ws.send_str(raw)
                self.sent += 1
                await asyncio.sleep(gap)


# ====================================================================== engine process


class _SipStubCalls:
    """TwilioCalls that hands each ``<Dial><Sip>`` (its X- headers) to the peer."""

    def __init__(self, stdin: asyncio.StreamWriter, webhook: Callable[[], str]) -> None:
        self._stdin = stdin
        self._webhook = webhook
        self._n = 0

    async def create_call(self, *, twiml: str, **_: Any) -> str:
        sip = re.search(r"<Sip>([^<]+)</Sip>", twiml)
        assert sip
        self._n += 1
        uri = sip.group(1).replace("&amp;", "&")
        self._stdin.write((json.dumps({"sip": uri, "webhook": self._webhook()}) + "\n").encode())
        await self._stdin.drain()
        return f"CA{self._n:032x}"

    async def end_call(self, call_sid: str, *, answered: bool, say: str | None = None) -> None:
        return None

    async def aclose(self) -> None:
        return None


async def run_sip(sessions: int, seconds: float, events_per_s: float = 10.0) -> dict[str, Any]:
    import dataclasses
    import logging

    from engine.config import OpenAISettings, Secret, SessionSettings, Settings, TwilioSettings
    from engine.session.call import CallRequest
    from engine.session.conversation import BusinessContext
    from engine.session.host import CallHost
    from engine.session.store import MemorySessionStore

    logging.getLogger("engine").setLevel(logging.WARNING)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engine.bench.sip", "--peer", "--events-per-s", str(events_per_s),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    port = int((await proc.stdout.readline()).decode().split()[1])
    settings = Settings(
        twilio=TwilioSettings(account_sid="AC" + "0" * 32, auth_token=Secret(AUTH_TOKEN)),
        openai=OpenAISettings(
            api_key=Secret("bench"),
            base_url=f"http://127.0.0.1:{port}/v1",
            sip_project_id="proj_bench",
            webhook_secret=Secret(WEBHOOK_SECRET),
        ),
        session=SessionSettings(
            max_call_seconds=seconds + 60,
            silence_nudge_seconds=1e6,
            silence_hangup_seconds=1e6,
            closing_silence_seconds=1e6,
            media_mode="sip",
        ),
    )
    settings = dataclasses.replace(
        settings, host=dataclasses.replace(settings.host, sessions_per_host=sessions)
    )
    store = MemorySessionStore({"*": BusinessContext(store_name="Benchbutiken", departments=["kassan"])})
    stdin = proc.stdin
    holder: dict[str, CallHost] = {}
    host = CallHost(
        settings,
        store,
        lambda _s: _SipStubCalls(stdin, lambda: f"http://127.0.0.1:{holder['h'].port}/openai/sip"),
    )  # type: ignore[arg-type,return-value]
    holder["h"] = host
    await host.start()
    rss0 = _rss_kb()
    for i in range(sessions):
        await host.start_call(CallRequest(f"bench-{i}", "store", f"+4670000{i:04d}"))
        await asyncio.sleep(0.005)
    await asyncio.sleep(6.0)  # every call accepted (the SDK's accept is a one-off ~ms) and talking
    live = sum(1 for i in range(sessions) if (s := host.session(f"bench-{i}")) and s.bridge is not None)
    proc.stdin.write(b'{"reset": true}\n')
    cpu0, t0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
    rss = _rss_kb() - rss0
    live_at_end = host.active
    proc.stdin.write(b'{"report": true}\n')
    await proc.stdin.drain()
    peer = json.loads((await proc.stdout.readline()).decode().split(" ", 1)[1])
    await host.stop()
    proc.stdin.close()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10):
            await proc.wait()
    import os

    return {
        "mode": "callengine CallHost, SIP media (sideband only)",
        "sessions": sessions,
        "live_sessions": live,
        "live_at_end": live_at_end,
        "seconds": round(wall, 1),
        "engine_cpu_pct_of_core": round(100 * cpu / wall, 2),
        "cpu_pct_per_call": round(100 * cpu / wall / max(live, 1), 4),
        "sideband_events_per_s": round(peer["events_sent"] / wall),
        "engine_cpu_us_per_event": round(cpu / max(peer["events_sent"], 1) * 1e6, 1),
        "rss_growth_mb": round(rss / 1024, 1),
        "mb_per_session": round(rss / 1024 / max(live, 1), 3),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--events-per-s", type=float, default=10.0, help="sideband events per call per second"
    )
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peer:
        asyncio.run(SipPeer(args.events_per_s).run())
        return 0
    print(json.dumps(run_on(args.loop, run_sip(args.sessions, args.seconds, args.events_per_s)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
