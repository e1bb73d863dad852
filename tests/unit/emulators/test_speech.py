"""The text-in-audio codec: round trips through mu-law, any frame split, corruption detected."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.emulators.speech import (
    FRAME_BYTES,
    SILENCE_BYTE,
    ULAW_TO_LINEAR,
    SpeechDecoder,
    decode_speech,
    encode_speech,
    linear_to_ulaw,
    silence,
    speech_duration_s,
    split_frames,
)

SWEDISH = [
    "Det var bra.",
    "Frukt och grönt var fräscht, men kön vid kassan var lång i dag.",
    "ring inte igen",
    "Hej då!",
]


def test_ulaw_tables_round_trip() -> None:
    import numpy as np

    assert ULAW_TO_LINEAR[SILENCE_BYTE] == 0
    assert len(ULAW_TO_LINEAR) == 256
    # Every mu-law code decodes to a level that encodes back to the same code
    # (0x7F and 0xFF are both zero; G.711 encoders emit 0xFF).
    codes = bytes(range(256))
    back = linear_to_ulaw(np.array([ULAW_TO_LINEAR[c] for c in codes], dtype=float))
    mismatches = [c for c, b in zip(codes, back, strict=True) if c != b]
    assert mismatches == [0x7F]


def test_round_trip_frame_by_frame() -> None:
    for text in SWEDISH:
        audio = encode_speech(text)
        assert len(audio) % FRAME_BYTES == 0
        decoder = SpeechDecoder()
        out: list[str] = []
        for frame in split_frames(audio):
            out += decoder.feed(frame)
        assert out == [text]
        assert decoder.errors == 0


def test_duration_is_speech_like() -> None:
    short, long_ = speech_duration_s("Ja."), speech_duration_s("x" * 130)
    assert 0.4 <= short <= 1.0
    assert 9.0 <= long_ <= 11.0


@settings(max_examples=25, deadline=None)
@given(
    texts=st.lists(st.text(min_size=1, max_size=60), min_size=1, max_size=3),
    seed=st.integers(0, 2**32 - 1),
)
def test_arbitrary_text_and_splits(texts: list[str], seed: int) -> None:
    stream = b"".join(encode_speech(t) + silence(0.2) for t in texts)
    rng = random.Random(seed)
    decoder = SpeechDecoder()
    out: list[str] = []
    i = 0
    while i < len(stream):
        n = rng.randint(1, 900)
        out += decoder.feed(stream[i : i + n])
        i += n
    assert out == texts


def test_dropped_frame_inside_data_is_detected_never_misheard() -> None:
    text = SWEDISH[1]
    frames = split_frames(encode_speech(text))
    for k in range(3, 20):
        damaged = b"".join(frames[:k] + frames[k + 1 :])
        decoder = SpeechDecoder()
        assert decoder.feed(damaged) == []
        assert decoder.errors >= 1


def test_duplicated_and_reordered_frames_are_detected() -> None:
    frames = split_frames(encode_speech(SWEDISH[1]))
    duplicated = b"".join([*frames[:6], frames[5], *frames[6:]])
    reordered = b"".join([*frames[:6], frames[7], frames[6], *frames[8:]])
    for damaged in (duplicated, reordered):
        assert decode_speech(damaged) == []


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_random_corruption_never_yields_wrong_text(seed: int) -> None:
    rng = random.Random(seed)
    text = SWEDISH[rng.randrange(len(SWEDISH))]
    audio = bytearray(encode_speech(text))
    for _ in range(rng.randint(1, 30)):
        audio[rng.randrange(len(audio))] = rng.randrange(256)
    assert set(decode_speech(bytes(audio))) <= {text}


def test_silence_decodes_to_nothing() -> None:
    decoder = SpeechDecoder()
    assert decoder.feed(silence(1.0)) == []
    assert decoder.errors == 0
