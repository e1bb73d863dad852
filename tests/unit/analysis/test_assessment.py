"""Quality assessment: LLM + rules, LLM failure → rules only, bad input handled explicitly."""

from __future__ import annotations

import datetime as dt
from typing import Any

import openai
import pydantic
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.analysis.assessment import assess_call
from engine.analysis.config import DEFAULT_CONFIG, LLMConfig
from engine.analysis.llm import OpenAIStructuredLLM, SchemaT
from engine.analysis.models import LLMCallInfo, TranscriptLine
from engine.domain import Speaker
from tests.unit.analysis.conftest import ChatServer
from tests.unit.analysis.samples import DETAILED, GENERIC, profile, transcript

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


class FakeLLM:
    """Answers with a fixed payload (validated by the schema) or fails with a reason."""

    model = "fake-model"

    def __init__(self, payload: dict[str, Any] | None, error: str = "RateLimitError") -> None:
        self.payload = payload
        self.error = error
        self.calls = 0

    async def complete(
        self, schema: type[SchemaT], system: str, user: str, prompt_version: str
    ) -> tuple[SchemaT | None, LLMCallInfo]:
        self.calls += 1
        if self.payload is None:
            return None, LLMCallInfo(self.model, prompt_version, 3, 1.0, error=self.error)
        return schema.model_validate(self.payload), LLMCallInfo(self.model, prompt_version, 1, 1.0)


def llm_answer(**over: Any) -> dict[str, Any]:
    base = {
        "legitimacy": 0.9,
        "depth": 0.8,
        "usefulness": 0.7,
        "summary": "Kunden beskrev kön i kassan.",
        "actionable_items": [
            {
                "topic": "kö",
                "sentiment": "negative",
                "suggestion": "Öppna fler kassor.",
                "department": "kassa",
                "priority": "high",
            },
            {
                "topic": "x",
                "sentiment": "negative",
                "suggestion": "y",
                "department": "Fiskdisk",
                "priority": "low",
            },
        ],
        "reasoning": "r",
    }
    return {**base, **over}


async def test_llm_and_rules_blend_into_scores() -> None:
    a = await assess_call(transcript(DETAILED), profile(), FakeLLM(llm_answer()), DEFAULT_CONFIG, now=NOW)
    md = a.analysis_metadata
    assert md.status == "scored" and not md.rules_only and md.model == "fake-model"
    assert md.prompt_version == "assessment-v1" and md.context_version == 3
    assert 0.5 < a.overall_quality_score <= 1.0 and 2.0 <= a.reward_percentage <= 15.0
    assert a.analysis_summary == "Kunden beskrev kön i kassan."
    deps = {i.department for i in a.business_actionable_items if i.source == "llm"}
    assert deps == {"Kassa", None}  # grounded to the profile's spelling; unknown department dropped


async def test_detailed_feedback_earns_more_than_generic() -> None:
    fake = None
    detailed = await assess_call(transcript(DETAILED), profile(), fake, DEFAULT_CONFIG, now=NOW)
    generic = await assess_call(transcript(GENERIC), profile(), fake, DEFAULT_CONFIG, now=NOW)
    assert detailed.depth_score > generic.depth_score
    assert detailed.reward_percentage > generic.reward_percentage
    assert generic.analysis_metadata.reasons == ["llm_disabled"]


async def test_llm_failure_gives_rules_only_assessment_marked_as_such() -> None:
    fake = FakeLLM(None)
    a = await assess_call(transcript(DETAILED), profile(), fake, DEFAULT_CONFIG, now=NOW)
    md = a.analysis_metadata
    assert md.rules_only and md.status == "scored"
    assert md.reasons == ["llm_failed:RateLimitError"] and md.llm is not None and md.llm.attempts == 3
    assert "Regelbaserad" in a.analysis_summary and a.depth_score > 0


async def test_empty_and_one_sided_transcripts_are_not_scored_by_the_llm() -> None:
    fake = FakeLLM(llm_answer())
    empty = await assess_call([], profile(), fake, DEFAULT_CONFIG, now=NOW)
    one_sided = await assess_call(
        [TranscriptLine(Speaker.AI, "Hej?", 0), TranscriptLine(Speaker.CUSTOMER, "  ", 1)],
        profile(),
        fake,
        DEFAULT_CONFIG,
        now=NOW,
    )
    assert fake.calls == 0
    assert empty.analysis_metadata.status == "insufficient_transcript"
    assert empty.analysis_metadata.reasons == ["empty_transcript"]
    assert one_sided.analysis_metadata.reasons == ["one_sided_transcript"]
    assert one_sided.overall_quality_score == 0.0 and one_sided.reward_percentage == 2.0


