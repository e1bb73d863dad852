"""Media Streams client: dial the app's ``<Stream url>`` and speak the protocol as Twilio does.

As Twilio does: connect with ``x-twilio-signature``; send ``connected`` and
``start``; then one 20 ms tick (scaled by the speed factor) at a time: play
160 bytes of the app's queued audio to the caller, echo marks the playback
reached, send the caller's DTMF and its media frame. ``clear`` empties the
playback queue and echoes every pending mark. Only the pacer task writes to
the socket, so ``sequenceNumber`` is always in send order.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import dataclasses
import json
import logging
import random
import secrets
import ssl
from typing import Any

import websockets
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect

from engine.emulators.customer import Caller
from engine.emulators.scenarios.schema import Impairments
from engine.emulators.speech import FRAME_BYTES, SILENCE_BYTE
from engine.emulators.twilio.calllog import CallRecord
from engine.emulators.twilio.twiml import StreamVerb

log = logging.getLogger(__name__)

TICK_MS = 20
_SILENCE = bytes([SILENCE_BYTE]) * FRAME_BYTES
_SILENCE_B64 = base64.b64encode(_SILENCE).decode("ascii")
_MEDIA_TEMPLATE = (
    '{"event": "media", "sequenceNumber": "%d", "streamSid": "%s", "media": '
    '{"track": "inbound", "chunk": "%d", "timestamp": "%d", "payload": "%s"}}'
)
_MAX_MESSAGE = 1 << 20


@dataclasses.dataclass(frozen=True)
class _Mark:
    name: str


@dataclasses.dataclass
class StreamContext:
    account_sid: str
    auth_token: str
    speed: float
    open_timeout_s: float
    close_after_ms: float | None = None
    record_pacing: bool = False
    tls: ssl.SSLContext | None = None
    """Verifies ``wss://`` servers (None: the system's authorities)."""


class StreamEnded(Exception):
    """Internal: why the stream ended (``app-closed-stream``, ``customer-hangup``, ...)."""


class Playback:
    """The outbound (app → caller) audio queue, drained at 8 bytes per ms."""

    def __init__(self) -> None:
        self._queue: collections.deque[bytes | _Mark] = collections.deque()
        self.pending_echoes: list[str] = []

    def add_audio(self, audio: bytes) -> None:
        if audio:
            self._queue.append(audio)

    def add_mark(self, name: str) -> None:
        if self._queue:
            self._queue.append(_Mark(name))
        else:
            self.pending_echoes.append(name)  # nothing queued: echoed right away

    def clear(self) -> None:
        for item in self._queue:
            if isinstance(item, _Mark):
                self.pending_echoes.append(item.name)
        self._queue.clear()

    def drain(self) -> bytes | None:
        """The audio played this tick: up to one frame (None if nothing was queued)."""
        out = bytearray()
        queue = self._queue
        while queue:
            head = queue[0]
            if isinstance(head, _Mark):
                self.pending_echoes.append(head.name)
                queue.popleft()
                continue
            if len(out) >= FRAME_BYTES:
                break
            take = FRAME_BYTES - len(out)
            if len(head) <= take:
                out += head
                queue.popleft()
            else:
                out += head[:take]
                queue[0] = head[take:]
        # A partial frame (the queue ran dry) is returned as is: the caller hears silence for
        # the rest of the tick, but its decoder must see only the bytes the app really sent.
        return bytes(out) if out else None


