"""Twilio Media Streams codec."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.telephony import media
from engine.telephony.media import Dtmf, Mark, Media, MediaDecodeError, Start, Stop


def test_decodes_every_documented_event() -> None:
    frames = [
        {"event": "connected", "protocol": "Call", "version": "1.0.0"},
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": "MZ1",
            "start": {
                "accountSid": "AC1",
                "streamSid": "MZ1",
                "callSid": "CA1",
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": {"token": "abc"},
            },
        },
        {
            "event": "media",
            "sequenceNumber": "2",
            "streamSid": "MZ1",
            "media": {"track": "inbound", "chunk": "1", "timestamp": "5", "payload": "//8="},
        },
        {
            "event": "dtmf",
            "sequenceNumber": "3",
            "streamSid": "MZ1",
            "dtmf": {"track": "inbound_track", "digit": "9"},
        },
        {"event": "mark", "sequenceNumber": "4", "streamSid": "MZ1", "mark": {"name": "r1-1"}},
        {
            "event": "stop",
            "sequenceNumber": "5",
            "streamSid": "MZ1",
            "stop": {"accountSid": "AC1", "callSid": "CA1"},
        },
    ]
    decoded = [media.decode(json.dumps(f)) for f in frames]
    assert isinstance(decoded[1], Start) and decoded[1].start.customParameters == {"token": "abc"}
    assert (
        isinstance(decoded[2], Media) and decoded[2].media.payload == "//8=" and decoded[2].media.chunk == "1"
    )
    assert isinstance(decoded[3], Dtmf) and decoded[3].dtmf.digit == "9"
    assert isinstance(decoded[4], Mark) and decoded[4].mark.name == "r1-1"
    assert isinstance(decoded[5], Stop)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("{not json", "malformed"),
        ('{"event":"bogus"}', "unknown_event"),
        ('{"event":"media","media":{}}', "invalid"),
        ('{"event":"media","media":{"payload":"' + "A" * (media.MAX_PAYLOAD_CHARS + 4) + '"}}', "oversized"),
        ("x" * (media.MAX_FRAME_BYTES + 1), "oversized"),
    ],
)
def test_bad_frames_are_classified(raw: str, kind: str) -> None:
    with pytest.raises(MediaDecodeError) as info:
        media.decode(raw)
    assert info.value.kind == kind


@given(st.binary(min_size=0, max_size=400))
def test_outbound_media_passes_payload_through(audio: bytes) -> None:
    payload = base64.b64encode(audio).decode()
    frame = json.loads(media.encode_media("MZabc", payload))
    assert frame == {"event": "media", "streamSid": "MZabc", "media": {"payload": payload}}
    assert media.b64_len_to_bytes(len(payload), payload) == len(audio)


def test_mark_and_clear() -> None:
    assert json.loads(media.encode_mark("MZ1", "r2-3")) == {
        "event": "mark",
        "streamSid": "MZ1",
        "mark": {"name": "r2-3"},
    }
    assert json.loads(media.encode_clear("MZ1")) == {"event": "clear", "streamSid": "MZ1"}
    with pytest.raises(ValueError):
        media.encode_mark("MZ1", 'x"y')
    with pytest.raises(ValueError):
        media.safe_stream_sid('MZ"}')
