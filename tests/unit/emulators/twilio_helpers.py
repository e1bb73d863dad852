"""Test helpers: a status-callback receiver and a Media Streams server that records what arrives."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

CONNECT_TWIML = '<Response><Connect><Stream url="{url}"><Parameter name="token" value="t0k" /></Stream></Connect></Response>'


class CallbackServer:
    """Receives webhooks on 127.0.0.1; records (method, full URL, form params, headers)."""

    def __init__(self, reply: str = "") -> None:
        self.requests: list[tuple[str, str, dict[str, str], dict[str, str]]] = []
        self.reply = reply
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.arrived = asyncio.Event()

    async def __aenter__(self) -> CallbackServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def url(self, path: str = "/status") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        form = dict(await request.post()) if request.method == "POST" else {}
        self.requests.append(
            (request.method, str(request.url), {k: str(v) for k, v in form.items()}, dict(request.headers))
        )
        self.arrived.set()
        if self.reply:
            return web.Response(text=self.reply, content_type="text/xml")
        return web.Response(status=204)


Handler = Callable[[ServerConnection, list[dict[str, Any]]], Awaitable[None]]


class StreamServer:
    """A WebSocket server standing in for the engine's media endpoint."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.messages: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.headers: dict[str, str] = {}
        self.path = ""
        self.url = ""
        self._handler = handler
        self._server: Server | None = None
        self.done = asyncio.Event()
        self.started = asyncio.Event()
        """Set when the first message arrived."""

    async def __aenter__(self) -> StreamServer:
        self._server = await serve(self._serve, "127.0.0.1", 0)
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/media/s1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        self.headers = dict(ws.request.headers)
        self.path = ws.request.path
        try:
            if self._handler is not None:
                await self._handler(ws, self.messages)
            else:
                async for raw in ws:
                    self._record(raw)
        except ConnectionClosed:
            pass
        finally:
            self.done.set()

    def _record(self, raw: str | bytes) -> dict[str, Any]:
        assert isinstance(raw, str)
        self.raw.append(raw)
        message: dict[str, Any] = json.loads(raw)
        self.messages.append(message)
        self.started.set()
        return message

    async def recv(self, ws: ServerConnection) -> dict[str, Any]:
        return self._record(await ws.recv())

    async def recv_until(self, ws: ServerConnection, event: str) -> dict[str, Any]:
        while True:
            message = await self.recv(ws)
            if message["event"] == event:
                return message
