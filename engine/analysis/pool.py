"""A small async worker pool: least-loaded pick, a cap on in-flight work, dead workers replaced.

Used for the assessor and fraud actors instead of ``ray.util.ActorPool``, which
is synchronous, runs one call per actor and queues without limit. Workers are
opaque: a factory makes one, the caller's function uses one, and ``is_dead``
says whether an exception means the worker is gone (the Ray seam knows which).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from engine.errors import ResourceExhaustedError, UnavailableError
from engine.logs import get_logger

W = TypeVar("W")
T = TypeVar("T")

log = get_logger(__name__)


@dataclass
class _Slot(Generic[W]):
    index: int
    worker: W
    in_flight: int = 0
    generation: int = 0


class AsyncPool(Generic[W]):
    """``size`` workers, each running at most ``per_worker`` jobs at once.

    ``max_waiting`` bounds the jobs waiting for a free worker; beyond it
    :meth:`submit` raises :class:`ResourceExhaustedError` at once instead of
    queueing without limit. A job whose worker died is retried once on a fresh
    worker (``retry_on_death``), since analysis jobs are idempotent.
    """

    def __init__(
        self,
        factory: Callable[[int], W],
        *,
        size: int,
        per_worker: int = 4,
        max_waiting: int = 1000,
        is_dead: Callable[[BaseException], bool] = lambda exc: False,
        retry_on_death: bool = True,
        name: str = "pool",
    ) -> None:
        if size < 1 or per_worker < 1:
            raise ValueError("size and per_worker must be >= 1")
        self._factory = factory
        self._per_worker = per_worker
        self._max_waiting = max_waiting
        self._is_dead = is_dead
        self._retry_on_death = retry_on_death
        self._name = name
        self._slots = [_Slot(i, factory(i)) for i in range(size)]
        self._freed = asyncio.Condition()
        self._waiting = 0
        self._closed = False
        self.completed = 0
        self.failed = 0
        self.replaced = 0

    @property
    def size(self) -> int:
        return len(self._slots)

    @property
    def in_flight(self) -> int:
        return sum(s.in_flight for s in self._slots)

    @property
    def waiting(self) -> int:
        return self._waiting

    def workers(self) -> list[W]:
        return [s.worker for s in self._slots]

    def loads(self) -> list[int]:
        return [s.in_flight for s in self._slots]

    def _pick(self) -> _Slot[W] | None:
        free = [s for s in self._slots if s.in_flight < self._per_worker]
        return min(free, key=lambda s: (s.in_flight, s.index), default=None)

    async def _acquire(self) -> _Slot[W]:
        slot = self._pick()
        if slot is not None:
            slot.in_flight += 1
            return slot
        if self._waiting >= self._max_waiting:
            raise ResourceExhaustedError(f"{self._name}: {self._waiting} jobs already waiting")
        self._waiting += 1
        try:
            async with self._freed:
                while (slot := self._pick()) is None:
                    if self._closed:
                        raise UnavailableError(f"{self._name} is closed")
                    await self._freed.wait()
                slot.in_flight += 1
                return slot
        finally:
            self._waiting -= 1

    async def _release(self, slot: _Slot[W]) -> None:
        slot.in_flight -= 1
        async with self._freed:
            self._freed.notify()

    def _replace(self, slot: _Slot[W], generation: int) -> None:
        if slot.generation != generation:
            return  # another job already replaced this worker
        slot.worker = self._factory(slot.index)
        slot.generation += 1
        self.replaced += 1
        log.warning("%s: worker %d died; replaced", self._name, slot.index)

    async def submit(self, job: Callable[[W], Awaitable[T]]) -> T:
        """Run ``job(worker)`` on the least-loaded worker with room."""
        if self._closed:
            raise UnavailableError(f"{self._name} is closed")
        attempts = 2 if self._retry_on_death else 1
        for attempt in range(attempts):
            slot = await self._acquire()
            generation = slot.generation
            try:
                result = await job(slot.worker)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                if self._is_dead(exc):
                    self._replace(slot, generation)
                    if attempt + 1 < attempts:
                        continue
                self.failed += 1
                raise
            else:
                self.completed += 1
                return result
            finally:
                await self._release(slot)
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        self._closed = True
        async with self._freed:
            self._freed.notify_all()
