"""Structured LLM calls: schemas, versioned prompts, retries with backoff, error translation.

The schemas are pydantic models sent with ``chat.completions.parse`` (json_schema,
strict); the class name is the json_schema ``name``, which is how the offline
chat emulator recognises them. Prompts carry machine-readable sections
(``### BUTIK`` JSON, ``### SAMTAL`` lines prefixed ``AI:``/``KUND:``) so a model
and the emulator read the same input.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, Protocol, TypeVar

import openai
import pydantic

from engine.analysis.config import LLMConfig
from engine.analysis.context import BusinessContext
from engine.analysis.models import LLMCallInfo, TokenUsage, TranscriptLine
from engine.domain import Speaker
from engine.logs import get_logger

log = get_logger(__name__)

ASSESSMENT_PROMPT_VERSION = "assessment-v1"
CONTENT_FRAUD_PROMPT_VERSION = "content-fraud-v1"
THEMES_PROMPT_VERSION = "weekly-themes-v1"

CONTEXT_MARK = "### BUTIK"
TRANSCRIPT_MARK = "### SAMTAL"
STATS_MARK = "### STATISTIK"
END_MARK = "### SLUT"


class AssessmentItem(pydantic.BaseModel):
    topic: str
    sentiment: Literal["positive", "negative", "neutral"]
    suggestion: str
    department: str | None
    priority: Literal["low", "medium", "high"]


class CallAssessment(pydantic.BaseModel):
    """Schema ``CallAssessment``: the model's view of one call."""

    legitimacy: float
    depth: float
    usefulness: float
    summary: str
    actionable_items: list[AssessmentItem]
    reasoning: str


class ContentFraudCheck(pydantic.BaseModel):
    """Schema ``ContentFraudCheck``: generic, scripted or evasive answers."""

    is_suspicious: bool
    confidence: float
    indicators: list[str]
    reasoning: str


class Theme(pydantic.BaseModel):
    title: str
    topic: str
    department: str | None
    sentiment: Literal["positive", "negative"]
    evidence_calls: int


class Recommendation(pydantic.BaseModel):
    action: str
    department: str | None
    priority: Literal["low", "medium", "high"]
    rationale: str


class WeeklyThemes(pydantic.BaseModel):
    """Schema ``WeeklyThemes``: themes of a store's week, from aggregated statistics."""

    positive_trends: list[Theme]
    negative_issues: list[Theme]
    recommendations: list[Recommendation]


SchemaT = TypeVar("SchemaT", bound=pydantic.BaseModel)

_RETRYABLE = (
    openai.RateLimitError,
    openai.InternalServerError,
    openai.APIConnectionError,
    openai.ConflictError,
)
_MALFORMED = (pydantic.ValidationError, openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError)


class StructuredLLM(Protocol):
    """What the analysis needs from a model: one structured answer, or None with the reason."""

    model: str

    async def complete(
        self, schema: type[SchemaT], system: str, user: str, prompt_version: str
    ) -> tuple[SchemaT | None, LLMCallInfo]: ...


class OpenAIStructuredLLM:
    """``StructuredLLM`` over the openai SDK; retries with backoff, never raises for LLM trouble."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        config: LLMConfig,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._client = client
        self.model = model
        self._config = config
        self._sleep = sleep
        self._clock = clock

    async def aclose(self) -> None:
        """Close the SDK client's connection pool (call on shutdown, inside the event loop)."""
        await self._client.close()

    async def complete(
        self, schema: type[SchemaT], system: str, user: str, prompt_version: str
    ) -> tuple[SchemaT | None, LLMCallInfo]:
        started = self._clock()
        error = "no attempt"
        attempts = 0
        for attempt in range(1, self._config.attempts + 1):
            attempts = attempt
            if attempt > 1:
                delays = self._config.backoff_seconds or (0.0,)
                await self._sleep(delays[min(attempt - 2, len(delays) - 1)])
            try:
                completion = await self._client.chat.completions.parse(
                    model=self.model,
                    messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                    response_format=schema,
                    temperature=0,
                    timeout=self._config.timeout_seconds,
                )
            except _RETRYABLE as exc:
                error = f"{type(exc).__name__}"
                log.warning("llm %s attempt %d failed: %s", schema.__name__, attempt, error)
                continue
            except _MALFORMED as exc:
                error = f"malformed_answer:{type(exc).__name__}"
                log.warning("llm %s attempt %d: malformed answer", schema.__name__, attempt)
                continue
            except openai.APIStatusError as exc:  # 400/401/403/404/422: retrying will not help
                error = f"{type(exc).__name__}:{exc.status_code}"
                log.warning("llm %s failed without retry: %s", schema.__name__, error)
                break
            except openai.OpenAIError as exc:  # anything else the SDK raises (e.g. response validation)
                error = type(exc).__name__
                log.warning("llm %s failed without retry: %s", schema.__name__, error)
                break
            choice = completion.choices[0] if completion.choices else None
            parsed = choice.message.parsed if choice else None
            if parsed is None:
                error = "refusal" if choice and choice.message.refusal else "malformed_answer:empty"
                continue
            usage = completion.usage
            return parsed, LLMCallInfo(
                model=completion.model or self.model,
                prompt_version=prompt_version,
                attempts=attempt,
                latency_ms=round((self._clock() - started) * 1000, 1),
                usage=TokenUsage(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)
                if usage
                else None,
            )
        return None, LLMCallInfo(
            model=self.model,
            prompt_version=prompt_version,
            attempts=attempts,
            latency_ms=round((self._clock() - started) * 1000, 1),
            error=error,
        )


