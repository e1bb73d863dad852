from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from engine.analysis.pool import AsyncPool
from engine.errors import ResourceExhaustedError


class Dead(Exception):
    pass


@dataclass
class FakeWorker:
    index: int
    gen: int
    dead: bool = False
    done: list[int] = field(default_factory=list)
    gate: asyncio.Event | None = None

    async def work(self, n: int) -> int:
        if self.dead:
            raise Dead()
        if self.gate is not None:
            await self.gate.wait()
        self.done.append(n)
        return n * 2


def make_pool(size: int = 3, **kw: object) -> tuple[AsyncPool[FakeWorker], list[FakeWorker]]:
    made: list[FakeWorker] = []

    def factory(i: int) -> FakeWorker:
        w = FakeWorker(i, len(made))
        made.append(w)
        return w

    pool: AsyncPool[FakeWorker] = AsyncPool(
        factory,
        size=size,
        is_dead=lambda e: isinstance(e, Dead),
        **kw,  # type: ignore[arg-type]
    )
    return pool, made


async def test_least_loaded_pick_spreads_work() -> None:
    pool, workers = make_pool(3, per_worker=2)
    gate = asyncio.Event()
    for w in workers:
        w.gate = gate
    tasks = [asyncio.create_task(pool.submit(lambda w, n=n: w.work(n))) for n in range(6)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert pool.loads() == [2, 2, 2]
    gate.set()
    assert sorted(await asyncio.gather(*tasks)) == [0, 2, 4, 6, 8, 10]
    assert pool.completed == 6 and pool.in_flight == 0


async def test_in_flight_cap_queues_then_rejects() -> None:
    pool, workers = make_pool(1, per_worker=1, max_waiting=1)
    gate = asyncio.Event()
    workers[0].gate = gate
    first = asyncio.create_task(pool.submit(lambda w: w.work(1)))
    await asyncio.sleep(0)
    second = asyncio.create_task(pool.submit(lambda w: w.work(2)))
    await asyncio.sleep(0)
    assert pool.in_flight == 1 and pool.waiting == 1
    with pytest.raises(ResourceExhaustedError):
        await pool.submit(lambda w: w.work(3))
    gate.set()
    assert await asyncio.wait_for(asyncio.gather(first, second), 2) == [2, 4]


async def test_dead_worker_replaced_and_job_retried() -> None:
    pool, made = make_pool(2)
    made[0].dead = True
    made[1].dead = True
    # The first job lands on worker 0 (dead), is retried on its replacement.
    assert await pool.submit(lambda w: w.work(5)) == 10
    assert pool.replaced == 1
    assert len(made) == 3 and pool.workers()[0] is made[2]


async def test_death_without_retry_raises() -> None:
    pool, made = make_pool(1, retry_on_death=False)
    made[0].dead = True
    with pytest.raises(Dead):
        await pool.submit(lambda w: w.work(1))
    assert pool.replaced == 1 and pool.failed == 1
    assert await pool.submit(lambda w: w.work(1)) == 2


async def test_ordinary_errors_do_not_replace() -> None:
    pool, _ = make_pool(1)

    async def boom(w: FakeWorker) -> int:
        raise ValueError("bad input")

    with pytest.raises(ValueError):
        await pool.submit(boom)
    assert pool.replaced == 0 and pool.in_flight == 0


async def test_cancelled_job_frees_its_slot() -> None:
    pool, workers = make_pool(1, per_worker=1)
    workers[0].gate = asyncio.Event()
    t = asyncio.create_task(pool.submit(lambda w: w.work(1)))
    await asyncio.sleep(0)
    t.cancel()
    with pytest.raises(asyncio.CancelledError):
        await t
    assert pool.in_flight == 0
    await pool.close()
