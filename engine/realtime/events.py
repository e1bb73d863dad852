"""OpenAI Realtime (GA) events the bridge uses, msgspec-typed.

Server events are decoded with one msgspec decoder over a tagged union on
``type``; types the bridge does not act on decode as :class:`Other` (a second,
tiny decode of just ``type``), so unknown or new events never break a call.
The openai SDK's own models (pydantic, built per event) are bypassed on this
path: see docs/session.md for the measurement. Audio stays base64 text.

Client events on the hot path (``input_audio_buffer.append``) are built by
string formatting; the rest go through ``msgspec.json.encode`` of plain dicts.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

# ---------------------------------------------------------------- server → client


class SessionInfo(msgspec.Struct, frozen=True):
    id: str | None = None
    expires_at: int | None = None


class SessionCreated(msgspec.Struct, frozen=True, tag_field="type", tag="session.created"):
    session: SessionInfo = SessionInfo()


class SessionUpdated(msgspec.Struct, frozen=True, tag_field="type", tag="session.updated"):
    session: SessionInfo = SessionInfo()


class SpeechStarted(msgspec.Struct, frozen=True, tag_field="type", tag="input_audio_buffer.speech_started"):
    item_id: str = ""
    audio_start_ms: int = 0


class SpeechStopped(msgspec.Struct, frozen=True, tag_field="type", tag="input_audio_buffer.speech_stopped"):
    item_id: str = ""
    audio_end_ms: int = 0


class Committed(msgspec.Struct, frozen=True, tag_field="type", tag="input_audio_buffer.committed"):
    item_id: str = ""
    previous_item_id: str | None = None


class Language(msgspec.Struct, frozen=True):
    code: str = ""


class LogProb(msgspec.Struct, frozen=True):
    logprob: float = 0.0


class TranscriptionCompleted(
    msgspec.Struct,
    frozen=True,
    tag_field="type",
    tag="conversation.item.input_audio_transcription.completed",
):
    item_id: str = ""
    transcript: str = ""
    languages: list[Language] | None = None
    logprobs: list[LogProb] | None = None

    @property
    def confidence(self) -> float | None:
        if not self.logprobs:
            return None
        mean = sum(p.logprob for p in self.logprobs) / len(self.logprobs)
        return round(min(1.0, max(0.0, math.exp(mean))), 2)

    @property
    def language(self) -> str | None:
        if self.languages:
            return self.languages[0].code or None
        return None


class TranscriptionFailed(
    msgspec.Struct,
    frozen=True,
    tag_field="type",
    tag="conversation.item.input_audio_transcription.failed",
):
    item_id: str = ""


class ResponseInfo(msgspec.Struct, frozen=True):
    id: str | None = None
    status: str | None = None


class ResponseCreated(msgspec.Struct, frozen=True, tag_field="type", tag="response.created"):
    response: ResponseInfo = ResponseInfo()


class ResponseDone(msgspec.Struct, frozen=True, tag_field="type", tag="response.done"):
    response: ResponseInfo = ResponseInfo()


class ItemInfo(msgspec.Struct, frozen=True):
    id: str | None = None
    role: str | None = None
    type: str | None = None
    name: str | None = None
    """Function-call items: the tool's name, its ``call_id`` and the JSON ``arguments``."""
    call_id: str | None = None
    arguments: str | None = None


class OutputItemAdded(msgspec.Struct, frozen=True, tag_field="type", tag="response.output_item.added"):
    response_id: str = ""
    item: ItemInfo = ItemInfo()


class OutputItemDone(msgspec.Struct, frozen=True, tag_field="type", tag="response.output_item.done"):
    response_id: str = ""
    item: ItemInfo = ItemInfo()


class FunctionCallArgumentsDone(
    msgspec.Struct, frozen=True, tag_field="type", tag="response.function_call_arguments.done"
):
    """A tool call, complete (also sent for an interrupted response: the arguments may be cut)."""

    response_id: str = ""
    item_id: str = ""
    call_id: str = ""
    name: str = ""
    arguments: str = ""


class AudioDelta(msgspec.Struct, frozen=True, tag_field="type", tag="response.output_audio.delta"):
    delta: str
    response_id: str = ""
    item_id: str = ""


class AudioDone(msgspec.Struct, frozen=True, tag_field="type", tag="response.output_audio.done"):
    response_id: str = ""
    item_id: str = ""


class AudioTranscriptDone(
    msgspec.Struct, frozen=True, tag_field="type", tag="response.output_audio_transcript.done"
):
    transcript: str = ""
    response_id: str = ""
    item_id: str = ""


class Truncated(msgspec.Struct, frozen=True, tag_field="type", tag="conversation.item.truncated"):
    item_id: str = ""
    audio_end_ms: int = 0


class ErrorInfo(msgspec.Struct, frozen=True):
    type: str = ""
    code: str | None = None
    message: str = ""


class Error(msgspec.Struct, frozen=True, tag_field="type", tag="error"):
    error: ErrorInfo = ErrorInfo()


class AudioBufferStarted(msgspec.Struct, frozen=True, tag_field="type", tag="output_audio_buffer.started"):
    """SIP/WebRTC only: the server started playing a response's audio to the caller."""

    response_id: str = ""


