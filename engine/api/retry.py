"""A client-side interceptor that rides out a short outage behind the front door.

The front door answers ``UNAVAILABLE`` while PostgreSQL is unreachable (the transaction did not
commit; nothing was stored) or while an ingress actor restarts. gRPC's own retry policy gives up
after a few seconds at most; a backend that polls or dispatches should instead retry unary calls
for as long as it is prepared to wait. The unary RPCs of ``callengine.v1`` may be retried:
reads trivially; DispatchCall is idempotent per verification, SettleRewards per settlement id,
PutStore and PutVerification by their ids (a PutBusinessContext retried without
``expected_version`` may store the same context as one more version). The demo's client uses
this, as a backend would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

Sleep = Callable[[float], Awaitable[None]]


class RetryUnavailable(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Retry a unary call answered ``UNAVAILABLE``, backing off 0.25 s → 2 s, for up to
    ``patience_s`` seconds in all; any other status (or the patience spent) is raised as is."""

    def __init__(
        self,
        patience_s: float = 60.0,
        *,
        on_retry: Callable[[str, str], None] | None = None,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.patience_s = patience_s
        self.on_retry = on_retry
        self._sleep = sleep
        self._monotonic = monotonic

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        deadline = self._monotonic() + self.patience_s
        delay = 0.25
        while True:
            call = await continuation(client_call_details, request)
            try:
                await call
                return call
            except grpc.aio.AioRpcError as exc:
                if exc.code() is not grpc.StatusCode.UNAVAILABLE or self._monotonic() + delay > deadline:
                    raise
                if self.on_retry is not None:
                    method = client_call_details.method
                    name = method.decode() if isinstance(method, bytes) else str(method)
                    self.on_retry(name.rsplit("/", 1)[-1], exc.details() or "")
            await self._sleep(delay)
            delay = min(delay * 2, 2.0)
