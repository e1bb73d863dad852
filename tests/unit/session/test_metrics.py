"""Call metrics: loss from chunk gaps, clarity, quality thresholds."""

from __future__ import annotations

import base64

from engine.domain import ConnectionQuality
from engine.session.metrics import CallMetrics, connection_quality


def test_loss_and_duplicates_from_chunks() -> None:
    m = CallMetrics()
    accepted = [m.on_media(c) for c in [1, 2, 3, 5, 6, 6, 4, 10]]
    assert accepted == [True, True, True, True, True, False, False, True]
    assert m.frames_lost == 1 + 3 and m.frames_dropped == 2 and m.frames_in == 6
    assert m.packet_loss_pct == round(100 * 4 / 10, 2)


def test_clarity_and_silence() -> None:
    m = CallMetrics()
    silence = base64.b64encode(b"\xff" * 160).decode()
    loud = base64.b64encode(bytes([0x1F, 0x9F] * 80)).decode()  # mid-level speech
    clipped = base64.b64encode(bytes([0x00, 0x80] * 80)).decode()
    for p in [silence, loud, loud, silence]:
        m.sample_audio(p)
    assert m.silence_ratio == 0.5
    good = m.clarity()
    assert good is not None and good > 0.8
    m.sample_audio(clipped)
    bad = m.clarity()
    assert bad is not None and bad < good


def test_quality_thresholds() -> None:
    assert connection_quality(0.0, 500, 0) is ConnectionQuality.EXCELLENT
    assert connection_quality(2.0, 500, 0) is ConnectionQuality.GOOD
    assert connection_quality(5.0, 500, 0) is ConnectionQuality.FAIR
    assert connection_quality(20.0, 500, 0) is ConnectionQuality.POOR
    assert connection_quality(0.0, None, 5) is ConnectionQuality.POOR


def test_record() -> None:
    m = CallMetrics()
    m.on_media(1)
    m.on_turn_latency(400)
    m.on_turn_latency(600)
    m.error("realtime_reconnect", 1000)
    m.bytes_in = 4096
    rec = m.record()
    assert rec.latency_ms == 500 and rec.bandwidth_usage_kb == 4
    assert rec.technical_errors["counts"] == {"realtime_reconnect": 1}
    assert rec.connection_quality is ConnectionQuality.GOOD
