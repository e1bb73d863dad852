"""Opening the Realtime WebSocket the way the openai SDK does, without its per-event parsing.

URL and headers follow ``AsyncOpenAI().realtime.connect`` in the installed SDK:
``base_url`` with http→ws, ``/realtime?model=…``, ``Authorization: Bearer``,
no subprotocol, no compression. Events are then read and written as raw text
and (de)coded by :mod:`engine.realtime.events`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

import websockets
from websockets.asyncio.client import ClientConnection, connect

from engine.config import OpenAISettings
from engine.errors import UnavailableError

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_MESSAGE_BYTES = 8 * 1024 * 1024

RealtimeConnector = Callable[[], Awaitable[ClientConnection]]
"""Opens one new Realtime socket (a session may open several: reconnects, renewals)."""


def realtime_url(settings: OpenAISettings) -> str:
    base = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return f"{base}/realtime?model={quote(settings.realtime_model)}"


class WebSocketRealtimeConnector:
    """The production connector; ``await connector()`` returns an open socket or raises UnavailableError."""

    def __init__(self, settings: OpenAISettings, *, open_timeout_s: float = 5.0) -> None:
        self._url = realtime_url(settings)
        self._headers = {"Authorization": f"Bearer {settings.api_key.get()}"}
        self._timeout = open_timeout_s

    async def __call__(self) -> ClientConnection:
        try:
            return await connect(
                self._url,
                additional_headers=self._headers,
                compression=None,
                max_size=MAX_MESSAGE_BYTES,
                open_timeout=self._timeout,
                ping_interval=20,
                ping_timeout=20,
                close_timeout=2,
            )
        except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
            raise UnavailableError(f"realtime connect failed: {type(exc).__name__}") from exc
