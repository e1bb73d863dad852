"""The client interceptor retries UNAVAILABLE (only) on a virtual clock, against a real loopback server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from engine.api.retry import RetryUnavailable


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


class Flaky:
    """Answers ``code`` the first ``failures`` times, then echoes the request."""

    def __init__(self) -> None:
        self.failures = 0
        self.code = grpc.StatusCode.UNAVAILABLE
        self.calls = 0

    async def handle(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        self.calls += 1
        if self.calls <= self.failures:
            await context.abort(self.code, "database unavailable (OperationalError)")
        return request


@pytest.fixture
async def server() -> AsyncIterator[tuple[Flaky, str]]:
    flaky = Flaky()
    handler = grpc.method_handlers_generic_handler(
        "t.Svc", {"Echo": grpc.unary_unary_rpc_method_handler(flaky.handle)}
    )
    srv = grpc.aio.server()
    srv.add_generic_rpc_handlers((handler,))
    port = srv.add_insecure_port("127.0.0.1:0")
    await srv.start()
    yield flaky, f"127.0.0.1:{port}"
    await srv.stop(None)


async def _echo(address: str, interceptor: RetryUnavailable) -> bytes:
    async with grpc.aio.insecure_channel(address, interceptors=[interceptor]) as channel:
        reply: bytes = await channel.unary_unary("/t.Svc/Echo")(b"hej")
        return reply


async def test_unavailable_is_retried_with_backoff_until_it_answers(server: tuple[Flaky, str]) -> None:
    flaky, address = server
    flaky.failures = 5
    vt = VirtualTime()
    seen: list[tuple[str, str]] = []
    retry = RetryUnavailable(
        60.0, sleep=vt.sleep, monotonic=vt.monotonic, on_retry=lambda m, d: seen.append((m, d))
    )
    assert await _echo(address, retry) == b"hej"
    assert flaky.calls == 6
    assert vt.slept == [0.25, 0.5, 1.0, 2.0, 2.0], "doubling, capped at 2 s"
    assert seen[0] == ("Echo", "database unavailable (OperationalError)") and len(seen) == 5


async def test_patience_runs_out_and_the_last_error_is_raised(server: tuple[Flaky, str]) -> None:
    flaky, address = server
    flaky.failures = 1000
    vt = VirtualTime()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _echo(address, RetryUnavailable(5.0, sleep=vt.sleep, monotonic=vt.monotonic))
    assert err.value.code() is grpc.StatusCode.UNAVAILABLE
    assert sum(vt.slept) <= 5.0 and vt.slept == [0.25, 0.5, 1.0, 2.0]
    assert flaky.calls == 5


async def test_other_errors_are_not_retried(server: tuple[Flaky, str]) -> None:
    flaky, address = server
    flaky.failures, flaky.code = 3, grpc.StatusCode.INVALID_ARGUMENT
    vt = VirtualTime()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _echo(address, RetryUnavailable(60.0, sleep=vt.sleep, monotonic=vt.monotonic))
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert flaky.calls == 1 and vt.slept == []
