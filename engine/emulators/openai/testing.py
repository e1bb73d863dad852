"""Test helpers: an SDK Realtime connection that checks every server event it receives.

``ValidatingRealtimeClient`` wraps ``client.realtime.connect(...)``: each event
is read raw, validated with the SDK model for its type, linted for keys the
models do not know (the real server's known extras allowed), and returned as
the SDK object. Failures collect in ``.problems`` so a test asserts it empty.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterable
from typing import Any

from openai.resources.realtime.realtime import AsyncRealtimeConnection

from engine.emulators.openai.protocol import unexpected_extras, validate_server_event
from engine.emulators.speech import FRAME_BYTES, SILENCE_BYTE, split_frames

KNOWN_SERVER_EXTRAS = frozenset({"$.session.object", "$.session.id", "$.session.expires_at"})
"""Keys the real server sends that the SDK models do not declare (seen on the wire)."""


class ValidatingRealtimeClient:
    def __init__(self, connection: AsyncRealtimeConnection) -> None:
        self.connection = connection
        self.events: list[Any] = []
        self.problems: list[str] = []

    async def next_event(self) -> Any:
        raw = await self.connection.recv_bytes()
        event = json.loads(raw)
        try:
            model = validate_server_event(event)
        except Exception as exc:
            self.problems.append(f"{event.get('type')}: {exc}")
        else:
            extras = [path for path in unexpected_extras(model) if path not in KNOWN_SERVER_EXTRAS]
            if extras:
                self.problems.append(f"{event.get('type')}: unexpected keys {extras}")
        parsed = self.connection.parse_event(raw)
        self.events.append(parsed)
        return parsed

    async def until(self, kind: str | Iterable[str], within: float = 5.0) -> list[Any]:
        """Events received up to and including the first of type ``kind``."""
        wanted = {kind} if isinstance(kind, str) else set(kind)
        got: list[Any] = []
        async with asyncio.timeout(within):
            while True:
                event = await self.next_event()
                got.append(event)
                if event.type in wanted:
                    return got

    async def send_audio(self, mulaw: bytes, *, frame_pause: float = 0.0) -> None:
        """Append audio 20 ms frame by frame (``frame_pause`` seconds apart; 0 = as fast as possible)."""
        for frame in split_frames(mulaw, FRAME_BYTES):
            await self.connection.input_audio_buffer.append(audio=base64.b64encode(frame).decode("ascii"))
            if frame_pause:
                await asyncio.sleep(frame_pause)
            else:
                await asyncio.sleep(0)


def silence_frames(ms: int) -> bytes:
    return bytes([SILENCE_BYTE]) * (FRAME_BYTES * (ms // 20))


def audio_of(events: Iterable[Any]) -> bytes:
    """Concatenated output audio of ``response.output_audio.delta`` events."""
    return b"".join(base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta")
