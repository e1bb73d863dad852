"""Twilio Media Streams wire protocol (bidirectional ``<Connect><Stream>``), msgspec-typed.

Inbound frames are decoded with one msgspec decoder over a tagged union on
``event``. Audio payloads stay base64 text: the bridge passes them to the
Realtime API unchanged (both sides speak mu-law 8 kHz), so no frame is ever
decoded or re-encoded on the hot path. Outbound frames are built by string
formatting; a base64 payload and a Twilio SID never need JSON escaping.
"""

from __future__ import annotations

import re

import msgspec

MAX_FRAME_BYTES = 64 * 1024
"""Largest WebSocket message accepted from Twilio (a 20 ms frame is ~400 bytes)."""
MAX_PAYLOAD_CHARS = 16 * 1024
"""Largest media payload accepted (base64 chars); bigger ones are dropped as bad input."""


class MediaFormat(msgspec.Struct, frozen=True):
    encoding: str = "audio/x-mulaw"
    sampleRate: int = 8000
    channels: int = 1


class StartInfo(msgspec.Struct, frozen=True):
    streamSid: str
    callSid: str
    accountSid: str = ""
    tracks: list[str] = []
    customParameters: dict[str, str] = {}
    mediaFormat: MediaFormat = MediaFormat()


class MediaInfo(msgspec.Struct, frozen=True):
    payload: str
    track: str = "inbound"
    chunk: str = "0"
    timestamp: str = "0"


class MarkInfo(msgspec.Struct, frozen=True):
    name: str


class DtmfInfo(msgspec.Struct, frozen=True):
    digit: str
    track: str = "inbound_track"


class StopInfo(msgspec.Struct, frozen=True):
    accountSid: str = ""
    callSid: str = ""


class Connected(msgspec.Struct, frozen=True, tag_field="event", tag="connected"):
    protocol: str = "Call"
    version: str = ""


class Start(msgspec.Struct, frozen=True, tag_field="event", tag="start"):
    start: StartInfo
    sequenceNumber: str = "0"
    streamSid: str = ""


class Media(msgspec.Struct, frozen=True, tag_field="event", tag="media"):
    media: MediaInfo
    sequenceNumber: str = "0"
    streamSid: str = ""


class Mark(msgspec.Struct, frozen=True, tag_field="event", tag="mark"):
    mark: MarkInfo
    sequenceNumber: str = "0"
    streamSid: str = ""


class Dtmf(msgspec.Struct, frozen=True, tag_field="event", tag="dtmf"):
    dtmf: DtmfInfo
    sequenceNumber: str = "0"
    streamSid: str = ""


class Stop(msgspec.Struct, frozen=True, tag_field="event", tag="stop"):
    stop: StopInfo = StopInfo()
    sequenceNumber: str = "0"
    streamSid: str = ""


InboundEvent = Connected | Start | Media | Mark | Dtmf | Stop

_decoder = msgspec.json.Decoder(InboundEvent)


class MediaDecodeError(ValueError):
    """A frame that is not valid Twilio Media Streams JSON. ``kind`` says why (for counters)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


def decode(raw: str | bytes) -> InboundEvent:
    """Decode one inbound frame; raise :class:`MediaDecodeError` for anything malformed."""
    if len(raw) > MAX_FRAME_BYTES:
        raise MediaDecodeError("oversized", f"{len(raw)} bytes")
    try:
        event = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        msg = str(exc)
        kind = "unknown_event" if "Invalid value" in msg and "event" in msg else "invalid"
        raise MediaDecodeError(kind, msg) from exc
    except msgspec.DecodeError as exc:
        raise MediaDecodeError("malformed", str(exc)) from exc
    if isinstance(event, Media) and len(event.media.payload) > MAX_PAYLOAD_CHARS:
        raise MediaDecodeError("oversized", f"payload {len(event.media.payload)} chars")
    return event


_SAFE = re.compile(r"^[A-Za-z0-9_\-:.]*$")


def _check_safe(value: str, what: str) -> str:
    # Stream SIDs and mark names we generate ourselves; never let one break the JSON.
    if not _SAFE.match(value):
        raise ValueError(f"{what} has characters that would need escaping")
    return value


def encode_media(stream_sid: str, payload_b64: str) -> str:
    """Outbound audio; ``payload_b64`` is passed through as received from the Realtime API."""
    return '{"event":"media","streamSid":"' + stream_sid + '","media":{"payload":"' + payload_b64 + '"}}'


def encode_mark(stream_sid: str, name: str) -> str:
    return (
        '{"event":"mark","streamSid":"'
        + stream_sid
        + '","mark":{"name":"'
        + _check_safe(name, "mark")
        + '"}}'
    )


def encode_clear(stream_sid: str) -> str:
    return '{"event":"clear","streamSid":"' + stream_sid + '"}'


def safe_stream_sid(value: str) -> str:
    """Validate a stream SID received in ``start`` before it is spliced into outbound JSON."""
    return _check_safe(value, "streamSid")


def b64_len_to_bytes(n_chars: int, payload: str) -> int:
    """Number of audio bytes in a base64 payload of ``n_chars`` characters, without decoding it."""
    if n_chars == 0:
        return 0
    pad = 2 if payload.endswith("==") else 1 if payload.endswith("=") else 0
    return n_chars // 4 * 3 - pad
