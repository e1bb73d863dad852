"""DispatchCall's statement on a few raw psycopg connections (autocommit, server-side prepared).

DispatchCall is one statement (``dispatch_session``) that sets its principal itself, so it
needs neither a transaction nor the ORM. Through SQLAlchemy's pool it cost ~1.5 ms of
Python per call under concurrency (checkout with a pre-ping round trip, switching the
connection to autocommit and back, greenlet hops, result processing); here it is one
prepared execute on a connection that stays in autocommit (measured in
docs/benchmarks.md, "gRPC front door").

Connections are opened on demand up to ``size`` and kept. A connection found broken is
dropped and the statement is run once more on a fresh one: after a server restart the
first use of each old connection fails that way, which SQLAlchemy's pre-ping hides.
Repeating the statement is safe because it is idempotent per verification (a second run
returns the session the first one created, as ``existing``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg import sql

from engine.errors import UnavailableError


class DispatchPool:
    def __init__(
        self, conninfo: str, *, size: int, options: str, connect_timeout: int, wait_s: float
    ) -> None:
        self._conninfo = conninfo
        self._options = options
        self._connect_timeout = connect_timeout
        self._wait_s = wait_s
        self._size = max(1, size)
        self._idle: asyncio.Queue[psycopg.AsyncConnection[Any] | None] = asyncio.Queue()
        self._open = 0
        """Slots taken: open connections plus ``None`` tokens of dropped ones (at most ``size``)."""
        self._closed = False
        self._closing: set[asyncio.Task[None]] = set()

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self._conninfo,
            autocommit=True,
            prepare_threshold=0,  # prepared from the first execute: parse and plan once
            connect_timeout=self._connect_timeout,
            options=self._options,
        )

    async def _acquire(self) -> psycopg.AsyncConnection[Any]:
        if self._closed:
            raise UnavailableError("database is closed")
        conn: psycopg.AsyncConnection[Any] | None
        if not self._idle.empty():
            conn = self._idle.get_nowait()
        elif self._open < self._size:
            conn = None
            self._open += 1
        else:
            try:
                async with asyncio.timeout(self._wait_s):
                    conn = await self._idle.get()
            except TimeoutError as exc:
                raise UnavailableError("no database connection free for dispatch") from exc
        if conn is None:  # a free slot (never opened, or its connection was dropped)
            try:
                conn = await self._connect()
            except BaseException:
                self._idle.put_nowait(None)
                raise
        return conn

    def _release(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if conn.closed or conn.broken or self._closed:
            # The slot stays counted; None in the queue means "open a new connection".
            self._idle.put_nowait(None)
            if not conn.closed:
                task = asyncio.get_running_loop().create_task(conn.close())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
            return
        self._idle.put_nowait(conn)

    async def fetch_one(self, statement: sql.Composable | str, params: dict[str, Any]) -> tuple[Any, ...]:
        """Run the statement and return its one row; psycopg errors propagate (translated by the caller)."""
        for attempt in (1, 2):
            conn = await self._acquire()
            try:
                cur = await conn.execute(statement, params)  # type: ignore[arg-type]
                row = await cur.fetchone()
            except psycopg.OperationalError:
                if attempt == 1 and conn.broken:
                    continue  # released as broken below, then once more on a fresh connection
                raise
            finally:
                self._release(conn)
            if row is None:
                raise UnavailableError("dispatch statement returned no row")
            return row
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        self._closed = True
        while not self._idle.empty():
            conn = self._idle.get_nowait()
            if conn is not None:
                await conn.close()
        if self._closing:
            await asyncio.wait(self._closing, timeout=2.0)
