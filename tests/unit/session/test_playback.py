"""What the caller heard: marks per chunk group, media timestamps, barge-in offsets."""

from __future__ import annotations

from engine.session.playback import MarkKind, Playback


def test_marks_per_group_not_per_frame() -> None:
    p = Playback(group_bytes=800)
    assert p.before_audio("i1", 0.0) == "s1"
    marks = [p.after_audio(160, 0.0) for _ in range(10)]
    assert [m for m in marks if m] == ["g2", "g3"]  # one mark per 800 bytes (100 ms)
    assert p.before_audio("i1", 0.0) is None
    assert p.audio_done("i1", 0.0) == "e4"


def test_played_offset_from_media_clock_bounded_by_marks_and_sent() -> None:
    p = Playback(group_bytes=800)
    p.on_media_timestamp(1000)
    p.before_audio("i1", 0.0)
    for _ in range(25):
        p.after_audio(160, 0.0)  # 4000 bytes = 500 ms sent
    p.on_media_timestamp(1300)
    assert p.played_ms() == 300
    p.on_media_timestamp(2000)
    assert p.played_ms() == 500  # never more than was sent
    echo = p.on_echo("g3", 1.0)  # confirmed 1600 bytes = 200 ms
    assert echo is not None and echo.kind is MarkKind.GROUP
    p.latest_media_ms = 1100
    assert p.played_ms() == 200  # never less than a confirmed mark


def test_cut_forgets_pending_marks_and_ignores_cleared_echoes() -> None:
    p = Playback(group_bytes=800)
    p.on_media_timestamp(0)
    p.before_audio("i1", 0.0)
    for _ in range(10):
        p.after_audio(160, 0.0)
    p.on_media_timestamp(120)
    assert p.playing()
    assert p.cut() == ("i1", 120)
    assert p.on_echo("g2", 1.0) is None  # echoed by clear: not proof of playback
    assert not p.playing() and p.cut() is None


def test_end_mark_means_heard_in_full() -> None:
    p = Playback()
    p.before_audio("i1", 0.0)
    p.after_audio(160, 0.0)
    end = p.audio_done("i1", 0.0)
    assert end is not None
    echo = p.on_echo(end, 0.5)
    assert echo is not None and echo.kind is MarkKind.END and echo.rtt == 0.5
    assert "i1" in p.heard_in_full and not p.playing()
