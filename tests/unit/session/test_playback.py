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


def test_default_group_is_8000_bytes_and_the_boundary_counts() -> None:
    p = Playback()
    p.before_audio("i1", 0.0)
    assert p.after_audio(7999, 0.0) is None
    assert p.after_audio(1, 0.0) == "g2"  # exactly a full group
    assert p.after_audio(7999, 0.0) is None  # counting starts again after a mark


def test_nothing_plays_before_audio_is_sent() -> None:
    p = Playback()
    assert not p.playing() and p.cut() is None and p.played_ms() == 0
    p.before_audio("i1", 0.0)
    assert not p.playing()  # a start mark alone is no audio
    p.after_audio(160, 0.0)
    assert p.playing()


def test_a_new_item_starts_its_own_count_and_clock() -> None:
    p = Playback(group_bytes=800)
    p.on_media_timestamp(500)
    p.before_audio("i1", 0.0)
    for _ in range(10):
        p.after_audio(160, 0.0)  # 1600 bytes = 200 ms
    g = p.on_echo("g2", 0.1)
    assert g is not None and p.confirmed_bytes == 800
    p.on_media_timestamp(900)
    assert p.before_audio("i2", 1.0) == "s4"
    assert (p.item_id, p.sent_bytes, p.confirmed_bytes) == ("i2", 0, 0)
    p.after_audio(400, 1.0)
    assert p.played_ms() == 0  # the media clock counts from i2's start (900), not i1's
    p.on_media_timestamp(940)
    assert p.played_ms() == 40
    assert p.after_audio(400, 1.0) == "g5"  # i2's first group, not i1's leftovers
    # A late echo of i1's mark confirms nothing about i2.
    late = p.on_echo("g3", 1.2)
    assert late is not None and late.item_id == "i1" and p.confirmed_bytes == 0


def test_echoes_measure_round_trips_once() -> None:
    p = Playback(group_bytes=800)
    start = p.before_audio("i1", 2.0)
    assert start is not None
    echo = p.on_echo(start, 2.25)
    assert echo is not None and echo.kind is MarkKind.START and echo.rtt == 0.25
    assert p.on_echo(start, 2.5) is None  # duplicate
    assert p.on_echo("g99", 2.5) is None  # unknown


def test_end_marks_only_for_the_current_uncut_item() -> None:
    p = Playback(group_bytes=800)
    p.before_audio("i1", 0.0)
    p.after_audio(160, 0.0)
    assert p.audio_done("other", 0.0) is None
    assert p.cut() == ("i1", 0)
    assert p.audio_done("i1", 0.0) is None  # cut: it will never be heard in full
    assert "i1" in p.cut_items and not p.playing()


def test_done_item_stops_playing_when_the_media_clock_passes_its_length() -> None:
    p = Playback(group_bytes=8000)
    p.on_media_timestamp(1000)
    p.before_audio("i1", 0.0)
    p.after_audio(1600, 0.0)  # 200 ms
    p.audio_done("i1", 0.0)
    p.on_media_timestamp(1199)
    assert p.playing()
    p.on_media_timestamp(1200)
    assert not p.playing()
    p.on_media_timestamp(1100)  # timestamps never go back
    assert p.latest_media_ms == 1200


def test_unfinished_item_plays_on_even_past_its_length() -> None:
    p = Playback(group_bytes=8000)
    p.before_audio("i1", 0.0)
    p.after_audio(1600, 0.0)
    p.on_media_timestamp(5000)
    assert p.playing()  # more audio may still come
    assert p.cut() == ("i1", 200)


def test_milliseconds_are_whole_and_count_from_media_time_zero() -> None:
    p = Playback(group_bytes=800)
    p.before_audio("i1", 0.0)  # the media clock is still at 0
    assert p.after_audio(1, 0.0) is None and p.playing()  # one byte is audio
    p.after_audio(800, 0.0)  # 801 bytes: a group mark at 801
    p.on_echo("g2", 0.1)
    assert p.played_ms() == 100  # 801 // 8, confirmed
    p.after_audio(800, 0.0)  # 1601 bytes
    p.on_media_timestamp(5000)
    assert p.played_ms() == 200  # never more than sent: 1601 // 8
    p.audio_done("i1", 0.0)
    q = Playback(group_bytes=8000)
    q.before_audio("i1", 0.0)
    q.after_audio(1601, 0.0)
    q.audio_done("i1", 0.0)
    q.on_media_timestamp(199)
    assert q.playing()
    q.on_media_timestamp(200)
    assert not q.playing()  # 200 ms of media time covers 1601 bytes' whole milliseconds
