"""Speech that carries its text: a modem inside the telephone voice band.

The simulated customer and the emulated AI voice "speak" by modulating the
UTF-8 text of the utterance onto 8 kHz mu-law audio, and "hear" by
demodulating what actually arrived. A transcript therefore comes out right only
if every audio byte travelled through the engine intact and in order; a lost,
duplicated or reordered frame breaks the CRC and the utterance is dropped (and
counted), never mis-heard.

Signal: continuous-phase binary FSK at 400 baud, mark 1200 Hz / space 2000 Hz
(tone spacing 2/T, so the tones are orthogonal over one bit), UART framing
(start bit = space, 8 data bits LSB first, stop bit = mark, line idles at
mark). Packet: ``MAGIC(2) LEN(2, big-endian) UTF-8 payload CRC32(4)``. After the
packet the line idles at mark until the utterance has lasted about as long as
real speech (~13 characters/s), so energy VADs see one continuous utterance
of realistic length. Everything is padded to whole 20 ms frames.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

SAMPLE_RATE = 8000
FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law
SILENCE_BYTE = 0xFF
CHARS_PER_SECOND = 13.0

_BAUD = 400
_SPB = SAMPLE_RATE // _BAUD  # samples per bit: 20
_MARK_HZ = 1200.0
_SPACE_HZ = 2000.0
_AMPLITUDE = 9000.0
_MAGIC = b"\xa5\x5a"
_PREAMBLE_S = 0.06
_MIN_UTTERANCE_S = 0.5
_MAX_PAYLOAD = 4096
# A window whose stronger tone has less energy than this is "no signal".
_PRESENCE = (0.1 * _AMPLITUDE * _SPB / 2) ** 2


def _ulaw_decode_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        u = ~byte & 0xFF
        sign = u & 0x80
        exponent = (u >> 4) & 0x07
        mantissa = u & 0x0F
        sample = (((mantissa << 3) + 0x84) << exponent) - 0x84
        table.append(-sample if sign else sample)
    return tuple(table)


ULAW_TO_LINEAR: tuple[int, ...] = _ulaw_decode_table()
"""256-entry mu-law byte → 16-bit linear PCM sample (ITU-T G.711)."""

_ULAW_TO_LINEAR_NP = np.array(ULAW_TO_LINEAR, dtype=np.float64)


def _ulaw_encode_table() -> np.ndarray:
    exp_lut = [0] * 256
    for i in range(256):
        exp_lut[i] = max(0, i.bit_length() - 1)
    out = np.empty(65536, dtype=np.uint8)
    for index in range(65536):
        s = index - 32768
        sign = 0x80 if s < 0 else 0
        if s < 0:
            s = -s
        s = min(s, 32635) + 0x84
        exponent = exp_lut[(s >> 7) & 0xFF]
        mantissa = (s >> (exponent + 3)) & 0x0F
        out[index] = ~(sign | (exponent << 4) | mantissa) & 0xFF
    return out


_LINEAR_TO_ULAW_NP = _ulaw_encode_table()


def linear_to_ulaw(samples: np.ndarray) -> bytes:
    """16-bit linear PCM samples (any numeric array) → mu-law bytes."""
    clipped = np.clip(np.rint(samples), -32768, 32767).astype(np.int64) + 32768
    return bytes(_LINEAR_TO_ULAW_NP[clipped].tobytes())


def ulaw_to_linear(data: bytes) -> np.ndarray:
    """mu-law bytes → float64 linear samples."""
    return np.asarray(_ULAW_TO_LINEAR_NP[np.frombuffer(data, dtype=np.uint8)])


def split_frames(audio: bytes, frame_bytes: int = FRAME_BYTES) -> list[bytes]:
    """Cut audio into ``frame_bytes`` chunks; the last one is padded with silence."""
    frames = [audio[i : i + frame_bytes] for i in range(0, len(audio), frame_bytes)]
    if frames and len(frames[-1]) < frame_bytes:
        frames[-1] = frames[-1] + bytes([SILENCE_BYTE]) * (frame_bytes - len(frames[-1]))
    return frames


def silence(seconds: float) -> bytes:
    """Whole frames of mu-law silence lasting at least ``seconds``."""
    frames = max(0, int(np.ceil(seconds * SAMPLE_RATE / FRAME_BYTES)))
    return bytes([SILENCE_BYTE]) * (frames * FRAME_BYTES)


def _packet(text: str) -> bytes:
    payload = text.encode("utf-8")
    if len(payload) > _MAX_PAYLOAD:
        raise ValueError(f"utterance too long: {len(payload)} bytes (max {_MAX_PAYLOAD})")
    body = _MAGIC + struct.pack(">H", len(payload)) + payload
    return body + struct.pack(">I", zlib.crc32(body))


def _bits_for(data: bytes) -> list[int]:
    bits: list[int] = []
    for byte in data:
        bits.append(0)  # start bit: space
        bits.extend((byte >> i) & 1 for i in range(8))
        bits.append(1)  # stop bit: mark
    return bits


def encode_speech(text: str) -> bytes:
    """mu-law audio (8 kHz) whose voice-band modem signal carries ``text``."""
    data_bits = _bits_for(_packet(text))
    preamble_bits = int(_PREAMBLE_S * _BAUD)
    target_s = max(_MIN_UTTERANCE_S, len(text) / CHARS_PER_SECOND)
    total_bits = max(preamble_bits + len(data_bits) + 4, int(np.ceil(target_s * _BAUD)))
    bits = np.ones(total_bits, dtype=np.int8)  # idle = mark
    bits[preamble_bits : preamble_bits + len(data_bits)] = data_bits
    freqs = np.where(np.repeat(bits, _SPB) == 1, _MARK_HZ, _SPACE_HZ)
    phase = np.cumsum(2.0 * np.pi * freqs / SAMPLE_RATE)  # continuous phase
    samples = _AMPLITUDE * np.sin(phase)
    # Short fades so utterance edges do not click.
    ramp = min(40, samples.size // 4)
    if ramp:
        window = np.linspace(0.0, 1.0, ramp)
        samples[:ramp] *= window
        samples[-ramp:] *= window[::-1]
    audio = linear_to_ulaw(samples)
    pad = (-len(audio)) % FRAME_BYTES
    return audio + bytes([SILENCE_BYTE]) * pad


def speech_duration_s(text: str) -> float:
    """How long ``encode_speech(text)`` plays, in seconds."""
    return len(encode_speech(text)) / SAMPLE_RATE


class SpeechDecoder:
    """Streaming demodulator: feed audio as it arrives, get utterance texts back.

    Works with any split of the byte stream. A packet with a framing error,
    a bad length or a CRC mismatch is dropped and counted in ``errors``.
    """

    def __init__(self) -> None:
        self.errors = 0
        self.decoded = 0
        self.reset()

    def reset(self) -> None:
        self._tail = np.zeros(0, dtype=np.float64)  # last _SPB-1 samples of the previous chunk
        self._soft = np.zeros(0, dtype=np.float64)  # space-minus-mark energy per window end
        self._present = np.zeros(0, dtype=bool)
        self._bytes = bytearray()

    def feed(self, mulaw: bytes) -> list[str]:
        if not mulaw:
            return []
        samples = np.concatenate((self._tail, ulaw_to_linear(mulaw)))
        self._tail = samples[-(_SPB - 1) :]
        if samples.size < _SPB:
            return []
        n = np.arange(samples.size)
        soft, present = self._demodulate(samples, n)
        self._soft = np.concatenate((self._soft, soft))
        self._present = np.concatenate((self._present, present))
        return self._scan()

    @staticmethod
    def _demodulate(samples: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        def window_energy(freq: float) -> np.ndarray:
            mixed = samples * np.exp(-2j * np.pi * freq / SAMPLE_RATE * n)
            csum = np.concatenate(([0j], np.cumsum(mixed)))
            sums = csum[_SPB:] - csum[:-_SPB]
            return np.asarray(np.abs(sums) ** 2)

        mark = window_energy(_MARK_HZ)
        space = window_energy(_SPACE_HZ)
        return space - mark, np.maximum(mark, space) > _PRESENCE

    def _scan(self) -> list[str]:
        """Consume decisions: find start bits, read UART bytes, assemble packets."""
        texts: list[str] = []
        pos = 0
        soft, present = self._soft, self._present
        size = soft.size
        while True:
            # Next candidate start bit: signal present and space stronger than mark.
            candidates = np.flatnonzero(present[pos:] & (soft[pos:] > 0))
            gaps = np.flatnonzero(~present[pos:])
            if self._bytes and gaps.size and (candidates.size == 0 or gaps[0] < candidates[0]):
                self._drop_partial()
            if candidates.size == 0:
                pos = size
                break
            edge = pos + int(candidates[0])
            # The crossing happens about half a bit into the start bit; the window
            # fully inside bit k ends about 10 + 20k samples later.
            centre0 = edge + _SPB // 2 - 1
            last = centre0 + 9 * _SPB
            if last >= size:
                pos = edge
                break
            idx = centre0 + _SPB * np.arange(10)
            if not present[idx].all():
                self._drop_partial()
                pos = last + 1
                continue
            bits = (soft[idx] < 0).astype(np.int8)  # 1 = mark
            if bits[0] != 0 or bits[9] != 1:
                # Framing error: resynchronise one bit later.
                if self._bytes:
                    self._drop_partial()
                pos = edge + _SPB
                continue
            value = int(sum(int(b) << i for i, b in enumerate(bits[1:9])))
            self._bytes.append(value)
            text = self._try_packet()
            if text is not None:
                texts.append(text)
            pos = last + 1  # inside the stop bit (mark); the next start bit follows
        keep = max(0, min(pos, size))
        self._soft = soft[keep:]
        self._present = present[keep:]
        return texts

    def _drop_partial(self) -> None:
        if len(self._bytes) >= 1:
            self.errors += 1
        self._bytes.clear()

    def _try_packet(self) -> str | None:
        buf = self._bytes
        if len(buf) >= 1 and buf[0] != _MAGIC[0]:
            self.errors += 1
            buf.clear()
            return None
        if len(buf) >= 2 and buf[1] != _MAGIC[1]:
            self.errors += 1
            buf.clear()
            return None
        if len(buf) < 4:
            return None
        length = struct.unpack(">H", bytes(buf[2:4]))[0]
        if length > _MAX_PAYLOAD:
            self.errors += 1
            buf.clear()
            return None
        total = 4 + length + 4
        if len(buf) < total:
            return None
        body = bytes(buf[: 4 + length])
        (crc,) = struct.unpack(">I", bytes(buf[4 + length : total]))
        buf.clear()
        if zlib.crc32(body) != crc:
            self.errors += 1
            return None
        try:
            text = body[4:].decode("utf-8")
        except UnicodeDecodeError:
            self.errors += 1
            return None
        self.decoded += 1
        return text


def decode_speech(mulaw: bytes) -> list[str]:
    """Every utterance text in a complete recording."""
    decoder = SpeechDecoder()
    return decoder.feed(mulaw)
