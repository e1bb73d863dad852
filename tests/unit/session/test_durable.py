"""Holding a storage write through an outage; identifying an ambiguous create by its callback."""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import UTC, datetime

import pytest

from engine.clock import SteppingClock
from engine.errors import NotFoundError, UnavailableError
from engine.session.durable import held, identify_call

log = logging.getLogger("test")


async def test_a_write_is_held_until_storage_returns() -> None:
    clock = SteppingClock(datetime(2026, 11, 29, tzinfo=UTC))
    attempts: list[float] = []

    async def write() -> None:
        attempts.append(clock.monotonic())
        if len(attempts) < 5:
            raise UnavailableError("database down")

    await held(write, clock=clock, what="status", hold_s=60, log=log)
    assert len(attempts) == 5
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps == sorted(gaps), "backoff grows"


async def test_a_hold_gives_up_after_its_bound_and_never_on_a_real_error() -> None:
    clock = SteppingClock(datetime(2026, 11, 29, tzinfo=UTC))

    async def down() -> None:
        raise UnavailableError("still down")

    with pytest.raises(UnavailableError):
        await held(down, clock=clock, what="status", hold_s=10, log=log)
    assert clock.monotonic() <= 10 + 5

    calls = 0

    async def gone() -> None:
        nonlocal calls
        calls += 1
        raise NotFoundError("no such session")

    with pytest.raises(NotFoundError):
        await held(gone, clock=clock, what="status", hold_s=10, log=log)
    assert calls == 1


async def test_identify_finds_the_attempts_sid_and_keeps_every_item_in_order() -> None:
    clock = SteppingClock(datetime(2026, 11, 29, tzinfo=UTC))
    inbox: asyncio.Queue[tuple[str, str | None]] = asyncio.Queue()
    for item in [("cb", None), ("other-attempt", None), ("cb", "CAmine"), ("later", None)]:
        inbox.put_nowait(item)
    found = await identify_call(inbox, lambda i: i[1], lambda i: i[0] == "stop", clock=clock, wait_s=5)
    assert found == "CAmine"
    assert [inbox.get_nowait() for _ in range(inbox.qsize())] == [
        ("cb", None),
        ("other-attempt", None),
        ("cb", "CAmine"),
        ("later", None),
    ]


async def test_identify_returns_none_when_nothing_arrives() -> None:
    clock = SteppingClock(datetime(2026, 11, 29, tzinfo=UTC))
    inbox: asyncio.Queue[tuple[str, str | None]] = asyncio.Queue()
    assert await identify_call(inbox, lambda i: i[1], lambda i: False, clock=clock, wait_s=0.05) is None
