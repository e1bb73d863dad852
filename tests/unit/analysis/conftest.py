"""Fixtures for analysis unit tests: the chat emulator behind a tiny aiohttp app on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web

from engine.emulators.chat import ChatCompletionsEmulator


@dataclass
class ChatServer:
    emulator: ChatCompletionsEmulator
    base_url: str


async def _start(emulator: ChatCompletionsEmulator) -> tuple[web.AppRunner, str]:
    async def completions(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            body = None
        status, payload = await emulator.handle(body)
        return web.json_response(payload, status=status)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/v1"


@pytest.fixture
async def chat_server() -> AsyncIterator[ChatServer]:
    emulator = ChatCompletionsEmulator()
    runner, url = await _start(emulator)
    try:
        yield ChatServer(emulator, url)
    finally:
        await runner.cleanup()
