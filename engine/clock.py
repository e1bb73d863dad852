"""Time, injectable: every component that reads the time or sleeps takes a :class:`Clock`.

One interface for the whole engine:

- ``now()``: wall-clock time, timezone-aware UTC (what is stored in the database,
  what call windows and reports are computed from);
- ``monotonic()``: seconds that never go backwards (timeouts, latencies, rate limits);
- ``sleep(seconds)``.

What follows the shifted wall time: everything the engine stores or decides from the
date (session timestamps, audit rows, jobs and their retries, assessments, the ledger,
events, reports, call windows). What never does: security lifetimes checked against the
real time by someone else (bearer tokens, per-attempt tokens, webhook signature
timestamps, the Realtime session's expiry), which read ``time.time()``.

Implementations:

- :class:`SystemClock`: the real time; with ``offset`` (or ``offset_file``) its wall time
  is shifted (the demo runs earlier weeks' calls on a clock set back by whole weeks),
  while ``monotonic`` and ``sleep`` stay real. :func:`clock_from_settings` builds the
  clock every engine process uses (``CALLENGINE_CLOCK_OFFSET_FILE``).
- :class:`VirtualClock`: time moves only when a test calls :meth:`VirtualClock.advance`;
  sleepers wake in deadline order (timeouts and timers tested without waiting).
- :class:`SteppingClock`: every ``sleep`` moves time forward by itself, so a loop
  driven by it runs instantly and deterministically (the dispatcher's unit tests).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from engine.config import Settings

log = logging.getLogger(__name__)

MAX_OFFSET = timedelta(days=400)
"""A wall-clock offset is for replaying recent weeks; anything larger is a mistake."""

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
    """The real clock; ``offset`` shifts the wall time only (never ``monotonic`` or ``sleep``).

    With ``offset_file`` the offset is read from that file (seconds, e.g. ``-1814400``;
    a missing file means no offset) and followed when it changes: each :meth:`now`
    checks the file's identity (one ``stat``), so once a writer has replaced the file
    (write a new file, then rename it over the old one) every later ``now()`` in every
    process that reads it sees the new offset. A file that cannot be parsed keeps the
    last good offset (logged once per change).
    """

    def __init__(self, offset: timedelta = timedelta(0), offset_file: Path | None = None) -> None:
        self._offset = check_offset(offset)
        self.offset_file = offset_file
        self._seen: tuple[int, int, int] | None = None
        self._file_offset = timedelta(0)

    @property
    def offset(self) -> timedelta:
        if self.offset_file is None:
            return self._offset
        return self._offset + self._read_offset_file(self.offset_file)

    def _read_offset_file(self, path: Path) -> timedelta:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self._seen, self._file_offset = None, timedelta(0)
            return self._file_offset
        seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        if seen != self._seen:
            self._seen = seen
            try:
                self._file_offset = parse_offset(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                log.error("clock offset file %s unreadable (%s); keeping %s", path, exc, self._file_offset)
        return self._file_offset

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


def check_offset(offset: timedelta) -> timedelta:
    if abs(offset) > MAX_OFFSET:
        raise ValueError(f"a wall-clock offset must be within ±{MAX_OFFSET.days} days")
    return offset


def parse_offset(text: str) -> timedelta:
    """An offset file's content: whole or fractional seconds, e.g. ``-1814400``."""
    seconds = float(text.strip())
    if not math.isfinite(seconds):
        raise ValueError("offset must be a finite number of seconds")
    return check_offset(timedelta(seconds=seconds))


def write_offset(path: Path, offset: timedelta) -> None:
    """Replace the offset file atomically (every reader sees the old or the new offset, never half)."""
    check_offset(offset)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{offset.total_seconds():.0f}\n", encoding="utf-8")
    os.replace(tmp, path)


def clock_from_settings(settings: Settings) -> SystemClock:
    """The clock of an engine process: the real time, shifted by ``CALLENGINE_CLOCK_OFFSET_FILE`` if set."""
    path = settings.clock_offset_file
    if not path:
        return SystemClock()
    log.warning("wall clock follows the offset in %s (demo/test only)", path)
    return SystemClock(offset_file=Path(path))
