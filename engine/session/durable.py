"""Two small durability helpers of a call session: holding a storage write through an outage,
and identifying an ambiguously created call by its own status callback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from engine.clock import Clock
from engine.errors import CallEngineError

RETRY_MAX_SECONDS = 5.0
T = TypeVar("T")


async def held(
    write: Callable[[], Awaitable[T]],
    *,
    clock: Clock,
    what: str,
    hold_s: float,
    log: logging.LoggerAdapter[logging.Logger] | logging.Logger,
    on_retry: Callable[[], None] | None = None,
) -> T:
    """Run ``write`` (or a read) and return its result; while storage is unreachable (a retryable
    error), hold it and retry with backoff. The caller awaits it, so one session's writes land in
    order; past ``hold_s`` the error goes up (the session ends and the reconciler settles what it
    could not write)."""
    deadline = clock.monotonic() + hold_s
    delay = 0.1
    while True:
        try:
            return await write()
        except CallEngineError as exc:
            if not exc.retryable or clock.monotonic() + delay > deadline:
                raise
            if on_retry is not None:
                on_retry()
            log.warning("%s not stored (%s); holding, retry in %.1fs", what, exc, delay)
            await clock.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)


async def identify_call(
    inbox: asyncio.Queue[T],
    sid_of: Callable[[T], str | None],
    stops: Callable[[T], bool],
    *,
    clock: Clock,
    wait_s: float,
) -> str | None:
    """Read ``inbox`` for up to ``wait_s`` until ``sid_of(item)`` names the call (or ``stops(item)``);
    every item read is put back, in order, for the session to handle as usual."""
    deadline = clock.monotonic() + wait_s
    kept: list[T] = []
    found: str | None = None
    try:
        while found is None:
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                break
            try:
                item = await asyncio.wait_for(inbox.get(), timeout=remaining)
            except TimeoutError:
                break
            kept.append(item)
            found = sid_of(item)
            if found is None and stops(item):
                break
    finally:
        while not inbox.empty():
            kept.append(inbox.get_nowait())
        for item in kept:
            inbox.put_nowait(item)
    return found
