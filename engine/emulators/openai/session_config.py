"""The effective session: ``session.update`` merged into it, as the real server does.

Fields that are present replace the current ones; ``audio.input`` and
``audio.output`` merge field by field. The emulator speaks only mu-law, so any
other audio format is refused with an ``error`` naming the field.
"""

from __future__ import annotations

import copy
from typing import Any

from engine.emulators.openai.protocol import ClientEventError
from engine.emulators.openai.vad import VadConfig

SUPPORTED_FORMAT = "audio/pcmu"
_SERVER_VAD_DEFAULTS: dict[str, Any] = {
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}
_SEMANTIC_VAD_DEFAULTS: dict[str, Any] = {
    "eagerness": "auto",
    "create_response": True,
    "interrupt_response": True,
}
_SEMANTIC_SILENCE_MS = {"low": 1500, "medium": 800, "high": 300, "auto": 800}
"""semantic_vad is approximated by energy VAD with a silence window per eagerness."""
_TOP_LEVEL = (
    "model",
    "instructions",
    "output_modalities",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "tracing",
    "truncation",
    "prompt",
    "include",
)


def apply_update(session: dict[str, Any], update: dict[str, Any], event_id: str | None) -> dict[str, Any]:
    """The new effective session, or :class:`ClientEventError` (nothing changes then)."""

    def fail(param: str, message: str) -> ClientEventError:
        return ClientEventError("invalid_value", message, param, event_id, "session.update")

    if update.get("type") != "realtime":
        raise fail("session.type", "The emulator supports only sessions of type 'realtime'.")
    merged = copy.deepcopy(session)
    for key in _TOP_LEVEL:
        if key in update:
            merged[key] = copy.deepcopy(update[key])
    modalities = merged.get("output_modalities")
    if modalities not in (None, ["audio"], ["text"]):
        raise fail("session.output_modalities", "output_modalities must be ['audio'] or ['text'].")
    audio = update.get("audio") or {}
    for direction in ("input", "output"):
        given = audio.get(direction) or {}
        target = merged["audio"][direction]
        for key, value in given.items():
            target[key] = copy.deepcopy(value)
        fmt = target.get("format") or {}
        if fmt.get("type") != SUPPORTED_FORMAT:
            raise fail(
                f"session.audio.{direction}.format.type",
                f"The emulator supports only '{SUPPORTED_FORMAT}' audio (got '{fmt.get('type')}').",
            )
    detection = merged["audio"]["input"].get("turn_detection")
    if isinstance(detection, dict):
        defaults = _SERVER_VAD_DEFAULTS if detection.get("type") == "server_vad" else _SEMANTIC_VAD_DEFAULTS
        merged["audio"]["input"]["turn_detection"] = {**defaults, **detection}
    return merged


def vad_config(session: dict[str, Any]) -> VadConfig | None:
    """Energy-VAD settings for the session's turn detection (None = manual commits)."""
    detection = session["audio"]["input"].get("turn_detection")
    if not detection:
        return None
    if detection.get("type") == "semantic_vad":
        eagerness = detection.get("eagerness") or "auto"
        return VadConfig(silence_duration_ms=_SEMANTIC_SILENCE_MS.get(eagerness, 800))
    return VadConfig(
        threshold=float(detection.get("threshold") if detection.get("threshold") is not None else 0.5),
        prefix_padding_ms=int(detection.get("prefix_padding_ms") or 0),
        silence_duration_ms=int(detection.get("silence_duration_ms") or 500),
    )
