"""The Twilio-side playback queue: 8 bytes per ms, marks echoed when reached, clear flushes them."""

from __future__ import annotations

from engine.emulators.customer import is_voiced
from engine.emulators.speech import encode_speech
from engine.emulators.twilio.stream import Playback


def test_drain_plays_frames_in_order_and_echoes_marks_when_reached() -> None:
    playback = Playback()
    audio = bytes(range(256)) * 2  # 512 bytes = 3.2 frames
    playback.add_audio(audio[:100])
    playback.add_audio(audio[100:])
    playback.add_mark("a")
    played = [playback.drain() for _ in range(5)]
    assert played[0] == audio[:160] and played[1] == audio[160:320] and played[2] == audio[320:480]
    assert playback.pending_echoes == ["a"]  # reached in the 4th tick, with the last 32 bytes
    assert played[3] == audio[480:] and played[4] is None  # a partial frame is not padded


def test_mark_on_empty_queue_and_clear() -> None:
    playback = Playback()
    playback.add_mark("now")
    assert playback.pending_echoes == ["now"]
    playback.pending_echoes.clear()
    playback.add_audio(b"\x00" * 1600)
    playback.add_mark("m1")
    playback.add_audio(b"\x00" * 1600)
    playback.add_mark("m2")
    assert playback.drain() is not None and playback.pending_echoes == []
    playback.clear()
    assert playback.pending_echoes == ["m1", "m2"] and playback.drain() is None


def test_is_voiced() -> None:
    speech = encode_speech("Hej då!")
    assert is_voiced(speech[800:960])
    assert not is_voiced(b"\xff" * 160) and not is_voiced(b"\x7f" * 160)
