"""Time sources. Logic takes a :class:`Clock` so tests can move time by hand."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Wall-clock time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class VirtualClock:
    """A clock that only moves when told to. ``sleep`` returns once time is advanced past it."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
        self._offset = 0.0

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._offset)

    def monotonic(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    def set(self, when: datetime) -> None:
        self._offset = (when - self._start).total_seconds()

    async def sleep(self, seconds: float) -> None:
        # A virtual sleep moves time forward and yields once, so loops driven by
        # this clock run instantly and deterministically.
        await asyncio.sleep(0)  # let tasks started "now" run at the current time first
        self._offset += max(0.0, seconds)
        await asyncio.sleep(0)