def make_client(api_key: str, base_url: str | None, timeout: float) -> openai.AsyncOpenAI:
    """SDK client with its own retries off: ``OpenAIStructuredLLM`` owns the retry policy."""
    return openai.AsyncOpenAI(api_key=api_key or "offline", base_url=base_url, max_retries=0, timeout=timeout)


def context_brief(ctx: BusinessContext | None) -> dict[str, Any]:
    """The part of a profile a model needs (no free-text store secrets beyond that)."""
    if ctx is None:
        return {"missing": True}
    return {
        "departments": [
            {"name": d.name, "aliases": d.aliases, "products": d.products} for d in ctx.departments
        ],
        "absent_departments": ctx.baseline_facts.absent_departments,
        "campaigns": [{"name": c.name, "keywords": c.keywords} for c in ctx.current_campaigns],
        "questions": [q.text for q in ctx.question_configuration.questions],
        "facts": [f.statement for f in ctx.baseline_facts.facts],
    }


def transcript_block(lines: Sequence[TranscriptLine], max_chars: int) -> str:
    out: list[str] = []
    size = 0
    for line in sorted(lines, key=lambda ln: ln.order):
        who = "KUND" if line.speaker == Speaker.CUSTOMER else "AI"
        text = " ".join(line.content.split())
        row = f"{who}: {text}"
        size += len(row) + 1
        if size > max_chars:
            break
        out.append(row)
    return "\n".join(out)


def call_prompt(lines: Sequence[TranscriptLine], ctx: BusinessContext | None, max_chars: int) -> str:
    return (
        f"{CONTEXT_MARK}\n{json.dumps(context_brief(ctx), ensure_ascii=False)}\n"
        f"{TRANSCRIPT_MARK}\n{transcript_block(lines, max_chars)}\n{END_MARK}"
    )


ASSESSMENT_SYSTEM = f"""[{ASSESSMENT_PROMPT_VERSION}] You assess a Swedish customer-feedback phone interview
for a store. Read the store context after {CONTEXT_MARK} and the transcript after {TRANSCRIPT_MARK}
(AI = interviewer, KUND = customer). Score from 0 to 1:
- legitimacy: how likely the customer really visited and answers honestly (0 = clearly fake);
- depth: how detailed and specific the answers are (departments, products, times, concrete events);
- usefulness: how actionable the feedback is for the store.
Write a short neutral summary in Swedish without names or phone numbers, and list actionable
items (topic, sentiment, concrete suggestion in Swedish, department from the context or null,
priority). Judge only from the transcript; do not invent facts."""

CONTENT_FRAUD_SYSTEM = f"""[{CONTENT_FRAUD_PROMPT_VERSION}] You check a Swedish customer-feedback phone
interview for content fraud: generic answers that fit any store, scripted or memorised wording,
evasive non-answers, or details that contradict the store context after {CONTEXT_MARK}.
Return is_suspicious, a confidence from 0 to 1, short indicators and your reasoning."""

THEMES_SYSTEM = f"""[{THEMES_PROMPT_VERSION}] You write the themes of one store's week of customer
feedback. After {STATS_MARK} you get JSON statistics counted from the calls: mentions per
(department, topic, sentiment). Name positive trends and negative issues ONLY from those
statistics (evidence_calls must be the counted number), and give concrete recommendations in
Swedish for the store owner."""


def llm_from_settings(openai_settings: Any, config: LLMConfig) -> OpenAIStructuredLLM | None:
    """The analysis LLM for ``settings.openai``; None when neither a key nor a base URL is set."""
    key = openai_settings.api_key.get() if openai_settings.api_key else ""
    if not key and not openai_settings.base_url:
        return None
    client = make_client(key, openai_settings.base_url, config.timeout_seconds)
    return OpenAIStructuredLLM(client, openai_settings.chat_model, config)
