"""Time, injectable: every component that reads the time or sleeps takes a :class:`Clock`.

One interface for the whole engine:

- ``now()``: wall-clock time, timezone-aware UTC (what is stored in the database,
  what call windows and reports are computed from);
- ``monotonic()``: seconds that never go backwards (timeouts, latencies, rate limits);
- ``sleep(seconds)``.

Implementations:

- :class:`SystemClock`: the real time; with ``offset`` its wall time is shifted (the
  demo runs earlier weeks' calls on a clock set back by whole weeks), while
  ``monotonic`` and ``sleep`` stay real.
- :class:`VirtualClock`: time moves only when a test calls :meth:`VirtualClock.advance`;
  sleepers wake in deadline order (timeouts and timers tested without waiting).
- :class:`SteppingClock`: every ``sleep`` moves time forward by itself, so a loop
  driven by it runs instantly and deterministically (the dispatcher's unit tests).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

DEFAULT_START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
"""Where virtual clocks start unless told otherwise (a Monday, midday UTC)."""


class Clock(Protocol):
    def now(self) -> datetime:
        """Wall-clock time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock; ``offset`` shifts the wall time only (never ``monotonic`` or ``sleep``)."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class VirtualClock:
    """Time moves only in :meth:`advance`; sleepers wake in deadline order.

    ``monotonic()`` starts at ``start`` seconds; ``now()`` is ``wall_start`` plus the
    time advanced since.
    """

    def __init__(self, start: float = 0.0, wall_start: datetime = DEFAULT_START) -> None:
        self._start = start
        self._now = start
        self._wall_start = wall_start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._ids = itertools.count()

    def now(self) -> datetime:
        return self._wall_start + timedelta(seconds=self._now - self._start)

    def monotonic(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + max(0.0, seconds), next(self._ids), fut))
        await fut

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleeper whose deadline passed (and letting it run)."""
        target = self._now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, fut = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not fut.done():
                fut.set_result(None)
            for _ in range(5):
                await asyncio.sleep(0)
        self._now = target
        for _ in range(5):
            await asyncio.sleep(0)


class SteppingClock:
    """A clock that only moves when told to, or by a ``sleep``, which advances it at once."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or DEFAULT_START
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
        await asyncio.sleep(0)  # let tasks started "now" run at the current time first
        self._offset += max(0.0, seconds)
        await asyncio.sleep(0)
