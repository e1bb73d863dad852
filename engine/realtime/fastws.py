"""The Realtime WebSocket over picows: the relay's hot path without per-message futures.

picows parses frames in C and calls :class:`_Listener.on_ws_frame` from the
event loop's read callback; :meth:`FastSocket.send` writes synchronously into
the transport (no lock, no future, no task switch). The socket offers the
shape the bridge already uses with ``websockets`` (``send``, ``async for``,
``close``, ``close_code``, raising ``ConnectionClosed`` on a closed socket), so
the bridge and the pre-opened session treat both alike, plus a push mode:
:attr:`FastSocket.on_message`, when set, receives every message in the read
callback itself, so a relayed frame crosses the process without waking a
task (measured in ``engine.bench.relay``; see docs/benchmarks.md).

Messages fragmented over several frames are reassembled; the peer's CLOSE is
answered; a socket whose write buffer is full makes ``send`` wait for it to
drain (backpressure onto the caller).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CONT = WSMsgType.CONTINUATION
_CLOSE = WSMsgType.CLOSE


class FastSocket:
    """One client WebSocket; see the module docstring."""

    __slots__ = (
        "_drained",
        "_error",
        "_inbox",
        "_parts",
        "_paused",
        "_transport",
        "_waiter",
        "close_code",
        "max_message_bytes",
        "on_message",
    )

    def __init__(self, max_message_bytes: int) -> None:
        self._transport: WSTransport | None = None
        self._inbox: deque[bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._parts: list[bytes] | None = None
        self._paused = False
        self._drained: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self.close_code: int | None = None
        self.max_message_bytes = max_message_bytes
        self.on_message: Callable[[bytes], bool] | None = None
        """Push mode: called with each message from the read callback (no queue, no task).
        It returns False when it cannot take the message now: the message is then queued,
        push mode is switched off, and the consumer's ``recv()`` returns it (it re-enables
        push mode once it has caught up). An exception it raises is re-raised by ``recv()``."""

    # ---------------------------------------------------------------- called by the listener
    def _deliver(self, message: bytes) -> None:
        push = self.on_message
        if push is not None and not self._inbox:
            try:
                if push(message):
                    return
                self._inbox.append(message)
            except Exception as exc:
                self._error = exc
            self.on_message = None
        else:
            self._inbox.append(message)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is _TEXT or kind is _BINARY:
            if frame.fin:
                self._deliver(frame.get_payload_as_bytes())
            else:
                self._parts = [frame.get_payload_as_bytes()]
        elif kind is _CONT and self._parts is not None:
            self._parts.append(frame.get_payload_as_bytes())
            if sum(len(p) for p in self._parts) > self.max_message_bytes:
                self._parts = None
                transport.send_close(WSCloseCode.MESSAGE_TOO_BIG)
                transport.disconnect()
            elif frame.fin:
                message, self._parts = b"".join(self._parts), None
                self._deliver(message)
        elif kind is _CLOSE:
            code = frame.get_close_code()
            self.close_code = int(code.value) if isinstance(code, WSCloseCode) else int(code)
            transport.send_close(code)
            transport.disconnect()

    def _disconnected(self) -> None:
        if self.close_code is None:
            self.close_code = 1006
        self._transport = None
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._resume()

    def _pause(self) -> None:
        self._paused = True

    def _resume(self) -> None:
        self._paused = False
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    # ---------------------------------------------------------------- the socket
    @property
    def closed(self) -> bool:
        return self._transport is None

    def _closed_error(self) -> Exception:
        code = self.close_code
        if code in (1000, 1001):
            return ConnectionClosedOK(None, None)
        return ConnectionClosedError(None, None)

    def send_now(self, message: str | bytes) -> bool:
        """Write at once (the caller's turn); False when the socket is closed."""
        transport = self._transport
        if transport is None:
            return False
        transport.send(_TEXT, message)
        return True

    @property
    def writable(self) -> bool:
        """The transport's write buffer is under its high-water mark."""
        return not self._paused and self._transport is not None

    async def send(self, message: str | bytes) -> None:
        transport = self._transport
        if transport is None:
            raise self._closed_error()
        transport.send(_TEXT, message)
        if self._paused:
            await self.drained()

    async def drained(self) -> None:
        """Wait until the write buffer is below its high-water mark again (or the socket closed)."""
        if not self._paused:
            return
        if self._drained is None:
            self._drained = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._drained)

    @property
    def pending(self) -> int:
        """Messages received and not yet taken by ``recv()``."""
        return len(self._inbox)

    async def recv(self) -> bytes:
        while not self._inbox:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if self._transport is None:
                raise self._closed_error()
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            await waiter
        return self._inbox.popleft()

    def __aiter__(self) -> FastSocket:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.recv()
        except ConnectionClosedOK:
            raise StopAsyncIteration from None

    async def wait_closed(self) -> None:
        transport = self._transport
        if transport is not None:
            await transport.wait_disconnected()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        transport = self._transport
        if transport is None:
            return
        if not transport.is_close_frame_sent:
            transport.send_close(WSCloseCode(code), reason.encode())
        try:
            async with asyncio.timeout(2.0):
                await transport.wait_disconnected()
        except TimeoutError:
            transport.disconnect(graceful=False)
        if self.close_code is None:
            self.close_code = code


class _Listener(WSListener):  # type: ignore[misc]  # picows ships no stubs for subclassing
    def __init__(self, sock: FastSocket) -> None:
        self.sock = sock

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.sock._transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        self.sock._frame(transport, frame)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.sock._disconnected()

    def pause_writing(self) -> None:
        self.sock._pause()

    def resume_writing(self) -> None:
        self.sock._resume()


async def connect_fast(
    url: str,
    headers: dict[str, str],
    *,
    open_timeout: float,
    max_message_bytes: int,
    ping_interval: float = 20.0,
    **kwargs: Any,
) -> FastSocket:
    """Open a client socket; raises OSError/TimeoutError/picows errors when it cannot."""
    sock = FastSocket(max_message_bytes)
    async with asyncio.timeout(open_timeout):
        await ws_connect(
            lambda: _Listener(sock),
            url,
            extra_headers=headers,
            websocket_handshake_timeout=open_timeout,
            enable_auto_ping=True,
            auto_ping_idle_timeout=ping_interval,
            auto_ping_reply_timeout=ping_interval,
            max_frame_size=max_message_bytes,
            max_redirects=0,
            **kwargs,
        )
    return sock
