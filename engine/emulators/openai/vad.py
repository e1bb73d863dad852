"""Server VAD: energy based, in audio time, over 8 kHz mu-law.

The real API decides speech with a model; we use the RMS level of each 20 ms
frame (decoded with the codec's mu-law table). ``threshold`` (0–1) maps
linearly onto a level in dBFS: 0 → -70 dBFS, 0.5 → -40 dBFS, 1 → -10 dBFS.
Times are milliseconds of audio received since the session started, exactly
what ``audio_start_ms`` / ``audio_end_ms`` report, so the detector is
independent of how fast the client sends.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque

from engine.emulators.speech import FRAME_BYTES, ULAW_TO_LINEAR

FRAME_MS = 20
_BYTES_PER_MS = 8
_SQUARES = tuple(v * v for v in ULAW_TO_LINEAR)
_STRIDE = 3
"""Every third sample is enough for a level estimate (a stride that divides 8000/f would alias tones to DC)."""
_MIN_SPEECH_FRAMES = 2
"""Consecutive loud frames before speech counts as started (a click is not a turn)."""
MAX_MANUAL_BUFFER_BYTES = 15 * 60 * 8000
"""Manual-commit mode keeps at most 15 minutes of audio (the real API caps appends at 15 MiB)."""


def threshold_to_mean_square(threshold: float) -> float:
    dbfs = -70.0 + 60.0 * min(max(threshold, 0.0), 1.0)
    rms = 32768.0 * math.pow(10.0, dbfs / 20.0)
    return rms * rms * len(range(0, FRAME_BYTES, _STRIDE))


@dataclasses.dataclass(frozen=True)
class VadConfig:
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500


@dataclasses.dataclass(frozen=True)
class SpeechStarted:
    audio_start_ms: int


@dataclasses.dataclass(frozen=True)
class SpeechStopped:
    audio_end_ms: int
    audio_start_ms: int
    audio: bytes
    """The utterance: prefix padding + speech + the trailing silence."""


VadEvent = SpeechStarted | SpeechStopped


class EnergyVad:
    """Turn detection over a mu-law stream. ``config=None`` means manual commits (no detection)."""

    def __init__(self, config: VadConfig | None) -> None:
        self._config = config
        self._sum_limit = threshold_to_mean_square(config.threshold) if config else 0.0
        self._partial = b""
        self._frames_seen = 0
        self._prefix: deque[bytes] = deque(maxlen=self._prefix_frames())
        self._onset: list[bytes] = []
        self._utterance: bytearray | None = None
        self._start_ms = 0
        self._silent_frames = 0
        self._manual = bytearray()

    def _prefix_frames(self) -> int:
        return self._config.prefix_padding_ms // FRAME_MS if self._config else 0

    @property
    def config(self) -> VadConfig | None:
        return self._config

    @property
    def speaking(self) -> bool:
        return self._utterance is not None

    @property
    def audio_ms(self) -> int:
        """Audio received so far (whole frames), in ms."""
        return self._frames_seen * FRAME_MS

    def reconfigure(self, config: VadConfig | None) -> None:
        if config == self._config:
            return
        self._config = config
        self._sum_limit = threshold_to_mean_square(config.threshold) if config else 0.0
        self._prefix = deque(self._prefix, maxlen=self._prefix_frames())
        self._onset.clear()
        self._utterance = None
        self._silent_frames = 0

    def feed(self, mulaw: bytes) -> list[VadEvent]:
        data = self._partial + mulaw if self._partial else mulaw
        whole = len(data) - len(data) % FRAME_BYTES
        self._partial = data[whole:]
        events: list[VadEvent] = []
        for offset in range(0, whole, FRAME_BYTES):
            event = self._frame(data[offset : offset + FRAME_BYTES])
            if event is not None:
                events.append(event)
        return events

    def _frame(self, frame: bytes) -> VadEvent | None:
        self._frames_seen += 1
        if self._config is None:
            if len(self._manual) < MAX_MANUAL_BUFFER_BYTES:
                self._manual += frame
            return None
        loud = sum(map(_SQUARES.__getitem__, frame[::_STRIDE])) >= self._sum_limit
        if self._utterance is None:
            if not loud:
                self._prefix.extend(self._onset)
                self._onset.clear()
                self._prefix.append(frame)
                return None
            self._onset.append(frame)
            if len(self._onset) < _MIN_SPEECH_FRAMES:
                return None
            first_loud_frame = self._frames_seen - len(self._onset)
            self._start_ms = (first_loud_frame - len(self._prefix)) * FRAME_MS
            self._utterance = bytearray(b"".join(self._prefix) + b"".join(self._onset))
            self._prefix.clear()
            self._onset.clear()
            self._silent_frames = 0
            return SpeechStarted(audio_start_ms=self._start_ms)
        self._utterance += frame
        self._silent_frames = 0 if loud else self._silent_frames + 1
        if self._silent_frames * FRAME_MS < self._config.silence_duration_ms:
            return None
        audio = bytes(self._utterance)
        self._utterance = None
        self._silent_frames = 0
        return SpeechStopped(audio_end_ms=self.audio_ms, audio_start_ms=self._start_ms, audio=audio)

    def buffered_ms(self) -> int:
        return len(self.peek_buffer()) // _BYTES_PER_MS

    def peek_buffer(self) -> bytes:
        if self._config is None:
            return bytes(self._manual)
        if self._utterance is not None:
            return bytes(self._utterance)
        return b"".join(self._prefix) + b"".join(self._onset)

    def take_buffer(self) -> tuple[int, bytes]:
        """For a client ``input_audio_buffer.commit``: (start ms, audio); the buffer is emptied."""
        audio = self.peek_buffer()
        start_ms = self.audio_ms - len(audio) // _BYTES_PER_MS
        self.clear()
        return start_ms, audio

    def clear(self) -> None:
        self._manual.clear()
        self._prefix.clear()
        self._onset.clear()
        self._utterance = None
        self._silent_frames = 0
