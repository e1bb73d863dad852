"""The host's listener: mounted routes, a connection cap and a handshake timeout (loopback sockets)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp import web

from engine.errors import ResourceExhaustedError
from engine.session.listener import HostListener


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    async with asyncio.timeout(5.0):
        return await reader.read(1024) == b""


async def test_routes_cap_and_handshake_timeout() -> None:
    listener = HostListener(max_connections=2, handshake_timeout=0.3)
    listener.route("POST", "/hook/{name}", _ok)
    port = await listener.start("127.0.0.1", 0)
    try:
        # a mounted route answers a form POST
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"POST /hook/x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\na=b")
        await w.drain()
        assert (await r.read()).startswith(b"HTTP/1.1 200")
        w.close()
        # two idle connections fill the cap; a third is closed at once
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        extra_r, extra_w = await asyncio.open_connection("127.0.0.1", port)
        assert await _closed_by_server(extra_r)
        assert listener.rejected["connection_cap"] == 1
        # the idle ones never sent a request: closed after the handshake timeout, slots freed
        for reader, _ in idle:
            assert await _closed_by_server(reader)
        assert listener.rejected["handshake_timeout"] == 2
        for _, writer in [*idle, (extra_r, extra_w)]:
            writer.close()
    finally:
        await listener.stop()


async def test_a_trickled_request_is_cut_off() -> None:
    listener = HostListener(max_connections=10, handshake_timeout=0.3)
    listener.route("POST", "/hook/{name}", _ok)
    port = await listener.start("127.0.0.1", 0)
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"POST /hook/x HTTP/1.1\r\nHost: h\r\n")  # headers never finish
        await w.drain()
        assert await _closed_by_server(r)
        assert listener.rejected["handshake_timeout"] == 1
        w.close()
    finally:
        await listener.stop()


async def test_a_port_range_takes_the_first_free_port_and_says_when_none_is_left() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1]
    # ``base`` is held by another listener: the next port of the range is taken instead.
    first = HostListener(max_connections=10, handshake_timeout=1.0)
    assert await first.start("127.0.0.1", 0, ports=range(base, base + 1)) == base
    second = HostListener(max_connections=10, handshake_timeout=1.0)
    third = HostListener(max_connections=10, handshake_timeout=1.0)
    try:
        got = await second.start("127.0.0.1", 0, ports=range(base, base + 2))
        assert got == base + 1
        with pytest.raises(ResourceExhaustedError, match=f"no free port in {base}-{base + 1}"):
            await third.start("127.0.0.1", 0, ports=range(base, base + 2))
    finally:
        await second.stop()
        await first.stop()
