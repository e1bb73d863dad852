"""One HTTP server per host port (aiohttp): form POSTs, WebSocket upgrades, mountable routes.

The host's listener is a small shell over an aiohttp application:

- Routes are mounted by the features that need them (:meth:`HostListener.route`):
  the call host mounts ``POST /status/{session_id}`` (Twilio status callbacks, a
  signed form body, so no customer number sits in a request line) and
  ``GET /media/{session_id}`` (the Media Streams upgrade); an inbound-call TwiML
  route or a SIP webhook route mounts the same way.
- A connection cap: past ``max_connections`` open connections, new ones are closed
  at once (counted as ``connection_cap``).
- A handshake timeout: a connection that has not sent a complete request within
  ``handshake_timeout`` seconds is closed (counted as ``handshake_timeout``), so
  idle or trickling sockets cannot hold slots.
- Bodies are bounded (``max_body_bytes``), and nothing is logged per request
  (aiohttp's access log is off: request lines carry session ids only, but a log
  line per callback is noise).

``rejected`` counts refusals by kind; it never holds personal data.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from engine.errors import ResourceExhaustedError

log = logging.getLogger("engine.session.listener")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BODY_BYTES = 64 * 1024
"""Twilio's form callbacks are a few hundred bytes."""


class _Counted(asyncio.Protocol):
    """Wraps aiohttp's per-connection protocol: counts it, caps it, times its first request."""

    __slots__ = ("_admitted", "_inner", "_listener", "_timer", "_transport")

    def __init__(self, listener: HostListener, inner: Any) -> None:
        self._listener = listener
        self._inner = inner
        self._timer: asyncio.TimerHandle | None = None
        self._transport: asyncio.BaseTransport | None = None
        self._admitted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        listener = self._listener
        if listener.open_connections >= listener.max_connections:
            listener.rejected["connection_cap"] += 1
            transport.abort()  # type: ignore[attr-defined]  # a stream transport
            return
        self._admitted = True
        listener.open_connections += 1
        self._transport = transport
        self._inner.connection_made(transport)
        self._timer = asyncio.get_running_loop().call_later(listener.handshake_timeout, self._expire)

    def _expire(self) -> None:
        self._timer = None
        if id(self._inner) not in self._listener._started and self._transport is not None:
            self._listener.rejected["handshake_timeout"] += 1
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()  # type: ignore[no-any-return]

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._admitted:
            return
        self._admitted = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._listener.open_connections -= 1
        self._listener._started.discard(id(self._inner))
        self._inner.connection_lost(exc)


class HostListener:
    """An aiohttp server on one port with a connection cap and a handshake timeout."""

    def __init__(
        self,
        *,
        max_connections: int,
        handshake_timeout: float,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.max_connections = max_connections
        self.handshake_timeout = handshake_timeout
        self.app = web.Application(client_max_size=max_body_bytes, middlewares=[self._mark_started])
        self.rejected: Counter[str] = Counter()
        self.open_connections = 0
        self._started: set[int] = set()
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self.port = 0

    def route(self, method: str, path: str, handler: Handler) -> None:
        """Mount ``handler`` for ``method path`` (aiohttp path syntax, e.g. ``/status/{session_id}``)."""
        self.app.router.add_route(method, path, handler)

    @web.middleware
    async def _mark_started(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        # A complete request arrived on this connection: the handshake timer no longer applies.
        self._started.add(id(request.protocol))
        return await handler(request)

    async def start(self, host: str, port: int, *, ports: range | None = None) -> int:
        """Listen on ``host:port``, or on the first free port of ``ports``; returns the port.

        A range lets several hosts share a node on ports a proxy can allow-list; a port
        another process holds is skipped (ResourceExhaustedError when none is free).
        """
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        for candidate in ports if ports is not None else (port,):
            try:
                self._server = await loop.create_server(
                    lambda: _Counted(self, server()), host, candidate, reuse_address=True
                )
                break
            except OSError as exc:
                if ports is None or exc.errno != errno.EADDRINUSE:
                    await self._runner.cleanup()
                    self._runner = None
                    raise
        else:
            await self._runner.cleanup()
            self._runner = None
            assert ports is not None
            raise ResourceExhaustedError(f"no free port in {ports.start}-{ports.stop - 1} on {host}")
        self.port = int(next(iter(self._server.sockets)).getsockname()[1])
        return self.port

    async def stop(self, grace_s: float = 5.0) -> None:
        if self._server is not None:
            self._server.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._server is not None:
            try:
                async with asyncio.timeout(grace_s):
                    await self._server.wait_closed()
            except TimeoutError:
                log.warning("listener on port %d: connections still open at stop", self.port)
            self._server = None