class AudioBufferStopped(msgspec.Struct, frozen=True, tag_field="type", tag="output_audio_buffer.stopped"):
    """SIP/WebRTC only: the caller has heard all of a response's audio."""

    response_id: str = ""


class AudioBufferCleared(msgspec.Struct, frozen=True, tag_field="type", tag="output_audio_buffer.cleared"):
    """SIP/WebRTC only: playback was cut (the caller spoke over it)."""

    response_id: str = ""


class DtmfReceived(
    msgspec.Struct, frozen=True, tag_field="type", tag="input_audio_buffer.dtmf_event_received"
):
    """SIP only: a keypad key the caller pressed (``event`` is the digit; no event_id)."""

    event: str = ""
    received_at: int = 0


class Other(msgspec.Struct, frozen=True):
    """Any event the bridge does not act on."""

    type: str


ServerEvent = (
    SessionCreated
    | SessionUpdated
    | SpeechStarted
    | SpeechStopped
    | Committed
    | TranscriptionCompleted
    | TranscriptionFailed
    | ResponseCreated
    | ResponseDone
    | OutputItemAdded
    | OutputItemDone
    | FunctionCallArgumentsDone
    | AudioDelta
    | AudioDone
    | AudioTranscriptDone
    | Truncated
    | Error
    | AudioBufferStarted
    | AudioBufferStopped
    | AudioBufferCleared
    | DtmfReceived
)

_decoder = msgspec.json.Decoder(ServerEvent)
_other = msgspec.json.Decoder(Other)


class RealtimeDecodeError(ValueError):
    pass


def decode(raw: str | bytes) -> ServerEvent | Other:
    try:
        return _decoder.decode(raw)
    except msgspec.ValidationError:
        try:
            # Unknown type (or a known one with an unexpected shape): keep the type for counting.
            return _other.decode(raw)
        except msgspec.DecodeError as exc:
            raise RealtimeDecodeError(str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise RealtimeDecodeError(str(exc)) from exc


# ---------------------------------------------------------------- client → server

_encoder = msgspec.json.Encoder()


def _encode(event: dict[str, Any]) -> str:
    # Text frames: the Realtime API speaks JSON text, never binary frames.
    return _encoder.encode(event).decode()


def append_audio(payload_b64: str) -> str:
    """``input_audio_buffer.append`` with a base64 mu-law payload passed through unchanged."""
    return '{"type":"input_audio_buffer.append","audio":"' + payload_b64 + '"}'


TRANSCRIPTION_LOGPROBS = "item.input_audio_transcription.logprobs"


def transcription_config(
    model: str, languages: list[str] | tuple[str, ...], keywords: list[str] | None = None
) -> dict[str, Any]:
    """``audio.input.transcription``: the languages to expect and the store's own words."""
    config: dict[str, Any] = {"model": model, "languages": list(languages)}
    if keywords:
        config["keywords"] = list(keywords)
    return config


def session_update(
    *,
    instructions: str,
    voice: str,
    vad: dict[str, Any] | None = None,
    tools: list[dict[str, Any]] | None = None,
    transcription: dict[str, Any] | None = None,
) -> str:
    turn_detection: dict[str, Any] = {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "create_response": True,
        "interrupt_response": True,
    }
    if vad:
        turn_detection.update(vad)
    session: dict[str, Any] = {
        "type": "realtime",
        "instructions": instructions,
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},
                "turn_detection": turn_detection,
                "transcription": transcription or transcription_config("gpt-transcribe", ["sv", "en"]),
            },
            "output": {"format": {"type": "audio/pcmu"}, "voice": voice},
        },
        # logprobs make the customer lines' confidence_score meaningful
        "include": [TRANSCRIPTION_LOGPROBS],
    }
    if tools:
        session["tools"] = tools
        session["tool_choice"] = "auto"
    return _encode({"type": "session.update", "session": session})


def sip_accept_fields(session_update_event: str) -> dict[str, Any]:
    """The session of a ``session.update`` as ``realtime.calls.accept`` fields: the same
    instructions, tools, voice, turn detection and transcription; no audio formats (the SIP
    call negotiated its codec)."""
    session = dict(msgspec.json.decode(session_update_event)["session"])
    audio = session.get("audio") or {}
    session["audio"] = {
        side: {k: v for k, v in (audio.get(side) or {}).items() if k != "format"}
        for side in ("input", "output")
        if audio.get(side)
    }
    return session


def function_output(call_id: str, output: str) -> str:
    """The answer to one tool call (the model waits for it)."""
    return _encode(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": call_id, "output": output},
        }
    )


def response_create(instructions: str | None = None) -> str:
    event: dict[str, Any] = {"type": "response.create"}
    if instructions is not None:
        event["response"] = {"instructions": instructions}
    return _encode(event)


def commit() -> str:
    """Commit what the customer said so far (they hung up mid-sentence)."""
    return _encode({"type": "input_audio_buffer.commit"})


def response_cancel() -> str:
    return _encode({"type": "response.cancel"})


def truncate(item_id: str, audio_end_ms: int) -> str:
    return _encode(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": audio_end_ms,
        }
    )


def text_item(role: str, text: str) -> str:
    """Replay one earlier utterance as text (restoring a conversation on a new socket)."""
    part_type = "output_text" if role == "assistant" else "input_text"
    return _encode(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": role, "content": [{"type": part_type, "text": text}]},
        }
    )
