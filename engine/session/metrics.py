"""Per-call measurements → one call_quality_metrics row.

Cheap on the hot path: counters and timestamps only; audio level/clipping is
sampled on one inbound frame in ``CLARITY_SAMPLE_EVERY`` (base64-decoded and
mapped through 256-entry tables). Thresholds for ``connection_quality`` are
documented in docs/session.md.
"""

from __future__ import annotations

import binascii
import math
import statistics
from typing import Any

from engine.domain import ConnectionQuality
from engine.session.store import CallMetricsRecord

CLARITY_SAMPLE_EVERY = 5
MAX_ERROR_EVENTS = 50


def _ulaw_to_linear(byte: int) -> int:
    u = ~byte & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return -magnitude if sign else magnitude


# |sample| scaled to 0..255 (full scale 32124 → 255) and "clipped" (top of the mu-law range).
_LEVEL = bytes(min(255, abs(_ulaw_to_linear(b)) * 255 // 32124) for b in range(256))
_CLIPPED = bytes(1 if abs(_ulaw_to_linear(b)) >= 30000 else 0 for b in range(256))
SILENCE_LEVEL = 2
"""Mean scaled level below which a frame counts as silence (≈ -42 dBFS)."""

# connection_quality thresholds: (max packet loss %, max mean turn latency ms, max technical errors)
QUALITY_THRESHOLDS: list[tuple[ConnectionQuality, float, float, int]] = [
    (ConnectionQuality.EXCELLENT, 1.0, 1200.0, 0),
    (ConnectionQuality.GOOD, 3.0, 2000.0, 1),
    (ConnectionQuality.FAIR, 8.0, 3500.0, 3),
]


def connection_quality(loss_pct: float, latency_ms: float | None, errors: int) -> ConnectionQuality:
    latency = latency_ms if latency_ms is not None else 0.0
    for quality, max_loss, max_latency, max_errors in QUALITY_THRESHOLDS:
        if loss_pct <= max_loss and latency <= max_latency and errors <= max_errors:
            return quality
    return ConnectionQuality.POOR


class CallMetrics:
    """Accumulates one call's measurements; ``record()`` builds the row."""

    def __init__(self) -> None:
        self.frames_in = 0
        self.frames_lost = 0
        self.frames_dropped = 0  # duplicates / out of order, discarded
        self._last_chunk = 0
        self._sampled = 0
        self._silent = 0
        self._level_sum = 0.0
        self._clipped = 0
        self._samples = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.turn_latencies_ms: list[float] = []
        self.mark_latencies_ms: list[float] = []
        self.api_latencies_ms: list[float] = []
        self.errors: dict[str, int] = {}
        self.error_events: list[dict[str, Any]] = []
        self.language_drift = 0
        self.realtime_renewals = 0
        self.customer_lines = 0
        self.conversation: dict[str, int] = {}
        """How the model steered the call (tool calls, rejected calls, speech after end_call, a spoken
        opt-out the safety net caught): device_info, not technical errors."""

    # --- inbound media
    def on_media(self, chunk: int) -> bool:
        """Account one inbound frame by its chunk number; False = duplicate/out of order (drop it)."""
        if chunk <= self._last_chunk:
            self.frames_dropped += 1
            return False
        if self._last_chunk and chunk > self._last_chunk + 1:
            self.frames_lost += chunk - self._last_chunk - 1
        elif not self._last_chunk and chunk > 1:
            self.frames_lost += chunk - 1
        self._last_chunk = chunk
        self.frames_in += 1
        return True

    def want_clarity_sample(self) -> bool:
        return self.frames_in % CLARITY_SAMPLE_EVERY == 1

    def sample_audio(self, payload_b64: str) -> None:
        try:
            frame = binascii.a2b_base64(payload_b64)
        except binascii.Error:
            return
        if not frame:
            return
        level = sum(frame.translate(_LEVEL)) / len(frame)
        self._sampled += 1
        if level < SILENCE_LEVEL:
            self._silent += 1
            return
        self._level_sum += level
        self._clipped += frame.translate(_CLIPPED).count(1)
        self._samples += len(frame)

    # --- timings
    def on_turn_latency(self, ms: float) -> None:
        self.turn_latencies_ms.append(ms)

    def on_mark_latency(self, ms: float) -> None:
        self.mark_latencies_ms.append(ms)

    def on_api_latency(self, ms: float) -> None:
        self.api_latencies_ms.append(ms)

    def count(self, kind: str) -> None:
        self.conversation[kind] = self.conversation.get(kind, 0) + 1

    def error(self, kind: str, at_ms: int | None = None) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.error_events) < MAX_ERROR_EVENTS:
            self.error_events.append({"kind": kind, "at_ms": at_ms})

    # --- results
    @property
    def packet_loss_pct(self) -> float:
        total = self.frames_in + self.frames_lost
        return round(100.0 * self.frames_lost / total, 2) if total else 0.0

    @property
    def silence_ratio(self) -> float | None:
        return round(self._silent / self._sampled, 3) if self._sampled else None

    def clarity(self) -> float | None:
        """0–1: penalises clipping and speech far from a comfortable level; None if no speech sampled."""
        if not self._samples:
            return None
        speech_frames = self._sampled - self._silent
        mean_level = self._level_sum / speech_frames
        level_db = 20 * math.log10(max(mean_level, 1e-3) / 255)
        level_factor = 1.0 if -35 <= level_db <= -3 else max(0.2, 1 - (abs(level_db + 19) - 16) / 30)
        clip_ratio = self._clipped / self._samples
        return round(max(0.0, min(1.0, level_factor * (1 - 10 * clip_ratio))), 2)

    @staticmethod
    def _mean(values: list[float]) -> int | None:
        return round(statistics.fmean(values)) if values else None

    media = "streams"
    """``sip``: the audio never passed through the engine (see :meth:`record`)."""

    def record(self) -> CallMetricsRecord:
        if self.media == "sip":
            return self._sip_record()
        latency = self._mean(self.turn_latencies_ms)
        n_errors = sum(self.errors.values())
        return CallMetricsRecord(
            connection_quality=connection_quality(self.packet_loss_pct, latency, n_errors),
            audio_clarity_score=self.clarity(),
            latency_ms=latency,
            packet_loss_percentage=self.packet_loss_pct,
            openai_api_latency=self._mean(self.api_latencies_ms),
            technical_errors={"counts": dict(self.errors), "events": list(self.error_events)},
            bandwidth_usage_kb=round((self.bytes_in + self.bytes_out) / 1024),
            device_info={
                "codec": "audio/x-mulaw;rate=8000",
                "frames_in": self.frames_in,
                "frames_lost": self.frames_lost,
                "frames_dropped": self.frames_dropped,
                "silence_ratio": self.silence_ratio,
                "mark_latency_ms": self._mean(self.mark_latencies_ms),
                "turn_latency_max_ms": round(max(self.turn_latencies_ms)) if self.turn_latencies_ms else None,
                "language_drift_lines": self.language_drift,
                "realtime_renewals": self.realtime_renewals,
                "customer_lines": self.customer_lines,
                "conversation": dict(self.conversation),
            },
        )

    def _sip_record(self) -> CallMetricsRecord:
        """SIP media: no frames, no marks, no audio here. What only the audio shows is left
        empty (None) and named in ``device_info.not_observed`` rather than estimated; the turn
        latency is measured to ``output_audio_buffer.started`` (the server began playing)."""
        latency = self._mean(self.turn_latencies_ms)
        n_errors = sum(self.errors.values())
        return CallMetricsRecord(
            # loss is not observable: rated on latency and errors only
            connection_quality=connection_quality(0.0, latency, n_errors),
            audio_clarity_score=None,
            latency_ms=latency,
            packet_loss_percentage=None,
            openai_api_latency=self._mean(self.api_latencies_ms),
            technical_errors={"counts": dict(self.errors), "events": list(self.error_events)},
            bandwidth_usage_kb=round((self.bytes_in + self.bytes_out) / 1024),
            device_info={
                "media": "sip",
                "codec": "negotiated by SIP (not observed)",
                "not_observed": SIP_NOT_OBSERVED,
                "turn_latency_max_ms": round(max(self.turn_latencies_ms)) if self.turn_latencies_ms else None,
                "language_drift_lines": self.language_drift,
                "realtime_renewals": self.realtime_renewals,
                "customer_lines": self.customer_lines,
                "conversation": dict(self.conversation),
            },
        )


SIP_NOT_OBSERVED = [
    "packet_loss_percentage",
    "audio_clarity_score",
    "mark_latency_ms",
    "frames_in",
    "frames_lost",
    "silence_ratio",
]
"""Measures the SIP path cannot take: the audio and Twilio's marks never reach the engine."""
