"""The offline OpenAI server: Realtime WebSocket and chat completions on one aiohttp port.

The SDK derives both from ``OPENAI_BASE_URL`` (``http://127.0.0.1:PORT/v1``):
``GET /v1/realtime?model=…`` upgrades to the Realtime protocol,
``POST /v1/chat/completions`` goes to ``engine.emulators.chat`` (imported lazily).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import secrets
from types import TracebackType
from typing import Any, Protocol

import msgspec
from aiohttp import WSMsgType, web

from engine.emulators.openai import events
from engine.emulators.openai.behaviour import ModelBehaviour
from engine.emulators.openai.connection import RealtimeConnection
from engine.emulators.openai.events import Event, Ids
from engine.emulators.openai.log import SessionLog
from engine.emulators.openai.options import OpenAIEmulatorOptions, OpenAIFaults
from engine.emulators.openai.protocol import client_models, server_models, validate_server_event
from engine.emulators.openai.sip import SipSide
from engine.logs import get_logger

logger = get_logger(__name__)

MAX_MESSAGE_BYTES = 16 * 1024 * 1024 * 4 // 3 + 4096
"""Big enough for a 15 MiB append in base64 and its JSON envelope."""
_CLOSE = object()


class ChatHandler(Protocol):
    async def handle(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]: ...


def openai_error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    error_type: str = "invalid_request_error",
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    all_headers = {"x-request-id": f"req_{secrets.token_hex(12)}", **(headers or {})}
    return web.json_response(body, status=status, headers=all_headers)


class OpenAIEmulator:
    """Realtime + chat completions emulator. ``async with OpenAIEmulator() as emu: emu.base_url``."""

    def __init__(self, options: OpenAIEmulatorOptions | None = None) -> None:
        self.options = options or OpenAIEmulatorOptions()
        self.faults: OpenAIFaults = self.options.faults
        self.behaviour: ModelBehaviour = self.options.behaviour
        self.sessions: list[SessionLog] = []
        """One entry per accepted Realtime connection, in order."""
        self.chat_requests = 0
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self.connections = 0
        """Realtime connections accepted so far (``sessions`` may have forgotten the oldest)."""
        self._drop_base = 0
        self._sockets: set[web.WebSocketResponse] = set()
        self._live: dict[int, _RealtimeSocket] = {}
        self._session_added = asyncio.Condition()
        self._chat: ChatHandler | None = None
        self.sip = SipSide(self)
        """The SIP side: calls bridged by ``<Dial><Sip>``, their webhooks, calls API and sideband."""

    @property
    def api_key(self) -> str:
        return self.options.api_key

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("OpenAIEmulator is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.options.host}:{self.port}/v1"

    async def start(self) -> None:
        if self._runner is not None:
            return
        # Import the SDK's event models now, not on the first session.update (seconds, once per process).
        client_models()
        if self.options.validate_events:
            server_models()
        app = web.Application(client_max_size=MAX_MESSAGE_BYTES)
        app.router.add_get("/v1/realtime", self._realtime)
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        self.sip.routes(app)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.options.host, self.options.port)
        await site.start()
        self._runner = runner
        sockets = [addr for addr in runner.addresses if isinstance(addr, tuple)]
        self._port = int(sockets[0][1])
        logger.info("openai emulator listening port=%d speed=%s", self._port, self.options.speed)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await self.sip.aclose()
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"server shutting down")
        await runner.cleanup()
        logger.info("openai emulator stopped")

    async def __aenter__(self) -> OpenAIEmulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def reset_drop_count(self) -> None:
        """Count ``faults.realtime.drop_connections`` from the next connection on."""
        self._drop_base = self.connections

    async def drop(self, connection_number: int | None = None, *, close_code: int | None = None) -> None:
        """Drop a live Realtime socket now (default: the newest); ``close_code=None`` aborts TCP (1006)."""
        if not self._live:
            return
        number = connection_number if connection_number is not None else max(self._live)
        socket = self._live.get(number)
        if socket is not None:
            await socket.drop(close_code)

    def _forget_old_sessions(self) -> None:
        """Keep memory flat under long load runs: only the newest ``max_session_logs`` closed logs stay."""
        limit = self.options.max_session_logs
        excess = len(self.sessions) - limit
        if excess > 0:
            closed = [log for log in self.sessions if log.closed.is_set()][:excess]
            drop = {id(log) for log in closed}
            self.sessions[:] = [log for log in self.sessions if id(log) not in drop]

    async def wait_for_sessions(self, count: int) -> list[SessionLog]:
        """Wait until at least ``count`` Realtime connections were accepted (wrap in ``asyncio.timeout``)."""
        async with self._session_added:
            await self._session_added.wait_for(lambda: self.connections >= count)
        return self.sessions

    # -- HTTP ------------------------------------------------------------------------------------

    def _auth_error(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return openai_error(401, "You didn't provide an API key.", code="missing_api_key")
        if not secrets.compare_digest(header[len("Bearer ") :], self.options.api_key):
            return openai_error(401, "Incorrect API key provided.", code="invalid_api_key")
        return None

    async def _not_found(self, request: web.Request) -> web.Response:
        return openai_error(404, f"Unknown request URL: {request.method} {request.path}.", code="unknown_url")

    async def _chat_completions(self, request: web.Request) -> web.Response:
        denied = self._auth_error(request)
        if denied is not None:
            return denied
        http = self.faults.http
        if http.latency_seconds:
            await asyncio.sleep(self.options.wall(http.latency_seconds))
        status = http.take_error()
        if status is not None:
            return self._injected_error(status)
        handler = self._chat_handler()
        if handler is None:
            return openai_error(
                404, "Chat completions are not available in this emulator build.", code="unknown_url"
            )
        try:
            body = await request.json(loads=msgspec.json.decode)
        except (msgspec.DecodeError, ValueError):
            return openai_error(400, "We could not parse the JSON body of your request.", code="invalid_json")
        if not isinstance(body, dict):
            return openai_error(400, "The request body must be a JSON object.", code="invalid_json")
        self.chat_requests += 1
        try:
            code, payload = await handler.handle(body)
        except Exception:  # a bug in the chat logic must look like a server error, not a dropped request
            logger.exception("chat completions handler failed")
            return openai_error(
                500, "The server had an error while processing your request.", error_type="server_error"
            )
        return web.json_response(
            payload, status=code, headers={"x-request-id": f"req_{secrets.token_hex(12)}"}
        )

    def _injected_error(self, status: int) -> web.Response:
        if status == 429:
            return openai_error(
                429,
                "Rate limit reached for requests. Please try again shortly.",
                code="rate_limit_exceeded",
                error_type="requests",
                headers={"retry-after-ms": "20"},
            )
        return openai_error(
            status, "The server had an error while processing your request.", error_type="server_error"
        )

    @property
    def chat(self) -> ChatHandler | None:
        """The chat-completions logic (``engine.emulators.chat``), or None if that module is absent."""
        return self._chat_handler()

    def _chat_handler(self) -> ChatHandler | None:
        if self._chat is None:
            try:
                module = importlib.import_module("engine.emulators.chat")
            except ModuleNotFoundError as exc:
                if exc.name != "engine.emulators.chat":
                    raise
                return None
            factory = getattr(module, "ChatCompletionsEmulator", None)
            if factory is None:
                return None
            self._chat = factory()
        return self._chat

    # -- Realtime --------------------------------------------------------------------------------

    async def _realtime(self, request: web.Request) -> web.StreamResponse:
        denied = self._auth_error(request)
        if denied is not None:
            return denied
        faults = self.faults.realtime
        if faults.refuse_connections:
            return openai_error(
                faults.refuse_status, "The server is currently overloaded.", error_type="server_error"
            )
        model = request.query.get("model")
        if "call_id" in request.query:
            return await self._sideband(request, request.query["call_id"])
        if not model:
            return openai_error(
                400, "Missing required parameter: 'model'.", code="missing_required_parameter", param="model"
            )
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, autoping=True, compress=False)
        try:
            await ws.prepare(request)
        except ConnectionResetError:  # the client gave up during the handshake
            logger.info("realtime handshake abandoned by the client")
            return ws
        self.connections += 1
        number = self.connections
        ids = Ids()
        log = SessionLog(connection_number=number, session_id=ids.new("sess"), model=model)
        self._sockets.add(ws)
        async with self._session_added:
            self.sessions.append(log)
            self._session_added.notify_all()
        socket = _RealtimeSocket(self, ws, request, log, ids, number - self._drop_base)
        self._live[number] = socket
        try:
            await socket.serve()
        finally:
            self._sockets.discard(ws)
            del self._live[number]
            log.closed.set()
            self._forget_old_sessions()
        return ws

    async def _sideband(self, request: web.Request, call_id: str) -> web.StreamResponse:
        """``?call_id=``: the sideband of an accepted SIP call (no audio events on it)."""
        call = self.sip.sideband_call(call_id)
        if call is None:
            return openai_error(404, f"No active call {call_id!r}.", code="call_not_found", param="call_id")
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, autoping=True, compress=False)
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            await call.attach(ws)
        finally:
            self._sockets.discard(ws)
        return ws


class _RealtimeSocket:
    """The per-connection tasks: reader (this task), writer, timers."""

    def __init__(
        self,
        emulator: OpenAIEmulator,
        ws: web.WebSocketResponse,
        request: web.Request,
        log: SessionLog,
        ids: Ids,
        drop_number: int,
    ) -> None:
        self._emulator = emulator
        self._options = emulator.options
        self._ws = ws
        self._request = request
        self._log = log
        self._drop_number = drop_number
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[tuple[float, Any]] = asyncio.Queue()
        self._ids = ids
        self._conn = RealtimeConnection(options=self._options, log=log, emit=self._emit, ids=ids)

    def _emit(self, event: Event) -> None:
        latency = self._emulator.faults.realtime.event_latency_seconds
        due = self._loop.time() + self._options.wall(latency) if latency else 0.0
        self._queue.put_nowait((due, event))

    def _drops_here(self) -> bool:
        return self._drop_number > 0 and self._emulator.faults.realtime.applies_to(self._drop_number)

    async def serve(self) -> None:
        tasks = [
            asyncio.create_task(self._writer(), name=f"realtime-writer-{self._log.session_id}"),
            asyncio.create_task(self._expire(), name=f"realtime-expiry-{self._log.session_id}"),
        ]
        faults = self._emulator.faults.realtime
        if faults.drop_after_seconds is not None and self._drops_here():
            tasks.append(
                asyncio.create_task(self._drop_later(faults.drop_after_seconds), name="realtime-drop")
            )
        self._conn.start()
        try:
            async for message in self._ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    self._conn.handle(message.data)
                elif message.type == WSMsgType.ERROR:
                    break
            if self._log.close_reason is None:
                self._log.close_reason = "client"
        finally:
            await self._conn.aclose()
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=1.0)
            if self._log.close_reason is None:
                self._log.close_reason = "server"
            logger.info(
                "realtime session closed session=%s reason=%s events_in=%d events_out=%d",
                self._log.session_id,
                self._log.close_reason,
                self._log.events_received,
                self._log.events_sent,
            )

    async def _writer(self) -> None:
        validate = self._options.validate_events
        while True:
            due, event = await self._queue.get()
            if due:
                delay = due - self._loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            if event is _CLOSE:
                await self._ws.close(code=1000)
                return
            if validate:
                self._check(event)
            await self._ws.send_str(msgspec.json.encode(event).decode())
            self._log.events_sent += 1
            limit = self._emulator.faults.realtime.drop_after_events
            if limit is not None and self._log.events_sent >= limit and self._drops_here():
                await self._drop()
                return

    def _check(self, event: Event) -> None:
        try:
            validate_server_event(event)
        except Exception as exc:  # any failure is a finding, never a crash
            self._log.invalid_events.append(f"{event.get('type')}: {exc}")

    async def _expire(self) -> None:
        await asyncio.sleep(self._options.wall(self._options.max_session_seconds))
        minutes = self._options.max_session_seconds / 60
        self._log.close_reason = "expired"
        await self._conn.aclose()
        self._emit(
            events.error(
                self._ids.new("event"),
                "session_expired",
                f"Your session hit the maximum duration of {minutes:g} minutes.",
            )
        )
        self._queue.put_nowait((0.0, _CLOSE))

    async def _drop_later(self, seconds: float) -> None:
        await asyncio.sleep(self._options.wall(seconds))
        await self._drop()

    async def _drop(self) -> None:
        await self.drop(self._emulator.faults.realtime.drop_close_code)

    async def drop(self, code: int | None) -> None:
        self._log.close_reason = "dropped"
        logger.info("realtime fault: dropping session=%s code=%s", self._log.session_id, code)
        if code is None:
            transport = self._request.transport
            if transport is not None:
                transport.abort()
            return
        await self._ws.close(code=code, message=b"emulated fault")
