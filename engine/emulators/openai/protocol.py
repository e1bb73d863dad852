"""Wire-level checks: client events in (as the real API rejects them), server events out (SDK models).

Audio appends take a hand-written fast path; the other (rare) client events
are validated with the openai SDK's own pydantic models, and the first error is
reported the way the real API does (``param`` names the field).
"""

from __future__ import annotations

import binascii
import dataclasses
from functools import cache
from typing import Any, get_args

import msgspec
import pydantic

MAX_APPEND_BYTES = 15 * 1024 * 1024
DECODED_AUDIO = "\x00audio"
"""Key under which a checked append carries its decoded bytes (no JSON key can collide: NUL-prefixed)."""
"""The real API refuses appends larger than 15 MiB."""


@dataclasses.dataclass(frozen=True)
class ClientEventError(Exception):
    """A client event the real API would answer with an ``error`` event."""

    code: str
    message: str
    param: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    error_type: str = "invalid_request_error"


@cache
def client_models() -> dict[str, type[pydantic.BaseModel]]:
    from openai.types.realtime import RealtimeClientEvent

    return {_type_of(m): m for m in get_args(get_args(RealtimeClientEvent)[0])}


@cache
def server_models() -> dict[str, type[pydantic.BaseModel]]:
    from openai.types.realtime import RealtimeServerEvent

    return {_type_of(m): m for m in get_args(get_args(RealtimeServerEvent)[0])}


def _type_of(model: Any) -> str:
    literal: str = model.model_fields["type"].annotation.__args__[0]
    return literal


def parse_client_event(raw: str | bytes) -> dict[str, Any]:
    """Decode and check one client event; raises :class:`ClientEventError`."""
    try:
        event = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ClientEventError("invalid_json", f"The event is not valid JSON: {exc}.") from exc
    if not isinstance(event, dict):
        raise ClientEventError("invalid_type", "The event must be a JSON object.")
    raw_id = event.get("event_id")
    event_id = raw_id if isinstance(raw_id, str) else None
    kind = event.get("type")
    if kind is None:
        raise ClientEventError(
            "missing_required_parameter", "Missing required parameter: 'type'.", "type", event_id
        )
    if not isinstance(kind, str) or kind not in client_models():
        supported = ", ".join(f"'{name}'" for name in sorted(client_models()))
        raise ClientEventError(
            "invalid_value",
            f"Invalid value: '{kind}'. Supported values are: {supported}.",
            "type",
            event_id,
        )
    if raw_id is not None and event_id is None:
        raise ClientEventError("invalid_type", "Invalid type for 'event_id': expected a string.", "event_id")
    if kind == "input_audio_buffer.append":
        event[DECODED_AUDIO] = _check_append(event, event_id)
        return event
    try:
        model = client_models()[kind].model_validate(event)
    except pydantic.ValidationError as exc:
        raise _translate(exc, event_id, kind) from exc
    unknown = unexpected_extras(model)
    if unknown:
        # The SDK's models keep unknown keys; the real API rejects them.
        param = unknown[0].removeprefix("$.")
        raise ClientEventError("unknown_parameter", f"Unknown parameter: '{param}'.", param, event_id, kind)
    return event


def _check_append(event: dict[str, Any], event_id: str | None) -> bytes:
    audio = event.get("audio")
    kind = "input_audio_buffer.append"
    if audio is None:
        raise ClientEventError(
            "missing_required_parameter", "Missing required parameter: 'audio'.", "audio", event_id, kind
        )
    if not isinstance(audio, str):
        raise ClientEventError(
            "invalid_type", "Invalid type for 'audio': expected a string.", "audio", event_id, kind
        )
    if len(audio) * 3 // 4 > MAX_APPEND_BYTES:
        raise ClientEventError(
            "invalid_value", "Invalid 'audio': the audio exceeds 15 MiB.", "audio", event_id, kind
        )
    try:
        return binascii.a2b_base64(audio, strict_mode=True)
    except binascii.Error as exc:
        raise ClientEventError(
            "invalid_value",
            "Invalid 'audio'. Expected base64-encoded audio bytes.",
            "audio",
            event_id,
            kind,
        ) from exc


def _translate(exc: pydantic.ValidationError, event_id: str | None, kind: str) -> ClientEventError:
    errors = exc.errors()
    best = next((e for e in errors if e["type"] != "literal_error"), errors[0])
    param = _param(best["loc"])
    if best["type"] == "missing":
        return ClientEventError(
            "missing_required_parameter", f"Missing required parameter: '{param}'.", param, event_id, kind
        )
    code = "invalid_type" if best["type"].endswith(("_type", "_parsing")) else "invalid_value"
    return ClientEventError(code, f"Invalid value for '{param}': {best['msg']}.", param, event_id, kind)


def _param(loc: tuple[int | str, ...]) -> str:
    """``('item', 'RealtimeConversationItemUserMessage', 'content', 0)`` → ``item.content[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part[:1].isupper() or "[" in part or "-" in part:
            continue  # a union member or validator tag, not a field
        else:
            out += f".{part}" if out else part
    return out


def validate_server_event(event: dict[str, Any]) -> pydantic.BaseModel:
    """Validate an emitted event with the SDK model for its type (KeyError: unknown type)."""
    return server_models()[event["type"]].model_validate(event)


def unexpected_extras(model: pydantic.BaseModel, path: str = "$") -> list[str]:
    """Keys the SDK models do not know (pydantic keeps extras silently), recursively."""
    found = [f"{path}.{key}" for key in (model.model_extra or {})]
    for name in type(model).model_fields:
        found.extend(_extras_in(getattr(model, name), f"{path}.{name}"))
    return found


def _extras_in(value: Any, path: str) -> list[str]:
    if isinstance(value, pydantic.BaseModel):
        return unexpected_extras(value, path)
    if isinstance(value, list):
        return [x for i, v in enumerate(value) for x in _extras_in(v, f"{path}[{i}]")]
    return []
