"""The picows Realtime socket and the media socket's synchronous send (loopback sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from engine.realtime.fastws import FastSocket, connect_fast
from engine.session.media_socket import AiohttpMediaSocket


@asynccontextmanager
async def _server(handler: Callable[[ServerConnection], Awaitable[None]]) -> AsyncIterator[str]:
    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1/realtime?model=m"


async def _open(url: str) -> FastSocket:
    return await connect_fast(url, {"Authorization": "Bearer x"}, open_timeout=5, max_message_bytes=1 << 20)


async def test_messages_in_order_fragments_joined_and_a_normal_close_ends_iteration() -> None:
    seen_headers: dict[str, str] = {}

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        seen_headers["auth"] = ws.request.headers.get("Authorization", "")
        await ws.send("one")
        await ws.send(["fr", "ag", "ment"])  # one message in three frames
        await ws.send('{"type":"x"}')
        assert await ws.recv() == "from client"
        await ws.close(1000)

    async with _server(handler) as url:
        sock = await _open(url)
        await sock.send("from client")
        got = [bytes(m) async for m in sock]
    assert got == [b"one", b"fragment", b'{"type":"x"}']
    assert sock.close_code == 1000
    assert seen_headers["auth"] == "Bearer x"
    with pytest.raises(ConnectionClosed):
        await sock.send("after close")


async def test_push_mode_declined_message_is_pulled_in_order_and_errors_surface() -> None:
    release = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        assert await ws.recv() == "go"
        for i in range(5):
            await ws.send(f"m{i}")
        await release.wait()
        await ws.send("boom")
        await ws.wait_closed()

    async with _server(handler) as url:
        sock = await _open(url)
        pushed: list[bytes] = []
        release_on_failure = asyncio.get_running_loop().call_later(10, release.set)

        def push(raw: bytes) -> bool:
            if raw == b"boom":
                raise RuntimeError("handler failed")
            if raw == b"m2":
                return False  # busy: the reader takes it (and what follows) by pulling
            pushed.append(raw)
            return True

        sock.on_message = push
        await sock.send("go")
        assert await sock.recv() == b"m2"
        assert sock.on_message is None  # switched off until the consumer catches up
        rest = [await sock.recv() for _ in range(2)]  # so what follows is queued, in order
        assert pushed == [b"m0", b"m1"] and rest == [b"m3", b"m4"]
        sock.on_message = push
        release.set()
        try:
            with pytest.raises(RuntimeError, match="handler failed"):
                await asyncio.wait_for(sock.recv(), 5)
        finally:
            release_on_failure.cancel()
            await sock.close()


async def test_abnormal_close_raises() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.close(1011, "oops")

    async with _server(handler) as url:
        sock = await _open(url)
        with pytest.raises(ConnectionClosedError):
            async for _ in sock:
                pass
    assert sock.close_code == 1011


async def test_unreachable_raises_os_error() -> None:
    with pytest.raises(OSError):
        await _open("ws://127.0.0.1:1/v1/realtime")


async def test_media_socket_send_now_writes_whole_frames_of_every_length() -> None:
    sizes = [0, 10, 125, 126, 400, 65535, 65536, 70_000]
    done = asyncio.Event()

    async def media(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        sock = AiohttpMediaSocket(ws, request.transport)  # type: ignore[arg-type]
        for n in sizes:
            if not sock.send_now("x" * n):
                await sock.send("x" * n)  # over the high-water mark: the awaited path
        msg = await ws.receive()
        assert msg.type is WSMsgType.TEXT and msg.data == "bye"
        await ws.close()
        done.set()
        return ws

    app = web.Application()
    app.router.add_get("/media", media)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with connect(f"ws://127.0.0.1:{port}/media", max_size=None) as client:
            got: list[Any] = [await client.recv() for _ in sizes]
            await client.send("bye")
            await asyncio.wait_for(done.wait(), 5)
        assert [len(m) for m in got] == sizes and all(set(m) <= {"x"} for m in got)
    finally:
        await runner.cleanup()


async def test_media_socket_send_now_declines_without_a_transport_or_when_closed() -> None:
    class _Ws:
        closed = True

    assert AiohttpMediaSocket(_Ws(), None).send_now("x") is False  # type: ignore[arg-type]
