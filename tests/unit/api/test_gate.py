"""The request gate: auth matrix, overload bound, deadline, and error mapping — without a server."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import grpc
import pytest

from engine.api.auth import Caller, TokenAuthority
from engine.api.gate import CallerLimiter, Limiter, server_stream, unary
from engine.api.status import field_violations
from engine.domain import Role
from engine.errors import NotFoundError, ValidationError

SECRET = "k" * 40
STORE_A = uuid.UUID("00000000-0000-4000-8000-00000000000a")
STORE_B = uuid.UUID("00000000-0000-4000-8000-00000000000b")


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str, trailing: Any) -> None:
        super().__init__(code, details)
        self.code = code
        self.details = details
        self.trailing = trailing


class FakeContext:
    """Just the ServicerContext surface the gate uses."""

    def __init__(self, metadata: list[tuple[str, str]], remaining: float | None = None) -> None:
        self._metadata = metadata
        self._remaining = remaining

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return self._metadata

    def time_remaining(self) -> float | None:
        return self._remaining

    async def abort(self, code: grpc.StatusCode, details: str, trailing: Any = ()) -> None:
        # grpc.aio rejects anything but a tuple of (key, value) pairs here (None included).
        assert isinstance(trailing, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in trailing)
        raise Aborted(code, details, trailing)


class Service:
    def __init__(self, limit: int = 4) -> None:
        self.authority = TokenAuthority(SECRET, "callengine")
        self.unary_limit = Limiter(limit, "requests")
        self.stream_limit = Limiter(limit, "streams")
        self.caller_streams = CallerLimiter(2, "streams")
        self.stream_max_seconds = 0.2
        self.release = asyncio.Event()
        self.entered = asyncio.Event()

    @unary
    async def ReadStore(self, request: uuid.UUID, caller: Caller) -> str:
        caller.require_store(request)
        return f"store {request} for {caller.subject}"

    @unary
    async def Blocking(self, request: None, caller: Caller) -> str:
        self.entered.set()
        await self.release.wait()
        return "done"

    @unary
    async def Fails(self, request: Exception, caller: Caller) -> str:
        raise request

    @server_stream
    async def Endless(self, request: None, caller: Caller) -> Any:
        yield 0
        self.entered.set()
        await self.release.wait()
        yield 1

    @server_stream
    async def Stream(self, request: int, caller: Caller) -> Any:
        for i in range(request):
            yield i
        raise NotFoundError("gone")


def meta(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


@pytest.fixture
def svc() -> Service:
    return Service()


def tokens(svc: Service) -> dict[str, list[tuple[str, str]]]:
    a = svc.authority
    return {
        "none": [],
        "bad_signature": meta(TokenAuthority("z" * 40, "callengine").mint("x", Role.ADMIN)),
        "expired": meta(a.mint("x", Role.ADMIN, ttl_seconds=1, now=time.time() - 100)),
        "owner_a": meta(a.mint("owner-a", Role.STORE_OWNER, [STORE_A])),
        "owner_b": meta(a.mint("owner-b", Role.STORE_OWNER, [STORE_B])),
        "admin": meta(a.mint("admin", Role.ADMIN)),
        "service": meta(a.mint("svc", Role.SERVICE)),
    }


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("none", grpc.StatusCode.UNAUTHENTICATED),
        ("bad_signature", grpc.StatusCode.UNAUTHENTICATED),
        ("expired", grpc.StatusCode.UNAUTHENTICATED),
        ("owner_b", grpc.StatusCode.PERMISSION_DENIED),
        ("owner_a", grpc.StatusCode.OK),
        ("admin", grpc.StatusCode.OK),
        ("service", grpc.StatusCode.OK),
    ],
)
async def test_auth_matrix(svc: Service, who: str, expected: grpc.StatusCode) -> None:
    ctx = FakeContext(tokens(svc)[who])
    if expected is grpc.StatusCode.OK:
        assert (await svc.ReadStore(STORE_A, ctx)).startswith(f"store {STORE_A}")
    else:
        with pytest.raises(Aborted) as info:
            await svc.ReadStore(STORE_A, ctx)
        assert info.value.code is expected


async def test_overload_is_resource_exhausted_and_recovers(svc: Service) -> None:
    admin = tokens(svc)["admin"]
    small = Service(limit=1)
    small.authority = svc.authority
    first = asyncio.create_task(small.Blocking(None, FakeContext(admin)))
    await asyncio.wait_for(small.entered.wait(), 5)
    with pytest.raises(Aborted) as info:
        await small.ReadStore(STORE_A, FakeContext(admin))
    assert info.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    small.release.set()
    assert await asyncio.wait_for(first, 5) == "done"
    assert small.unary_limit.in_flight == 0
    assert (await small.ReadStore(STORE_A, FakeContext(admin))).startswith("store")


async def test_deadline_is_honoured(svc: Service) -> None:
    with pytest.raises(Aborted) as info:
        await asyncio.wait_for(svc.Blocking(None, FakeContext(tokens(svc)["admin"], remaining=0.05)), 5)
    assert info.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert svc.unary_limit.in_flight == 0


async def test_validation_error_carries_field(svc: Service) -> None:
    with pytest.raises(Aborted) as info:
        await svc.Fails(ValidationError("phone_number", "not E.164"), FakeContext(tokens(svc)["admin"]))
    assert info.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(info.value.trailing) == [("phone_number", "not E.164")]


async def test_bug_is_internal_without_details(svc: Service) -> None:
    with pytest.raises(Aborted) as info:
        await svc.Fails(KeyError("+46701234567"), FakeContext(tokens(svc)["admin"]))
    assert info.value.code is grpc.StatusCode.INTERNAL and "4670" not in info.value.details


async def test_stream_yields_then_maps_error(svc: Service) -> None:
    got: list[int] = []
    with pytest.raises(Aborted) as info:
        async for item in svc.Stream(3, FakeContext(tokens(svc)["owner_a"])):
            got.append(item)
    assert got == [0, 1, 2] and info.value.code is grpc.StatusCode.NOT_FOUND
    assert svc.stream_limit.in_flight == 0


async def test_stream_requires_auth(svc: Service) -> None:
    with pytest.raises(Aborted) as info:
        async for _ in svc.Stream(3, FakeContext([])):
            pass
    assert info.value.code is grpc.StatusCode.UNAUTHENTICATED


async def test_streams_per_caller_are_capped(svc: Service) -> None:
    svc.stream_max_seconds = 60.0
    ctx = FakeContext(tokens(svc)["owner_a"])
    held = [svc.Endless(None, ctx), svc.Endless(None, ctx)]
    for stream in held:
        assert await anext(stream) == 0  # open: counted for this caller
    with pytest.raises(Aborted) as info:
        await anext(svc.Endless(None, ctx))
    assert info.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    other = svc.Endless(None, FakeContext(tokens(svc)["admin"]))
    assert await anext(other) == 0  # another caller still gets a stream
    for stream in [*held, other]:
        await stream.aclose()
    assert svc.caller_streams.open == {} and svc.stream_limit.in_flight == 0


async def test_stream_ends_at_the_servers_maximum_duration(svc: Service) -> None:
    got: list[int] = []
    with pytest.raises(Aborted) as info:
        async for item in svc.Endless(None, FakeContext(tokens(svc)["admin"])):  # no client deadline
            got.append(item)
    assert got == [0] and info.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert svc.caller_streams.open == {}
