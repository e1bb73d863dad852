"""The REST side of the OpenAI emulator: chat completions mounted at /v1, auth, injected HTTP faults."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from engine.emulators.openai import OpenAIEmulator, OpenAIEmulatorOptions

pytestmark = pytest.mark.timeout(20)

MESSAGES = [{"role": "user", "content": "Hej"}]


@pytest.fixture
async def emulator() -> AsyncIterator[OpenAIEmulator]:
    async with OpenAIEmulator(OpenAIEmulatorOptions(speed=100)) as emu:
        yield emu


@pytest.fixture
async def client(emulator: OpenAIEmulator) -> AsyncIterator[AsyncOpenAI]:
    client = AsyncOpenAI(base_url=emulator.base_url, api_key=emulator.api_key, max_retries=0)
    yield client
    await client.close()


async def test_chat_completion_through_the_sdk(client: AsyncOpenAI, emulator: OpenAIEmulator) -> None:
    completion = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert emulator.chat_requests == 1


async def test_wrong_api_key_is_401(emulator: OpenAIEmulator) -> None:
    client = AsyncOpenAI(base_url=emulator.base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.code == "invalid_api_key"
    await client.close()


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, openai.InternalServerError), (503, openai.InternalServerError), (429, openai.RateLimitError)],
)
async def test_injected_error_burst(
    client: AsyncOpenAI, emulator: OpenAIEmulator, status: int, error: type[Exception]
) -> None:
    emulator.faults.http.error_status = status
    emulator.faults.http.errors_remaining = 2
    for _ in range(2):
        with pytest.raises(error):
            await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    completion = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    assert completion.choices


async def test_sdk_retries_through_a_short_burst(emulator: OpenAIEmulator) -> None:
    emulator.faults.http.error_status = 429
    emulator.faults.http.errors_remaining = 1
    client = AsyncOpenAI(base_url=emulator.base_url, api_key=emulator.api_key, max_retries=2)
    completion = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    assert completion.choices
    await client.close()


async def test_unknown_path_and_bad_json(emulator: OpenAIEmulator) -> None:
    headers = {"Authorization": f"Bearer {emulator.api_key}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=emulator.base_url, headers=headers) as http:
        missing = await http.post("/embeddings", json={})
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "unknown_url"
        bad = await http.post("/chat/completions", content=b"{not json")
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "invalid_json"


async def test_realtime_handshake_without_model_is_400(emulator: OpenAIEmulator) -> None:
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    async with httpx.AsyncClient(base_url=emulator.base_url, headers=headers) as http:
        response = await http.get("/realtime")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"
