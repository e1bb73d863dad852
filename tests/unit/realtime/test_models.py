"""Deprecated models are read from the installed openai SDK itself."""

from __future__ import annotations

import logging

import pytest

from engine.config import OpenAISettings
from engine.realtime.models import deprecated_models, deprecation_warnings, warn_deprecated


def test_the_sdk_lists_shutdowns_and_our_defaults_are_not_on_it() -> None:
    listed = deprecated_models()
    assert "gpt-4o-mini-transcribe" in listed and listed["gpt-4o-mini-transcribe"].startswith("20")
    assert "gpt-realtime-mini" in listed
    defaults = OpenAISettings()
    assert defaults.realtime_model not in listed
    assert defaults.transcription_model not in listed


def test_a_deprecated_model_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="engine.realtime.models"):
        messages = warn_deprecated(
            {"OPENAI_REALTIME_MODEL": "gpt-realtime-mini", "OPENAI_TRANSCRIPTION_MODEL": "gpt-transcribe"}
        )
    assert len(messages) == 1 and "OPENAI_REALTIME_MODEL=gpt-realtime-mini" in messages[0]
    assert "shutdown" in caplog.text
    assert deprecation_warnings({"x": "gpt-realtime-2.1-mini"}) == []
