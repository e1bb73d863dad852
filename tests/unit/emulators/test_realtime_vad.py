"""Energy VAD over mu-law, in audio time: thresholds, prefix padding, silence duration, any split."""

from __future__ import annotations

import numpy as np
import pytest

from engine.emulators.openai.vad import EnergyVad, SpeechStarted, SpeechStopped, VadConfig
from engine.emulators.speech import decode_speech, encode_speech, linear_to_ulaw, silence


def tone(ms: int, dbfs: float = -20.0) -> bytes:
    n = ms * 8
    amplitude = 32768 * 10 ** (dbfs / 20) * np.sqrt(2)
    return linear_to_ulaw(amplitude * np.sin(2 * np.pi * 440 * np.arange(n) / 8000))


def run(vad: EnergyVad, audio: bytes, chunk: int = 160) -> list[SpeechStarted | SpeechStopped]:
    events = []
    for i in range(0, len(audio), chunk):
        events.extend(vad.feed(audio[i : i + chunk]))
    return events


def test_silence_only_is_quiet() -> None:
    vad = EnergyVad(VadConfig())
    assert run(vad, silence(3.0)) == []
    assert vad.audio_ms == 3000


def test_start_includes_prefix_padding_and_stop_includes_silence() -> None:
    vad = EnergyVad(VadConfig(prefix_padding_ms=300, silence_duration_ms=500))
    events = run(vad, silence(1.0) + tone(800) + silence(1.0))
    assert len(events) == 2
    started, stopped = events
    assert isinstance(started, SpeechStarted) and isinstance(stopped, SpeechStopped)
    assert started.audio_start_ms == 1000 - 300
    assert stopped.audio_end_ms == 1000 + 800 + 500
    assert stopped.audio_start_ms == 700
    assert len(stopped.audio) == (stopped.audio_end_ms - stopped.audio_start_ms) * 8


def test_short_pause_does_not_split_a_turn() -> None:
    vad = EnergyVad(VadConfig(silence_duration_ms=500))
    events = run(vad, tone(400) + silence(0.3) + tone(400) + silence(0.6))
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]


@pytest.mark.parametrize(("threshold", "detected"), [(0.1, True), (0.5, False)])
def test_threshold_maps_to_level(threshold: float, detected: bool) -> None:
    vad = EnergyVad(VadConfig(threshold=threshold))
    events = run(vad, tone(600, dbfs=-50) + silence(1.0))
    assert bool(events) is detected


def test_a_click_is_not_speech() -> None:
    assert run(EnergyVad(VadConfig()), silence(0.2) + tone(20) + silence(1.0)) == []


@pytest.mark.parametrize("chunk", [1, 77, 160, 333, 4000])
def test_any_split_gives_the_same_turn_and_it_decodes(chunk: int) -> None:
    audio = silence(0.4) + encode_speech("Det var bra") + silence(0.8)
    events = run(EnergyVad(VadConfig()), audio, chunk)
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]
    stopped = events[1]
    assert isinstance(stopped, SpeechStopped)
    assert decode_speech(stopped.audio + silence(0.2)) == ["Det var bra"]


def test_manual_mode_buffers_everything() -> None:
    vad = EnergyVad(None)
    assert run(vad, tone(300) + silence(0.5)) == []
    assert vad.buffered_ms() == 800
    start_ms, audio = vad.take_buffer()
    assert (start_ms, len(audio)) == (0, 6400)
    assert vad.buffered_ms() == 0


def test_reconfigure_to_manual_and_back() -> None:
    vad = EnergyVad(VadConfig())
    vad.reconfigure(None)
    assert run(vad, tone(300) + silence(1.0)) == []
    vad.reconfigure(VadConfig())
    assert len(run(vad, tone(300) + silence(1.0))) == 2
