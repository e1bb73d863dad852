"""The emulator's SIP side: calls Twilio bridges with ``<Dial><Sip>`` to the project's SIP URI.

Offline there is no SIP stack. The Twilio emulator "dials" the SIP URI by opening a Media
Streams socket to ``GET /v1/sip`` here, with the INVITE's ``X-`` headers as the stream's
custom parameters; the customer's audio arrives on it as Twilio media frames. Then, as the
real API does:

1. a ``realtime.call.incoming`` webhook, signed the standard-webhooks way (the same scheme the
   SDK's ``webhooks.unwrap`` checks), is POSTed to :attr:`SipSide.webhook_url`; the call rings
   until it is accepted or rejected (or times out and is dropped);
2. ``POST /v1/realtime/calls/{id}/accept`` (the body validated as the SDK's
   ``RealtimeSessionCreateRequest``) starts the emulated model on the call; ``reject``,
   ``hangup`` and ``refer`` end it;
3. ``GET /v1/realtime?call_id=`` is the sideband: every server event *except* the audio
   (``response.output_audio.delta`` never goes there), plus the SIP-only
   ``output_audio_buffer.started/stopped/cleared`` (timed by the caller's playback: a mark
   after each response's audio, echoed once heard) and ``input_audio_buffer.dtmf_event_received``.
   Client events on it steer the call like on any Realtime socket.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
from aiohttp import WSMsgType, web

from engine.emulators.openai.connection import RealtimeConnection
from engine.emulators.openai.events import Event, Ids
from engine.emulators.openai.log import SessionLog
from engine.logs import get_logger

if TYPE_CHECKING:
    from engine.emulators.openai.server import OpenAIEmulator

logger = get_logger(__name__)

DEFAULT_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"callengine-emulator-webhook-key!").decode()
"""Public, offline only (the engine's OPENAI_WEBHOOK_SECRET in the demo and tests)."""
RING_SECONDS = 10.0
"""Emulated seconds an unanswered SIP call rings before it is dropped."""
_MARK_PREFIX = "sip:"


def sign_webhook(secret: str, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Standard-webhooks headers: HMAC-SHA256 over ``id.timestamp.body`` with the secret's key."""
    key = base64.b64decode(secret[len("whsec_") :]) if secret.startswith("whsec_") else secret.encode()
    signed = webhook_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{digest}",
        "content-type": "application/json",
    }


@dataclass
class WebhookDelivery:
    body: bytes
    headers: dict[str, str]
    status: int | None
    """The app's HTTP answer (None: not reachable)."""


@dataclass
class SipCallLog:
    call_id: str
    headers: dict[str, str]
    state: str = "ringing"
    """ringing → accepted | rejected | dropped; then ended."""
    reject_status: int | None = None
    accept_body: dict[str, Any] | None = None
    refer_target: str | None = None
    hung_up_by: str | None = None
    """``app`` (hangup API), ``customer`` (the stream ended) or None."""
    sideband_attaches: int = 0
    sideband_events: list[str] = field(default_factory=list)
    """Types of the events sent on the sideband, in order."""
    dtmf: list[str] = field(default_factory=list)


class SipSide:
    """Routes and state of the SIP side of one :class:`OpenAIEmulator`."""

    def __init__(self, emulator: OpenAIEmulator) -> None:
        self._emulator = emulator
        self.webhook_url: str | None = None
        """Where ``realtime.call.incoming`` goes (the engine's ``…/openai/sip``); set at run time."""
        self.webhook_secret = DEFAULT_WEBHOOK_SECRET
        self.webhooks: list[WebhookDelivery] = []
        self.calls: dict[str, SipCallLog] = {}
        self.unknown_call_requests: list[tuple[str, str]] = []
        """(action, call id) requests for call ids this emulator never had."""
        self._live: dict[str, _SipCall] = {}
        self._http: aiohttp.ClientSession | None = None

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/sip", self._media)
        app.router.add_post("/v1/realtime/calls/{call_id}/{action}", self._call_action)

    async def aclose(self) -> None:
        for call in list(self._live.values()):
            await call.end("emulator-stopped")
        if self._http is not None:
            await self._http.close()
            self._http = None

    # ---------------------------------------------------------------- webhook
    async def deliver(self, payload: dict[str, Any]) -> int | None:
        """POST one signed webhook (a few tries on failure, as the real service retries)."""
        from openai.types.webhooks import RealtimeCallIncomingWebhookEvent

        RealtimeCallIncomingWebhookEvent.model_validate(payload)  # our own output, checked by the SDK
        if self.webhook_url is None:
            logger.warning("sip call without a webhook url: nobody is told")
            return None
        if self._http is None:
            self._http = aiohttp.ClientSession()
        body = json.dumps(payload).encode()
        headers = sign_webhook(self.webhook_secret, "wh_" + secrets.token_hex(12), int(time.time()), body)
        status: int | None = None
        for attempt in range(3):
            try:
                async with self._http.post(
                    self.webhook_url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
                ) as response:
                    status = response.status
            except (aiohttp.ClientError, TimeoutError):
                status = None
            if status is not None and status < 500:
                break
            await asyncio.sleep(0.2 * (attempt + 1))
        self.webhooks.append(WebhookDelivery(body, headers, status))
        return status

    # ---------------------------------------------------------------- calls API
    async def _call_action(self, request: web.Request) -> web.Response:
        from engine.emulators.openai.server import openai_error

        denied = self._emulator._auth_error(request)
        if denied is not None:
            return denied
        call_id, action = request.match_info["call_id"], request.match_info["action"]
        if action not in ("accept", "reject", "hangup", "refer"):
            return openai_error(404, f"Unknown request URL: POST {request.path}.", code="unknown_url")
        body: dict[str, Any] = {}
        raw = await request.read()
        if raw:
            try:
                decoded = msgspec.json.decode(raw)
            except msgspec.DecodeError:
                return openai_error(
                    400, "We could not parse the JSON body of your request.", code="invalid_json"
                )
            if not isinstance(decoded, dict):
                return openai_error(400, "The request body must be a JSON object.", code="invalid_json")
            body = decoded
        call = self._live.get(call_id)
        log = self.calls.get(call_id)
        if log is None:
            self.unknown_call_requests.append((action, call_id))
            return openai_error(404, f"Call {call_id!r} not found.", code="call_not_found", param="call_id")
        if action == "accept":
            return await self._accept(call, log, body)
        if action == "reject":
            status = body.get("status_code", 603)
            if not isinstance(status, int) or not 400 <= status <= 699:
                return openai_error(400, "status_code must be a SIP status 400-699.", param="status_code")
            if log.state != "ringing":
                return openai_error(409, f"Call is {log.state}, not ringing.", code="call_not_ringing")
            log.state, log.reject_status = "rejected", status
            if call is not None:
                call.decided.set()
            return web.Response(status=200)
        if action == "refer":
            target = body.get("target_uri")
            if not isinstance(target, str) or not target.startswith(("tel:", "sip:")):
                return openai_error(400, "target_uri must be a tel: or sip: URI.", param="target_uri")
            log.refer_target = target
        if call is None or log.state not in ("accepted", "ringing"):
            return openai_error(409, f"Call is {log.state}.", code="call_not_active")
        log.hung_up_by = log.hung_up_by or "app"
        await call.end("hangup" if action == "hangup" else "refer")
        return web.Response(status=200)

    async def _accept(self, call: _SipCall | None, log: SipCallLog, body: dict[str, Any]) -> web.Response:
        from openai.types.realtime import RealtimeSessionCreateRequest

        from engine.emulators.openai.server import openai_error

        if call is None or log.state != "ringing":
            return openai_error(409, f"Call is {log.state}, not ringing.", code="call_not_ringing")
        try:
            RealtimeSessionCreateRequest.model_validate(body)
        except Exception as exc:  # pydantic's error lists the fields
            return openai_error(400, f"Invalid session: {exc}", code="invalid_session")
        log.state, log.accept_body = "accepted", body
        call.decided.set()
        return web.Response(status=200)

    # ---------------------------------------------------------------- the sideband
    def sideband_call(self, call_id: str) -> _SipCall | None:
        call = self._live.get(call_id)
        return call if call is not None and call.log.state == "accepted" else None

    # ---------------------------------------------------------------- the media (from Twilio)
    async def _media(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(compress=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        start: dict[str, Any] | None = None
        try:
            async with asyncio.timeout(5.0):
                while start is None:
                    msg = await ws.receive()
                    if msg.type is not WSMsgType.TEXT:
                        return ws
                    frame = json.loads(msg.data)
                    if frame.get("event") == "start":
                        start = frame
        except (TimeoutError, ValueError):
            await ws.close()
            return ws
        info = start.get("start") or {}
        headers = {str(k): str(v) for k, v in (info.get("customParameters") or {}).items()}
        call_id = "rtc_" + secrets.token_hex(12)
        log = SipCallLog(call_id, headers)
        self.calls[call_id] = log
        call = _SipCall(self._emulator, log, ws, str(start.get("streamSid") or info.get("streamSid") or ""))
        self._live[call_id] = call
        try:
            await call.run(self)
        finally:
            self._live.pop(call_id, None)
        return ws


class _SipCall:
    """One SIP call: the customer's media socket, the emulated model, the sideband."""

    def __init__(self, emulator: OpenAIEmulator, log: SipCallLog, media: web.WebSocketResponse, sid: str):
        self._emulator = emulator
        self._options = emulator.options
        self.log = log
        self._media = media
        self._sid = sid
        self.decided = asyncio.Event()
        self._ended = asyncio.Event()
        self._ids = Ids()
        self._media_out: asyncio.Queue[str | None] = asyncio.Queue()
        self._side_out: list[Event] = []
        self._side_ws: web.WebSocketResponse | None = None
        self._side_wake = asyncio.Event()
        self._conn: RealtimeConnection | None = None
        self._session_log: SessionLog | None = None
        self._idle = True
        self._audio_since_mark = False
        self._last_mark: str | None = None
        self._last_response = ""
        self._marks = 0

    # ---------------------------------------------------------------- lifecycle
    async def run(self, side: SipSide) -> None:
        headers = [{"name": "From", "value": "sip:+46000000000@pstn.twilio.com"}]
        headers += [
            {"name": "To", "value": self.log.headers.get("sip_uri", "sip:project@sip.api.openai.com")}
        ]
        headers += [{"name": k, "value": v} for k, v in self.log.headers.items() if k.startswith("X-")]
        payload = {
            "object": "event",
            "id": "evt_" + secrets.token_hex(12),
            "type": "realtime.call.incoming",
            "created_at": int(time.time()),
            "data": {"call_id": self.log.call_id, "sip_headers": headers},
        }
        delivery = asyncio.create_task(side.deliver(payload), name=f"sip-webhook-{self.log.call_id}")
        try:
            async with asyncio.timeout(self._options.wall(RING_SECONDS)):
                await self.decided.wait()
        except TimeoutError:
            self.log.state = "dropped"
        with contextlib.suppress(Exception):
            await delivery
        if self.log.state != "accepted":
            await self._media.close(code=1000)
            return
        await self._talk()

    async def _talk(self) -> None:
        emulator = self._emulator
        emulator.connections += 1
        number = emulator.connections
        log = SessionLog(connection_number=number, session_id=self._ids.new("sess"), model="sip")
        self._session_log = log
        async with emulator._session_added:
            emulator.sessions.append(log)
            emulator._session_added.notify_all()
        conn = self._conn = RealtimeConnection(options=self._options, log=log, emit=self._emit, ids=self._ids)
        conn.start()
        # The accepted session, with the codec the SIP call negotiated (G.711 mu-law from Twilio).
        session = dict(self.log.accept_body or {})
        audio = {side: dict((session.get("audio") or {}).get(side) or {}) for side in ("input", "output")}
        for side in ("input", "output"):
            audio[side]["format"] = {"type": "audio/pcmu"}
        session["audio"] = audio
        conn.handle(json.dumps({"type": "session.update", "session": session}))
        writer = asyncio.create_task(self._write_media(), name=f"sip-media-{self.log.call_id}")
        sideband = asyncio.create_task(self._write_sideband(), name=f"sip-side-{self.log.call_id}")
        try:
            await self._read_media(conn)
            if self.log.hung_up_by is None:
                self.log.hung_up_by = "customer"
        finally:
            await self.end("stream-ended")
            await conn.aclose()
            for task in (writer, sideband):
                task.cancel()
            await asyncio.wait({writer, sideband}, timeout=1.0)
            log.close_reason = log.close_reason or "sip-ended"
            log.closed.set()

    async def end(self, reason: str) -> None:
        if self._ended.is_set():
            return
        self._ended.set()
        if self.log.state in ("accepted", "ringing"):
            self.log.state = "ended" if self.log.state == "accepted" else "dropped"
        self.decided.set()
        self._side_wake.set()
        with contextlib.suppress(Exception):
            await self._media.close(code=1000)
        side = self._side_ws
        if side is not None:
            with contextlib.suppress(Exception):
                await side.close(code=1000, message=reason.encode())

    # ---------------------------------------------------------------- customer media in
    async def _read_media(self, conn: RealtimeConnection) -> None:
        async for msg in self._media:
            if msg.type is not WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            event = frame.get("event")
            if event == "media":
                payload = frame["media"]["payload"]
                conn.handle('{"type":"input_audio_buffer.append","audio":"' + payload + '"}')
            elif event == "mark":
                self._echoed(str(frame.get("mark", {}).get("name", "")))
            elif event == "dtmf":
                digit = str(frame.get("dtmf", {}).get("digit", ""))
                self.log.dtmf.append(digit)
                self._side(
                    {
                        "type": "input_audio_buffer.dtmf_event_received",
                        "event": digit,
                        "received_at": int(time.time()),
                    }
                )
            elif event == "stop":
                break
            if self._ended.is_set():
                break

    def _echoed(self, name: str) -> None:
        if name == self._last_mark and not self._audio_since_mark and not self._idle:
            self._idle = True
            self._side({"type": "output_audio_buffer.stopped", "event_id": self._ids.new("event"),
                        "response_id": name.removeprefix(_MARK_PREFIX)})  # fmt: skip

    # ---------------------------------------------------------------- the model's output
    def _emit(self, event: Event) -> None:
        kind = event.get("type")
        if kind == "response.output_audio.delta":
            rid = str(event.get("response_id", ""))
            if self._idle:
                self._idle = False
                self._side({"type": "output_audio_buffer.started", "event_id": self._ids.new("event"),
                            "response_id": rid})  # fmt: skip
            self._audio_since_mark = True
            self._last_response = rid
            self._media_out.put_nowait(
                json.dumps({"event": "media", "streamSid": self._sid, "media": {"payload": event["delta"]}})
            )
            return  # the audio never goes to the sideband
        if kind == "response.output_audio.done":
            self._marks += 1
            self._last_mark = f"{_MARK_PREFIX}{event.get('response_id', '')}"
            self._audio_since_mark = False
            self._media_out.put_nowait(
                json.dumps({"event": "mark", "streamSid": self._sid, "mark": {"name": self._last_mark}})
            )
        elif kind == "input_audio_buffer.speech_started" and not self._idle:
            # The caller spoke over the AI: the server cuts its own playback (interrupt_response).
            self._idle = True
            self._media_out.put_nowait(json.dumps({"event": "clear", "streamSid": self._sid}))
            self._side({"type": "output_audio_buffer.cleared", "event_id": self._ids.new("event"),
                        "response_id": self._last_response})  # fmt: skip
        self._side(event)

    def _side(self, event: Event) -> None:
        self._side_out.append(event)
        self._side_wake.set()

    async def _write_media(self) -> None:
        while True:
            frame = await self._media_out.get()
            if frame is None:
                return
            await self._media.send_str(frame)

    async def _write_sideband(self) -> None:
        validate = self._options.validate_events
        while True:
            await self._side_wake.wait()
            self._side_wake.clear()
            ws = self._side_ws
            if ws is None or ws.closed:
                continue  # kept until a sideband attaches
            while self._side_out:
                event = self._side_out.pop(0)
                if validate and event.get("type") != "input_audio_buffer.dtmf_event_received":
                    from engine.emulators.openai.protocol import validate_server_event

                    try:
                        validate_server_event(event)
                    except Exception as exc:  # a finding, never a crash
                        if self._session_log is not None:
                            self._session_log.invalid_events.append(f"{event.get('type')}: {exc}")
                self.log.sideband_events.append(str(event.get("type")))
                await ws.send_str(msgspec.json.encode(event).decode())
                if self._session_log is not None:
                    self._session_log.events_sent += 1

    async def attach(self, ws: web.WebSocketResponse) -> None:
        """Serve one sideband socket until it or the call closes."""
        self.log.sideband_attaches += 1
        self._side_ws = ws
        self._side_wake.set()
        try:
            async for msg in ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY) or self._conn is None:
                    break
                self._conn.handle(msg.data)
                if self._ended.is_set():
                    break
        finally:
            if self._side_ws is ws:
                self._side_ws = None
