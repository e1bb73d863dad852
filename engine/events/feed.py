"""Wakes WatchEvents readers when an event commits: one ``LISTEN`` connection per process.

Readers poll the feed anyway (a notification can be lost while reconnecting, and an
event can be held back by an older transaction still running); the signal only
makes the common case immediate. :meth:`FeedSignal.wait` returns when a
notification arrived after the reader's ``since`` generation, or at its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from engine.events.types import NOTIFY_CHANNEL
from engine.logs import get_logger

log = get_logger(__name__)


class FeedSignal:
    def __init__(self, db: Any) -> None:
        self.db = db
        self.generation = 0
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="events-listen")

    async def wait(self, since: int, timeout_s: float) -> int:
        """Until the generation moves past ``since`` or ``timeout_s`` passed; the current generation."""
        self.start()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s), self._changed:
                await self._changed.wait_for(lambda: self.generation != since)
        return self.generation

    async def _bump(self) -> None:
        async with self._changed:
            self.generation += 1
            self._changed.notify_all()

    async def _listen(self) -> None:
        import psycopg

        delay = 0.5
        while True:
            try:
                url = self.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
                conn = await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=5)
                async with conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    delay = 0.5
                    self.listening.set()
                    await self._bump()  # anything committed while not listening
                    async for _ in conn.notifies():
                        await self._bump()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # readers poll meanwhile; reconnect with backoff
                self.listening.clear()
                log.warning("event notifications lost (%s); reconnecting in %.1fs", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
