"""The media-stream socket the bridge talks to, and its aiohttp implementation.

The bridge needs four things from Twilio's side of a call: iterate inbound text
frames, ``recv()`` one, ``send()`` one, ``close()``. :class:`MediaSocket` is that
shape (the one ``websockets`` connections also have); :class:`AiohttpMediaSocket`
gives it to an aiohttp ``WebSocketResponse`` (the host's listener), raising
``websockets``' ``ConnectionClosed`` on a closed socket so the bridge handles both
kinds alike. It is the hot path: one attribute load and one type check per frame.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from aiohttp import WSMsgType, web
from websockets.exceptions import ConnectionClosedOK

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY


class MediaSocket(Protocol):
    def __aiter__(self) -> AsyncIterator[str | bytes]: ...

    async def recv(self) -> str | bytes: ...

    async def send(self, message: str | bytes) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


class AiohttpMediaSocket:
    """:class:`MediaSocket` over an aiohttp server WebSocket."""

    __slots__ = ("_ws",)

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self._ws = ws

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
