"""Builders for the server events the emulator sends (GA Realtime shapes, as the SDK's models declare them).

Plain dicts, serialised once by the writer. Their shapes are checked against
the openai SDK's models in the tests (and per event with ``validate_events``).
"""

from __future__ import annotations

import itertools
import secrets
from typing import Any

Event = dict[str, Any]

RATE_LIMIT_REQUESTS = 5000
RATE_LIMIT_TOKENS = 400_000


class Ids:
    """Unique ids shaped like the real ones (``event_…``, ``item_…``, ``resp_…``)."""

    def __init__(self) -> None:
        self._stem = secrets.token_hex(5)
        self._counter = itertools.count(1)

    def new(self, prefix: str) -> str:
        return f"{prefix}_{self._stem}{next(self._counter):06d}"


def default_session(session_id: str, model: str, expires_at: int) -> dict[str, Any]:
    """The session as ``session.created`` reports it (mu-law both ways: all this emulator speaks)."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "Du är en hjälpsam assistent. Svara kort på svenska.",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": expires_at,
        "include": None,
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 500,
                    "idle_timeout_ms": None,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {"format": {"type": "audio/pcmu"}, "voice": "alloy", "speed": 1.0},
        },
    }


def error(
    event_id: str,
    code: str | None,
    message: str,
    *,
    param: str | None = None,
    client_event_id: str | None = None,
    error_type: str = "invalid_request_error",
) -> Event:
    return {
        "type": "error",
        "event_id": event_id,
        "error": {
            "type": error_type,
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_event_id,
        },
    }


def user_audio_item(item_id: str, transcript: str | None, status: str = "completed") -> dict[str, Any]:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "role": "user",
        "status": status,
        "content": [{"type": "input_audio", "transcript": transcript}],
    }


def assistant_item(
    item_id: str, status: str, transcript: str | None, *, text_mode: bool = False
) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if transcript is not None:
        part = (
            {"type": "output_text", "text": transcript}
            if text_mode
            else {"type": "output_audio", "transcript": transcript}
        )
        content.append(part)
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def response_object(
    response_id: str,
    status: str,
    *,
    conversation_id: str | None,
    output: list[dict[str, Any]],
    modalities: list[str],
    voice: str,
    output_format: dict[str, Any],
    metadata: dict[str, str] | None = None,
    status_details: dict[str, Any] | None = None,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "object": "realtime.response",
        "id": response_id,
        "status": status,
        "status_details": status_details,
        "output": output,
        "conversation_id": conversation_id,
        "output_modalities": modalities,
        "max_output_tokens": "inf",
        "audio": {"output": {"format": output_format, "voice": voice}},
        "usage": usage,
        "metadata": metadata,
    }


def usage(
    *, input_text_tokens: int, input_audio_tokens: int, output_text_tokens: int, output_audio_tokens: int
) -> dict[str, Any]:
    input_tokens = input_text_tokens + input_audio_tokens
    output_tokens = output_text_tokens + output_audio_tokens
    return {
        "total_tokens": input_tokens + output_tokens,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "input_token_details": {
            "text_tokens": input_text_tokens,
            "audio_tokens": input_audio_tokens,
            "image_tokens": 0,
            "cached_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": output_text_tokens, "audio_tokens": output_audio_tokens},
    }


def rate_limits(event_id: str, requests_used: int, tokens_used: int) -> Event:
    return {
        "type": "rate_limits.updated",
        "event_id": event_id,
        "rate_limits": [
            {
                "name": "requests",
                "limit": RATE_LIMIT_REQUESTS,
                "remaining": max(0, RATE_LIMIT_REQUESTS - requests_used),
                "reset_seconds": 0.012,
            },
            {
                "name": "tokens",
                "limit": RATE_LIMIT_TOKENS,
                "remaining": max(0, RATE_LIMIT_TOKENS - tokens_used),
                "reset_seconds": 0.6,
            },
        ],
    }


def text_tokens(text: str) -> int:
    """Rough token count of a text (about 4 characters a token)."""
    return max(1, (len(text) + 3) // 4) if text else 0
