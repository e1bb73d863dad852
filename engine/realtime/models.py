"""Which configured OpenAI models the installed SDK lists as deprecated, read from the SDK itself.

The openai SDK documents shutdowns in the model fields of its generated types
("Deprecated values: - "gpt-realtime", …: Announced shutdown date: …"). They
are docstrings, not data, so this module reads them from the installed
modules' source: upgrading the SDK updates the list with no change here.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import re

log = logging.getLogger(__name__)

_SOURCES = (
    "openai.types.realtime.realtime_session_create_request",
    "openai.types.realtime.audio_transcription",
)
_BLOCK = re.compile(r"Deprecated values:\s*(?P<body>.*?)(?:\"\"\"|\n\s*\n\s*\S+:)", re.S)
_ENTRY = re.compile(r"-\s*(?P<names>(?:\"[^\"]+\",?\s*)+):\s*Announced shutdown date:\s*(?P<date>[\d-]+)")


@functools.cache
def deprecated_models() -> dict[str, str]:
    """Model name → announced shutdown date, as the installed SDK lists them (empty if unreadable)."""
    found: dict[str, str] = {}
    for name in _SOURCES:
        try:
            source = inspect.getsource(importlib.import_module(name))
        except (ImportError, OSError, TypeError):
            continue  # an SDK without these modules (or without sources): nothing to warn about
        for block in _BLOCK.finditer(source):
            body = " ".join(block.group("body").split())
            for entry in _ENTRY.finditer(body):
                for model in re.findall(r"\"([^\"]+)\"", entry.group("names")):
                    found[model] = entry.group("date")
    return found


def deprecation_warnings(models: dict[str, str]) -> list[str]:
    """One message per configured model (setting name → model) the SDK lists as deprecated."""
    listed = deprecated_models()
    return [
        f"{setting}={model} is deprecated by OpenAI (announced shutdown {listed[model]}); "
        "choose a current model"
        for setting, model in models.items()
        if model in listed
    ]


def warn_deprecated(models: dict[str, str]) -> list[str]:
    """Log :func:`deprecation_warnings` at WARNING (called once when a host starts)."""
    messages = deprecation_warnings(models)
    for message in messages:
        log.warning("%s", message)
    return messages