class _Impairer:
    """Decides, per inbound frame, whether it is lost and how many ticks it is held back."""

    def __init__(self, spec: Impairments, seed: str) -> None:
        self._spec = spec
        self._drop = set(spec.drop_frames)
        self._rng = random.Random(seed)

    def lost(self, chunk: int) -> bool:
        spec = self._spec
        if chunk in self._drop or (spec.drop_every and chunk % spec.drop_every == 0):
            return True
        return bool(spec.drop_rate) and self._rng.random() < spec.drop_rate

    def muted(self, chunk: int) -> bool:
        at_ms = (chunk - 1) * TICK_MS
        return any(g.at_ms <= at_ms < g.at_ms + g.duration_ms for g in self._spec.silence_gaps)

    def hold_until_tick(self, tick: int) -> int:
        spec = self._spec
        due = tick
        if spec.jitter_ms:
            due += self._rng.randint(0, spec.jitter_ms // TICK_MS)
        now_ms = tick * TICK_MS
        for gap in spec.gaps:
            if gap.at_ms <= now_ms < gap.at_ms + gap.duration_ms:
                due = max(due, (gap.at_ms + gap.duration_ms) // TICK_MS)
        return due


class MediaStream:
    """One bidirectional media stream of one call."""

    def __init__(
        self,
        verb: StreamVerb,
        record: CallRecord,
        caller: Caller,
        ctx: StreamContext,
        impairments: Impairments | None = None,
    ) -> None:
        self._verb = verb
        self._record = record
        self._caller = caller
        self._ctx = ctx
        self._impairer = _Impairer(impairments or Impairments(), seed=record.sid)
        self._playback = Playback()
        self._seq = 0
        self._chunk = 0
        self._out: collections.deque[tuple[int, str]] = collections.deque()
        self._hangup = asyncio.Event()
        self._aborted = False
        self.stream_sid = "MZ" + secrets.token_hex(16)

    def hang_up(self) -> None:
        """Called by the call (REST hang-up / redirect): send ``stop`` and close."""
        self._hangup.set()

    async def run(self) -> str:
        """Connect, stream until one side ends; returns the end reason."""
        record, ctx = self._record, self._ctx
        record.stream_sid, record.stream_url = self.stream_sid, self._verb.url
        record.custom_parameters = dict(self._verb.parameters)
        signature = RequestValidator(ctx.auth_token).compute_signature(self._verb.url, {})
        try:
            ws = await connect(
                self._verb.url,
                additional_headers={"x-twilio-signature": signature},
                user_agent_header="Twilio.TmeWs/1.0",
                open_timeout=ctx.open_timeout_s,
                close_timeout=2.0,
                compression=None,
                max_size=_MAX_MESSAGE,
                ping_interval=None,
                ssl=self._ctx.tls if self._verb.url.startswith("wss://") else None,
            )
        except (OSError, TimeoutError, websockets.exceptions.InvalidHandshake) as exc:
            log.info("call %s: stream connect failed: %s", record.sid, type(exc).__name__)
            return "stream-error"
        try:
            return await self._talk(ws)
        finally:
            await ws.close()

    async def _talk(self, ws: ClientConnection) -> str:
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        self._seq = 1
        start = {
            "accountSid": self._ctx.account_sid,
            "streamSid": self.stream_sid,
            "callSid": self._record.sid,
            "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": dict(self._verb.parameters),
        }
        await ws.send(
            json.dumps(
                {"event": "start", "sequenceNumber": "1", "streamSid": self.stream_sid, "start": start}
            )
        )
        reader = asyncio.create_task(self._read(ws), name=f"twilio-stream-read-{self._record.sid}")
        pacer = asyncio.create_task(self._pace(ws), name=f"twilio-stream-pace-{self._record.sid}")
        hangup = asyncio.create_task(self._hangup.wait(), name=f"twilio-stream-hangup-{self._record.sid}")
        tasks = {reader, pacer, hangup}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if self._aborted:
                return "stream-error"
            if reader in done:
                return "app-closed-stream" if reader.result() else "stream-error"
            if pacer in done:
                reason = pacer.result()
                if reason == "customer-hangup":
                    await self._send_stop(ws)
                return reason
            # REST hang-up or redirect.
            pacer.cancel()
            await asyncio.gather(pacer, return_exceptions=True)
            await self._send_stop(ws)
            return "hangup-rest"
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5.0)

    async def _send_stop(self, ws: ClientConnection) -> None:
        await self._flush(ws, until_tick=None)
        self._seq += 1
        stop = {"accountSid": self._ctx.account_sid, "callSid": self._record.sid}
        message = {
            "event": "stop",
            "sequenceNumber": str(self._seq),
            "streamSid": self.stream_sid,
            "stop": stop,
        }
        try:
            await ws.send(json.dumps(message))
        except websockets.exceptions.ConnectionClosed:
            pass

    async def _read(self, ws: ClientConnection) -> bool:
        """Until the app closes the socket: True for a clean close, False if the connection broke."""
        record = self._record
        try:
            async for raw in ws:
                if not isinstance(raw, str):
                    record.invalid_messages += 1
                    continue
                self._handle(raw)
        except websockets.exceptions.ConnectionClosedError:
            return False
        return True

    def _handle(self, raw: str) -> None:
        record = self._record
        try:
            message: Any = json.loads(raw)
            event = message["event"]
            if message.get("streamSid") != self.stream_sid:
                raise ValueError("streamSid")
            if event == "media":
                audio = base64.b64decode(message["media"]["payload"], validate=True)
                record.frames_received += 1
                record.bytes_received += len(audio)
                self._playback.add_audio(audio)
            elif event == "mark":
                name = message["mark"]["name"]
                if not isinstance(name, str):
                    raise ValueError("mark.name")
                record.marks_received.append(name)
                self._playback.add_mark(name)
            elif event == "clear":
                record.clears += 1
                self._playback.clear()
            else:
                raise ValueError("event")
        except (ValueError, KeyError, TypeError, binascii.Error):
            # Real Twilio ignores bad messages (error 31951 in the debugger); count them.
            record.invalid_messages += 1

    async def _pace(self, ws: ClientConnection) -> str:
        loop = asyncio.get_running_loop()
        ctx = self._ctx
        interval = TICK_MS / 1000 / ctx.speed
        close_tick = None if ctx.close_after_ms is None else int(ctx.close_after_ms // TICK_MS)
        t0 = loop.time()
        tick = 0
        while True:
            tick += 1
            target = t0 + tick * interval
            delay = target - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if ctx.record_pacing:
                self._record.pacing_late_ms.append((loop.time() - target) * 1000)
            if close_tick is not None and tick >= close_tick:
                self._aborted = True
                ws.transport.abort()  # a network failure: no stop, no close frame
                return "stream-error"
            played = self._playback.drain()
            for name in self._playback.pending_echoes:
                self._queue_event(tick, "mark", {"name": name})
                self._record.marks_echoed.append(name)
            self._playback.pending_echoes.clear()
            action = self._caller.tick(played)
            for digit in action.dtmf:
                self._queue_event(tick, "dtmf", {"track": "inbound_track", "digit": digit})
                self._record.dtmf_sent.append(digit)
            self._queue_media(tick, action.frame)
            try:
                await self._flush(ws, until_tick=tick)
            except websockets.exceptions.ConnectionClosed:
                return "app-closed-stream"
            if action.hangup:
                return "customer-hangup"

    def _queue_event(self, tick: int, event: str, body: dict[str, str]) -> None:
        self._seq += 1
        message = {
            "event": event,
            "sequenceNumber": str(self._seq),
            "streamSid": self.stream_sid,
            event: body,
        }
        due = self._out[-1][0] if self._out else tick
        self._out.append((max(due, tick), json.dumps(message)))

    def _queue_media(self, tick: int, frame: bytes | None) -> None:
        self._seq += 1
        self._chunk += 1
        if self._impairer.lost(self._chunk):
            self._record.frames_dropped.append(self._chunk)
            return
        if frame is not None and self._impairer.muted(self._chunk):
            frame = None
            self._record.frames_muted += 1
        payload = _SILENCE_B64 if frame is None else base64.b64encode(frame).decode("ascii")
        # The hot path (50 per second per call): a template, byte-identical to json.dumps of the
        # message (every value here is ASCII without characters JSON would escape).
        text = _MEDIA_TEMPLATE % (
            self._seq,
            self.stream_sid,
            self._chunk,
            (self._chunk - 1) * TICK_MS,
            payload,
        )
        due = self._impairer.hold_until_tick(tick)
        if self._out:
            due = max(due, self._out[-1][0])  # order kept
        self._out.append((due, text))

    async def _flush(self, ws: ClientConnection, until_tick: int | None) -> None:
        out = self._out
        while out and (until_tick is None or out[0][0] <= until_tick):
            _, text = out.popleft()
            await ws.send(text)
            if text.startswith('{"event": "media"'):
                self._record.frames_sent += 1
