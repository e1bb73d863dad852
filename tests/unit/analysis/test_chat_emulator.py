"""The chat-completions emulator through the real openai SDK (create + parse, strict schemas, faults)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import openai
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.analysis import llm as analysis_llm
from engine.emulators import chat
from tests.unit.analysis.conftest import ChatServer
from tests.unit.analysis.samples import DETAILED, GENERIC, profile, transcript


class Intent(pydantic.BaseModel):
    intent: str
    confidence: float
    slots: list[str]


class Address(pydantic.BaseModel):
    street: str
    zip_code: int | None


class Order(pydantic.BaseModel):
    kind: str
    addresses: list[Address]
    urgent: bool


def client(server: ChatServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="x", base_url=server.base_url, max_retries=0)


def test_markers_match_the_analysis_prompts() -> None:
    assert chat.CONTEXT_MARK == analysis_llm.CONTEXT_MARK
    assert chat.TRANSCRIPT_MARK == analysis_llm.TRANSCRIPT_MARK
    assert chat.STATS_MARK == analysis_llm.STATS_MARK
    assert chat.END_MARK == analysis_llm.END_MARK


async def test_create_with_strict_json_schema_returns_valid_instance(chat_server: ChatServer) -> None:
    schema = {
        "type": "object",
        "properties": {
            "intent": {"type": "string"},
            "n": {"type": "integer"},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "maybe": {"anyOf": [{"type": "number"}, {"type": "null"}]},
        },
        "required": ["intent", "n", "mode", "tags", "maybe"],
        "additionalProperties": False,
    }
    completion = await client(chat_server).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "Anything", "strict": True, "schema": schema},
        },
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens > 0
    content = completion.choices[0].message.content
    assert content is not None
    jsonschema.validate(json.loads(content), schema)
    assert "stream" not in chat_server.emulator.requests[-1]


async def test_parse_with_nested_pydantic_model(chat_server: ChatServer) -> None:
    completion = await client(chat_server).chat.completions.parse(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "order"}], response_format=Order
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Order) and len(parsed.addresses) == 1
    body = chat_server.emulator.requests[-1]
    assert body["stream"] is False and body["response_format"]["json_schema"]["name"] == "Order"


async def test_own_assessment_schema_scores_detail_higher(chat_server: ChatServer) -> None:
    c = client(chat_server)

    async def assess(answers: tuple[str, ...]) -> analysis_llm.CallAssessment:
        prompt = analysis_llm.call_prompt(transcript(answers), profile(), 6000)
        completion = await c.chat.completions.parse(
            model="gpt-4o-mini",
            messages=[{"role": "system", "content": "x"}, {"role": "user", "content": prompt}],
            response_format=analysis_llm.CallAssessment,
        )
        parsed = completion.choices[0].message.parsed
        assert parsed is not None
        return parsed

    detailed, generic = await assess(DETAILED), await assess(GENERIC)
    assert detailed.depth > generic.depth + 0.3
    assert detailed.usefulness > generic.usefulness
    assert detailed.legitimacy > generic.legitimacy
    assert any(i.department == "Kassa" for i in detailed.actionable_items)
    assert all(0.0 <= v <= 1.0 for v in (detailed.depth, detailed.usefulness, detailed.legitimacy))
    again = await assess(DETAILED)
    assert again == detailed  # deterministic


async def test_content_fraud_schema_flags_generic(chat_server: ChatServer) -> None:
    c = client(chat_server)
    prompt = analysis_llm.call_prompt(transcript(GENERIC), profile(), 6000)
    completion = await c.chat.completions.parse(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": prompt}],
        response_format=analysis_llm.ContentFraudCheck,
    )
    parsed = completion.choices[0].message.parsed
    assert parsed is not None and parsed.is_suspicious and "generic answers" in parsed.indicators


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        (
            {
                "model": "m",
                "messages": [{"role": "user", "content": "x"}],
                "response_format": {"type": "xml"},
            },
            "response_format.type",
        ),
    ],
)
async def test_bad_requests_get_400_with_openai_error_shape(body: dict[str, object], param: str) -> None:
    status, payload = await chat.ChatCompletionsEmulator().handle(body)
    assert status == 400
    assert payload["error"]["type"] == "invalid_request_error" and payload["error"]["param"] == param


async def test_non_strict_compatible_schema_is_rejected_through_sdk(chat_server: ChatServer) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": []}
    with pytest.raises(openai.BadRequestError) as info:
        await client(chat_server).chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "x"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "Bad", "strict": True, "schema": schema},
            },
        )
    assert info.value.status_code == 400 and "additionalProperties" in str(info.value)


async def test_error_bursts_then_recovery(chat_server: ChatServer) -> None:
    chat_server.emulator.inject_burst(429, 1)
    c = client(chat_server)
    with pytest.raises(openai.RateLimitError):
        await c.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    chat_server.emulator.inject_burst(500, 1)
    with pytest.raises(openai.InternalServerError):
        await c.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    ok = await c.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert ok.choices[0].message.content


async def test_latency_uses_injected_sleep() -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    emulator = chat.ChatCompletionsEmulator(chat.ChatFaults(latency_seconds=0.25), sleep=fake_sleep)
    status, _ = await emulator.handle({"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert status == 200 and slept == [0.25]


def test_generic_instances_validate_against_their_schemas() -> None:
    for model in (Intent, Order, analysis_llm.CallAssessment, analysis_llm.WeeklyThemes):
        schema = model.model_json_schema()
        model.model_validate(chat.instance_of(schema, schema))


class GetWeather(pydantic.BaseModel):
    city: str
    days: int


async def test_strict_function_tool_is_called_and_parsed(chat_server: ChatServer) -> None:
    c = client(chat_server)
    completion = await c.chat.completions.parse(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Vädret i Solna?"}],
        tools=[openai.pydantic_function_tool(GetWeather)],
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    call = choice.message.tool_calls[0]
    assert call.function.name == "GetWeather" and isinstance(call.function.parsed_arguments, GetWeather)
    # after the tool result, the model answers in text
    follow = await c.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "user", "content": "Vädret i Solna?"},
            {
                "role": "assistant",
                "tool_calls": [call.model_dump(exclude={"function": {"parsed_arguments"}})],
            },
            {"role": "tool", "tool_call_id": call.id, "content": "sol"},
        ],
        tools=[openai.pydantic_function_tool(GetWeather)],
    )
    assert follow.choices[0].finish_reason == "stop" and follow.choices[0].message.content


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=10,
)
_schema_names = st.sampled_from(["CallAssessment", "ContentFraudCheck", "WeeklyThemes", "Other"])


@settings(max_examples=150, deadline=None)
@given(_json, _schema_names, _json, st.text(max_size=80))
async def test_any_body_gets_200_or_400_never_an_exception(
    junk: Any, name: str, schema: Any, prompt: str
) -> None:
    emulator = chat.ChatCompletionsEmulator()
    bodies = [
        junk,
        {"model": "m", "messages": junk},
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": f"### BUTIK\n{json.dumps(junk)}\n### SAMTAL\nKUND: {prompt}"}
            ],
            "response_format": {"type": "json_schema", "json_schema": {"name": name, "schema": schema}},
        },
        {"model": "m", "messages": [{"role": "user", "content": prompt}], "tools": junk, "tool_choice": junk},
    ]
    for body in bodies:
        status, payload = await emulator.handle(body)
        assert status in (200, 400)
        assert ("error" in payload) == (status == 400)
