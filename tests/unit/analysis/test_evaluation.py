"""Precision/recall on the emulator's default scenario set (numbers recorded in docs/analysis.md)."""

from __future__ import annotations

import openai

from engine.analysis.config import LLMConfig
from engine.analysis.evaluation import EXPECTED_CHECK, evaluate
from engine.analysis.llm import OpenAIStructuredLLM
from engine.emulators.scenarios.loader import default_scenarios
from tests.unit.analysis.conftest import ChatServer


def _assert_targets(summary: dict[str, object]) -> None:
    assert summary["fraud_personas"] == len(EXPECTED_CHECK)
    assert summary["missed"] == []  # every planted fraud flagged by the right check type
    assert summary["honest_fraudulent"] == []  # no honest persona judged fraudulent
    assert summary["recall_right_check"] == 1.0


async def test_rules_only() -> None:
    ev = await evaluate(default_scenarios(), None)
    summary = ev.summary()
    _assert_targets(summary)
    assert summary["precision_fraudulent"] == 1.0


async def test_with_emulated_llm(chat_server: ChatServer) -> None:
    client = openai.AsyncOpenAI(api_key="x", base_url=chat_server.base_url, max_retries=0)
    llm = OpenAIStructuredLLM(client, "gpt-4o-mini", LLMConfig())
    ev = await evaluate(default_scenarios(), llm)
    summary = ev.summary()
    _assert_targets(summary)
    assert summary["precision_fraudulent"] == 1.0
    assert len(chat_server.emulator.requests) == len(ev.calls)  # one content check per call
