"""Opening the Realtime WebSocket the way the openai SDK does, without its per-event parsing.

URL and headers follow ``AsyncOpenAI().realtime.connect`` in the installed SDK:
``base_url`` with http→ws, ``/realtime?model=…``, ``Authorization: Bearer``,
no subprotocol, no compression. Events are then read and written as raw text
and (de)coded by :mod:`engine.realtime.events`. The socket is picows
(:mod:`engine.realtime.fastws`): the relay's hot path measured cheapest with it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol
from urllib.parse import quote

import picows
import websockets

from engine.config import OpenAISettings
from engine.errors import UnavailableError
from engine.realtime.fastws import connect_fast

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_MESSAGE_BYTES = 8 * 1024 * 1024


class RealtimeSocket(Protocol):
    """What the session needs of a Realtime socket (a picows :class:`FastSocket` or a
    ``websockets`` connection): send text, iterate messages, close; a closed socket raises
    ``websockets.exceptions.ConnectionClosed``."""

    @property
    def close_code(self) -> int | None: ...

    async def send(self, message: str) -> None: ...

    def __aiter__(self) -> AsyncIterator[str | bytes]: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


RealtimeConnector = Callable[[], Awaitable[RealtimeSocket]]
"""Opens one new Realtime socket (a session may open several: reconnects, renewals)."""


def realtime_url(settings: OpenAISettings, call_id: str | None = None) -> str:
    """The socket's URL: a new session (``?model=``), or a SIP call's sideband (``?call_id=``)."""
    base = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    if call_id is not None:
        return f"{base}/realtime?call_id={quote(call_id)}"
    return f"{base}/realtime?model={quote(settings.realtime_model)}"


class WebSocketRealtimeConnector:
    """The production connector; ``await connector()`` returns an open socket or raises UnavailableError."""

    def __init__(
        self, settings: OpenAISettings, *, open_timeout_s: float = 5.0, call_id: str | None = None
    ) -> None:
        self._url = realtime_url(settings, call_id)
        self._headers = {"Authorization": f"Bearer {settings.api_key.get()}"}
        self._timeout = open_timeout_s

    async def __call__(self) -> RealtimeSocket:
        try:
            return await connect_fast(
                self._url, self._headers, open_timeout=self._timeout, max_message_bytes=MAX_MESSAGE_BYTES
            )
        except (OSError, TimeoutError, picows.WSError, websockets.exceptions.WebSocketException) as exc:
            raise UnavailableError(f"realtime connect failed: {type(exc).__name__}") from exc
