"""Which language a customer line is in, when the transcription model does not say.

``gpt-transcribe`` reports the detected ``languages`` on every completed
transcription; older transcription models do not. For those, a local
language-identification model (``lingua-language-detector``) names the
language among Swedish, English and the languages most often spoken in Sweden
besides them. Its models take ~35 MB per language and seconds to load, so the
detector is built only in a process whose transcription model needs it
(:func:`enable_fallback`, called by the host at start, off the event loop).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

REPORTING_MODELS = ("gpt-transcribe",)
"""Transcription models whose completed events carry ``languages`` (the SDK: "Returned by gpt-transcribe")."""
CANDIDATES = ("SWEDISH", "ENGLISH", "ARABIC", "FINNISH", "PERSIAN", "POLISH", "SPANISH", "GERMAN")
MIN_CONFIDENCE = 0.5
"""Below this, the line keeps no detected language (a short "okej" says little)."""

_lock = threading.Lock()
_detector: Any = None
_enabled = False


def reports_languages(transcription_model: str) -> bool:
    return transcription_model.startswith(REPORTING_MODELS)


def fallback_enabled() -> bool:
    return _enabled


def enable_fallback() -> None:
    """Build the detector now (blocking: seconds, run it in a thread); later lines use it."""
    global _enabled
    _build()
    _enabled = True


def _build() -> Any:
    global _detector
    with _lock:
        if _detector is None:
            from lingua import Language, LanguageDetectorBuilder

            languages = [getattr(Language, name) for name in CANDIDATES]
            _detector = (
                LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()
            )
    return _detector


def detect(text: str) -> str | None:
    """ISO 639-1 code of ``text``'s language, or None when unsure."""
    if not text.strip():
        return None
    values = _build().compute_language_confidence_values(text)
    if not values or values[0].value < MIN_CONFIDENCE:
        return None
    code: str = values[0].language.iso_code_639_1.name.lower()
    return code


async def detect_async(text: str) -> str | None:
    return await asyncio.to_thread(detect, text)
