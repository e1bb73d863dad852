"""The per-request gate every RPC passes: overload limit, authentication, deadline, error mapping.

Handlers are written as ``async def op(self, request, caller) -> response``
(or an async generator for server streams) and wrapped with :func:`unary` /
:func:`server_stream`. All exceptions leave through :func:`engine.api.status.to_rpc_status`
here and nowhere else. Log lines carry the method, the status code and the
duration, never request contents.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

import grpc

from engine.api.auth import Caller, TokenAuthority
from engine.api.status import RpcStatus, to_rpc_status
from engine.errors import ResourceExhaustedError

log = logging.getLogger("engine.api")

Req = TypeVar("Req")
Resp = TypeVar("Resp")


class Limiter:
    """A bounded count of requests in flight; over the bound → RESOURCE_EXHAUSTED at once."""

    def __init__(self, limit: int, what: str) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit
        self.what = what
        self.in_flight = 0

    def acquire(self) -> None:
        if self.in_flight >= self.limit:
            raise ResourceExhaustedError(f"server busy: {self.in_flight} {self.what} in flight; retry later")
        self.in_flight += 1

    def release(self) -> None:
        self.in_flight -= 1


class Gated(Protocol):
    """What a servicer offers the gate."""

    authority: TokenAuthority
    unary_limit: Limiter
    stream_limit: Limiter


async def _abort(
    context: grpc.aio.ServicerContext[Any, Any], method: str, status: RpcStatus, started: float
) -> None:
    elapsed_ms = (time.perf_counter() - started) * 1000
    level = logging.ERROR if status.code is grpc.StatusCode.INTERNAL else logging.INFO
    log.log(level, "rpc %s -> %s (%.1f ms)", method, status.code.name, elapsed_ms)
    await context.abort(status.code, status.message, status.trailing_metadata)


def _log_unexpected(method: str, exc: BaseException) -> None:
    # Only type and traceback; messages of driver errors may quote parameters.
    log.error(
        "rpc %s failed with %s", method, type(exc).__name__, exc_info=(type(exc), exc, exc.__traceback__)
    )


def _deadline(context: grpc.aio.ServicerContext[Any, Any]) -> float | None:
    remaining = context.time_remaining()
    return None if remaining is None else max(0.0, remaining)


def unary(
    fn: Callable[[Any, Req, Caller], Awaitable[Resp]],
) -> Callable[[Any, Req, grpc.aio.ServicerContext[Any, Any]], Awaitable[Resp]]:
    method = fn.__name__

    @functools.wraps(fn)
    async def handler(self: Gated, request: Req, context: grpc.aio.ServicerContext[Any, Any]) -> Resp:
        started = time.perf_counter()
        status: RpcStatus | None = None
        acquired = False
        try:
            self.unary_limit.acquire()
            acquired = True
            caller = self.authority.caller_from_metadata(context.invocation_metadata())
            async with asyncio.timeout(_deadline(context)):
                result = await fn(self, request, caller)
            if log.isEnabledFor(logging.DEBUG):
                log.debug("rpc %s -> OK (%.1f ms)", method, (time.perf_counter() - started) * 1000)
            return result
        except Exception as exc:
            status = to_rpc_status(exc)
            if status.code is grpc.StatusCode.INTERNAL:
                _log_unexpected(method, exc)
        finally:
            if acquired:
                self.unary_limit.release()
        await _abort(context, method, status, started)
        raise AssertionError("unreachable: abort raises")  # pragma: no cover

    return handler


def server_stream(
    fn: Callable[[Any, Req, Caller], AsyncIterator[Resp]],
) -> Callable[[Any, Req, grpc.aio.ServicerContext[Any, Any]], AsyncIterator[Resp]]:
    method = fn.__name__

    @functools.wraps(fn)
    async def handler(
        self: Gated, request: Req, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Resp]:
        started = time.perf_counter()
        status: RpcStatus | None = None
        acquired = False
        try:
            self.stream_limit.acquire()
            acquired = True
            caller = self.authority.caller_from_metadata(context.invocation_metadata())
            async with asyncio.timeout(_deadline(context)):
                async for item in fn(self, request, caller):
                    yield item
            return
        except Exception as exc:
            status = to_rpc_status(exc)
            if status.code is grpc.StatusCode.INTERNAL:
                _log_unexpected(method, exc)
        finally:
            if acquired:
                self.stream_limit.release()
        await _abort(context, method, status, started)

    return handler
