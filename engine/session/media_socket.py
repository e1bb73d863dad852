"""The media-stream socket the bridge talks to, and its aiohttp implementation.

The bridge needs four things from Twilio's side of a call: iterate inbound text
frames, ``recv()`` one, ``send()`` one, ``close()``. :class:`MediaSocket` is that
shape (the one ``websockets`` connections also have); :class:`AiohttpMediaSocket`
gives it to an aiohttp ``WebSocketResponse`` (the host's listener), raising
``websockets``' ``ConnectionClosed`` on a closed socket so the bridge handles both
kinds alike. It is the hot path: one attribute load and one type check per frame.

``send_now`` writes a text frame synchronously: a server's frames are unmasked, so a
frame is a 2–4 byte header and the payload, written straight to the transport in the
caller's turn (no coroutine, no drain) while the transport's write buffer is below
:data:`WRITE_HIGH_WATER`. Above it, or once the socket is closing, it returns False
and the caller uses ``send`` (which waits for the buffer to drain). Frames are whole
writes on the loop's thread, so they never interleave with aiohttp's own control frames.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from typing import Protocol

from aiohttp import WSMsgType, web
from websockets.exceptions import ConnectionClosedOK

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
WRITE_HIGH_WATER = 64 * 1024
"""Bytes buffered in the transport above which ``send_now`` declines (aiohttp's own drain limit)."""
_FIN_TEXT = 0x81


class MediaSocket(Protocol):
    def __aiter__(self) -> AsyncIterator[str | bytes]: ...

    async def recv(self) -> str | bytes: ...

    async def send(self, message: str | bytes) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


class AiohttpMediaSocket:
    """:class:`MediaSocket` over an aiohttp server WebSocket."""

    __slots__ = ("_transport", "_ws")

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None = None) -> None:
        self._ws = ws
        self._transport = transport

    def send_now(self, message: str) -> bool:
        """Write one text frame at once; False when it must go through ``send`` instead."""
        transport = self._transport
        if (
            transport is None
            or self._ws.closed
            or transport.is_closing()
            or transport.get_write_buffer_size() > WRITE_HIGH_WATER
        ):
            return False
        data = message.encode()
        size = len(data)
        if size < 126:
            header = bytes((_FIN_TEXT, size))
        elif size < 65536:
            header = struct.pack("!BBH", _FIN_TEXT, 126, size)
        else:
            header = struct.pack("!BBQ", _FIN_TEXT, 127, size)
        transport.write(header + data)
        return True

    def __aiter__(self) -> AiohttpMediaSocket:
        return self

    async def __anext__(self) -> str | bytes:
        msg = await self._ws.receive()
        kind = msg.type
        if kind is _TEXT or kind is _BINARY:
            return msg.data  # type: ignore[no-any-return]
        raise StopAsyncIteration  # closed (normally or not): the call's stream is over

    async def recv(self) -> str | bytes:
        msg = await self._ws.receive()
        kind = msg.type
        if kind is _TEXT or kind is _BINARY:
            return msg.data  # type: ignore[no-any-return]
        raise ConnectionClosedOK(None, None)

    async def send(self, message: str | bytes) -> None:
        ws = self._ws
        if ws.closed:
            raise ConnectionClosedOK(None, None)
        try:
            if isinstance(message, str):
                await ws.send_str(message)
            else:
                await ws.send_bytes(message)
        except (ConnectionResetError, RuntimeError) as exc:  # the peer went away mid-write
            raise ConnectionClosedOK(None, None) from exc

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._ws.close(code=code, message=reason.encode())
