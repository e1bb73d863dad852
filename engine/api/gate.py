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
from google.protobuf.message import Message

from engine.api.auth import Caller, TokenAuthority
from engine.api.status import FieldViolations, RpcStatus, to_rpc_status
from engine.api.strings import string_violations
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


class CallerLimiter:
    """Open streams per token subject: one caller cannot hold every stream slot."""

    def __init__(self, per_caller: int, what: str) -> None:
        if per_caller < 1:
            raise ValueError("per_caller must be >= 1")
        self.per_caller = per_caller
        self.what = what
        self.open: dict[str, int] = {}

    def acquire(self, subject: str) -> None:
        count = self.open.get(subject, 0)
        if count >= self.per_caller:
            raise ResourceExhaustedError(f"{count} {self.what} already open for this caller; close one first")
        self.open[subject] = count + 1

    def release(self, subject: str) -> None:
        count = self.open.get(subject, 0) - 1
        if count > 0:
            self.open[subject] = count
        else:
            self.open.pop(subject, None)


class Gated(Protocol):
    """What a servicer offers the gate."""

    authority: TokenAuthority
    unary_limit: Limiter
    stream_limit: Limiter
    caller_streams: CallerLimiter
    stream_max_seconds: float


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


def _check_strings(request: object) -> None:
    """NUL characters or over-long strings anywhere in the request → INVALID_ARGUMENT naming the field."""
    if isinstance(request, Message):
        violations = string_violations(request)
        if violations:
            raise FieldViolations(violations)


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
            _check_strings(request)
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
        subject: str | None = None
        try:
            self.stream_limit.acquire()
            acquired = True
            caller = self.authority.caller_from_metadata(context.invocation_metadata())
            _check_strings(request)
            self.caller_streams.acquire(caller.subject)
            subject = caller.subject
            # The server's own bound: a stream ends at the client's deadline or ours, whichever is first.
            client = _deadline(context)
            limit = self.stream_max_seconds if client is None else min(client, self.stream_max_seconds)
            async with asyncio.timeout(limit):
                async for item in fn(self, request, caller):
                    yield item
            return
        except Exception as exc:
            status = to_rpc_status(exc)
            if status.code is grpc.StatusCode.INTERNAL:
                _log_unexpected(method, exc)
        finally:
            if subject is not None:
                self.caller_streams.release(subject)
            if acquired:
                self.stream_limit.release()
        await _abort(context, method, status, started)

    return handler
