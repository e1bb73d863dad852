"""The Realtime session opened and configured before the customer's phone rings.

:class:`PreOpenedRealtime` is a :data:`~engine.realtime.connection.RealtimeConnector`:
its first call hands the Bridge the socket opened before dialling; later calls
(reconnects, renewals) open new ones. If the Realtime API cannot be reached,
:meth:`open` fails before any dial, so an OpenAI outage never rings a customer.
"""

from __future__ import annotations

import asyncio
import contextlib

from engine.realtime.connection import RealtimeConnector, RealtimeSocket


class PreOpenedRealtime:
    def __init__(self, connector: RealtimeConnector) -> None:
        self._connector = connector
        self._ws: RealtimeSocket | None = None

    async def open(self, session_update: str) -> None:
        """Open a socket and send the session's configuration (a ``session.update`` event); raises if
        the API is unreachable."""
        ws = await self._connector()
        try:
            await ws.send(session_update)
        except BaseException:
            await _close(ws)
            raise
        self._ws = ws

    async def __call__(self) -> RealtimeSocket:
        ws, self._ws = self._ws, None
        if ws is not None and ws.close_code is None:
            return ws
        if ws is not None:
            await _close(ws)
        return await self._connector()

    async def close(self) -> None:
        """Close a socket that was never handed over (the call was not answered)."""
        ws, self._ws = self._ws, None
        if ws is not None:
            await _close(ws)


async def _close(ws: RealtimeSocket) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1.0):
            await ws.close()