async def test_missing_context_is_recorded() -> None:
    a = await assess_call(transcript(DETAILED), None, None, DEFAULT_CONFIG, now=NOW)
    assert a.analysis_metadata.context_missing and "business_context_missing" in a.analysis_metadata.reasons
    assert a.analysis_metadata.context_version is None


async def test_sdk_retries_with_backoff_then_succeeds(chat_server: ChatServer) -> None:
    slept: list[float] = []

    async def fake_sleep(s: float) -> None:
        slept.append(s)

    client = openai.AsyncOpenAI(api_key="x", base_url=chat_server.base_url, max_retries=0)
    llm = OpenAIStructuredLLM(
        client, "gpt-4o-mini", LLMConfig(attempts=3, backoff_seconds=(0.5, 2.0)), sleep=fake_sleep
    )
    chat_server.emulator.inject_burst(500, 2)
    a = await assess_call(transcript(DETAILED), profile(), llm, DEFAULT_CONFIG, now=NOW)
    md = a.analysis_metadata
    assert slept == [0.5, 2.0]
    assert not md.rules_only and md.llm is not None and md.llm.attempts == 3
    assert md.llm.usage is not None and md.llm.usage.total_tokens > 0


async def test_sdk_failure_after_all_attempts_falls_back(chat_server: ChatServer) -> None:
    async def no_sleep(s: float) -> None:
        return None

    client = openai.AsyncOpenAI(api_key="x", base_url=chat_server.base_url, max_retries=0)
    llm = OpenAIStructuredLLM(client, "gpt-4o-mini", LLMConfig(attempts=3), sleep=no_sleep)
    chat_server.emulator.inject_burst(429, 5)
    a = await assess_call(transcript(DETAILED), profile(), llm, DEFAULT_CONFIG, now=NOW)
    assert a.analysis_metadata.rules_only
    assert a.analysis_metadata.reasons == ["llm_failed:RateLimitError"]
    assert chat_server.emulator.faults.burst_remaining == 2


async def test_malformed_answer_is_a_recorded_failure(chat_server: ChatServer) -> None:
    """The emulator answers a different schema's shape → pydantic error → rules only, reason recorded."""

    async def no_sleep(s: float) -> None:
        return None

    client = openai.AsyncOpenAI(api_key="x", base_url=chat_server.base_url, max_retries=0)
    llm = OpenAIStructuredLLM(client, "gpt-4o-mini", LLMConfig(attempts=2), sleep=no_sleep)

    class CallAssessment(pydantic.BaseModel):  # same name as ours, incompatible shape
        verdict: int

    parsed, info = await llm.complete(CallAssessment, "s", "u", "v")
    assert parsed is None and info.error == "malformed_answer:ValidationError" and info.attempts == 2


_words = st.sampled_from(
    "bra dålig kö kassan frukt bageriet mejeri kaffe klockan 17.30 personalen trevlig slut dyrt vet inte ja nej och".split()
)
_answer = st.lists(_words, max_size=25).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(_answer, max_size=4),
    st.one_of(
        st.none(), st.fixed_dictionaries({k: st.floats(-1, 2) for k in ("legitimacy", "depth", "usefulness")})
    ),
    st.booleans(),
)
async def test_reward_always_within_range_and_scores_within_unit(
    answers: list[str], llm_scores: dict[str, float] | None, with_context: bool
) -> None:
    fake = FakeLLM(llm_answer(**llm_scores)) if llm_scores is not None else None
    a = await assess_call(
        transcript(answers), profile() if with_context else None, fake, DEFAULT_CONFIG, now=NOW
    )
    assert 2.0 <= a.reward_percentage <= 15.0
    for score in (a.legitimacy_score, a.depth_score, a.usefulness_score, a.overall_quality_score):
        assert 0.0 <= score <= 1.0
    assert a.analysis_metadata.status in ("scored", "insufficient_transcript")


async def test_non_retryable_errors_stop_at_once(chat_server: ChatServer) -> None:
    slept: list[float] = []

    async def fake_sleep(s: float) -> None:
        slept.append(s)

    bad_key = openai.AsyncOpenAI(api_key="x", base_url=chat_server.base_url + "/nowhere", max_retries=0)
    llm = OpenAIStructuredLLM(bad_key, "gpt-4o-mini", LLMConfig(attempts=3), sleep=fake_sleep)
    parsed, info = await llm.complete(CallAssessmentProbe, "s", "u", "v")
    assert parsed is None and info.error == "NotFoundError:404" and info.attempts == 1 and slept == []


class CallAssessmentProbe(pydantic.BaseModel):
    ok: bool
