from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.dispatch.windows import CallWindows
from engine.errors import ValidationError

STHLM = CallWindows("Europe/Stockholm")


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


def test_weekday_window_in_store_timezone() -> None:
    # Wed 2026-11-25, Stockholm is UTC+1 in winter: 09:00 local = 08:00 UTC.
    assert not STHLM.is_open(utc(2026, 11, 25, 7, 59))
    assert STHLM.is_open(utc(2026, 11, 25, 8, 0))
    assert STHLM.is_open(utc(2026, 11, 25, 18, 59))
    assert not STHLM.is_open(utc(2026, 11, 25, 19, 0))  # 20:00 local
    assert STHLM.next_open(utc(2026, 11, 25, 3, 0)) == utc(2026, 11, 25, 8, 0)
    assert STHLM.next_open(utc(2026, 11, 25, 10, 0)) == utc(2026, 11, 25, 10, 0)
    assert STHLM.closes_at(utc(2026, 11, 25, 10, 0)) == utc(2026, 11, 25, 19, 0)


def test_weekend_window_and_friday_evening() -> None:
    # Fri 2026-11-27 21:00 local → Sat 10:00 local (09:00 UTC).
    assert STHLM.next_open(utc(2026, 11, 27, 20, 0)) == utc(2026, 11, 28, 9, 0)
    # Sat 18:30 local → Sun 10:00 local.
    assert STHLM.next_open(utc(2026, 11, 28, 17, 30)) == utc(2026, 11, 29, 9, 0)
    # Sun 19:00 local → Mon 09:00 local.
    assert STHLM.next_open(utc(2026, 11, 29, 18, 0)) == utc(2026, 11, 30, 8, 0)


def test_other_timezones() -> None:
    ny = CallWindows("America/New_York")
    # 2026-11-25 13:00 UTC = 08:00 EST → opens 14:00 UTC.
    assert ny.next_open(utc(2026, 11, 25, 13, 0)) == utc(2026, 11, 25, 14, 0)
    tokyo = CallWindows("Asia/Tokyo")
    # 2026-11-25 12:00 UTC = 21:00 JST Wed → Thu 09:00 JST = 00:00 UTC.
    assert tokyo.next_open(utc(2026, 11, 25, 12, 0)) == utc(2026, 11, 26, 0, 0)


def test_dst_transitions_keep_wall_clock() -> None:
    # Sweden springs forward on Sun 2026-03-29 and falls back on Sun 2026-10-25.
    # Fri 2026-03-27 09:00 local is UTC+1 → 08:00 UTC; Mon 2026-03-30 09:00 is UTC+2 → 07:00 UTC.
    assert STHLM.next_open(utc(2026, 3, 27, 5, 0)) == utc(2026, 3, 27, 8, 0)
    assert STHLM.next_open(utc(2026, 3, 29, 17, 0)) == utc(2026, 3, 30, 7, 0)
    # The Sunday of the change itself: 10:00 local summer time = 08:00 UTC.
    assert STHLM.next_open(utc(2026, 3, 29, 0, 0)) == utc(2026, 3, 29, 8, 0)
    # Fall back: Sun 2026-10-25 10:00 local (UTC+1) = 09:00 UTC.
    assert STHLM.next_open(utc(2026, 10, 25, 0, 0)) == utc(2026, 10, 25, 9, 0)


def test_per_store_config() -> None:
    w = CallWindows.from_config(
        "Europe/Stockholm", {"weekdays": ["08:00", "17:00"], "sat": None, "sun": ["12:00", "14:00"]}
    )
    # Sat → closed → Sun 12:00 local (11:00 UTC)
    assert w.next_open(utc(2026, 11, 28, 10, 0)) == utc(2026, 11, 29, 11, 0)
    assert w.is_open(utc(2026, 11, 25, 7, 30))  # 08:30 local
    assert CallWindows.from_config(None, None) == CallWindows()


@pytest.mark.parametrize(
    "config",
    [{"weekdays": ["10:00"]}, {"weekdays": ["20:00", "09:00"]}, {"funday": None}, {"mon": ["x", "y"]}],
)
def test_bad_config_is_a_validation_error(config: dict[str, object]) -> None:
    with pytest.raises((ValidationError, ValueError)):
        CallWindows.from_config("Europe/Stockholm", config)


def test_unknown_timezone() -> None:
    with pytest.raises(ValidationError):
        CallWindows("Mars/Olympus")


def test_never_open_store() -> None:
    closed = CallWindows.from_config("UTC", {"weekdays": None, "weekends": None})
    assert closed.next_open(utc(2026, 11, 25, 12, 0)) is None


def test_naive_datetime_rejected() -> None:
    with pytest.raises(ValueError):
        STHLM.next_open(datetime(2026, 11, 25, 12, 0))


def _error(config: dict[str, object]) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        CallWindows.from_config("Europe/Stockholm", config)
    return info.value


def test_bad_config_names_the_field_and_the_shape() -> None:
    shape = 'expected ["HH:MM", "HH:MM"] or null'
    three = _error({"weekdays": ["09:00", "12:00", "17:00"]})
    assert (three.field, three.description) == ("call_windows.weekdays", shape)
    text = _error({"weekends": "09:00-17:00"})
    assert (text.field, text.description) == ("call_windows.weekends", shape)
    day = _error({"tue": ["9", "17:00"]})
    assert day.field == "call_windows.tue" and "9" in day.description
    empty = _error({"mon": ["10:00", "10:00"]})  # ends when it starts
    assert (empty.field, empty.description) == ("call_windows.mon", "a call window must end after it starts")
    unknown = _error({"funday": None, "mon": None})
    assert (unknown.field, unknown.description) == ("call_windows", "unknown keys: ['funday']")


def test_window_and_day_list_invariants() -> None:
    with pytest.raises(ValueError) as bad_days:
        CallWindows("UTC", (None,) * 6)
    assert str(bad_days.value) == "days must have 7 entries (Monday first)"
    with pytest.raises(ValidationError) as bad_zone:
        CallWindows("Mars/Olympus")
    assert bad_zone.value.field == "timezone"
    assert bad_zone.value.description == "unknown timezone 'Mars/Olympus'"
    with pytest.raises(ValueError) as naive:
        STHLM.next_open(datetime(2026, 11, 25, 12, 0))
    assert str(naive.value) == "when must be timezone-aware"


def test_weekend_override_and_day_override_wins() -> None:
    w = CallWindows.from_config(
        "Europe/Stockholm", {"weekends": ["11:00", "15:00"], "sun": ["12:00", "13:00"]}
    )
    # Sat 2026-11-28 11:00 local = 10:00 UTC; Sun keeps its own 12:00–13:00.
    assert w.next_open(utc(2026, 11, 28, 6, 0)) == utc(2026, 11, 28, 10, 0)
    assert w.closes_at(utc(2026, 11, 28, 12, 0)) == utc(2026, 11, 28, 14, 0)
    assert w.next_open(utc(2026, 11, 28, 15, 0)) == utc(2026, 11, 29, 11, 0)
    assert w.closes_at(utc(2026, 11, 29, 11, 30)) == utc(2026, 11, 29, 12, 0)
    # Weekdays keep the default.
    assert w.next_open(utc(2026, 11, 30, 0, 0)) == utc(2026, 11, 30, 8, 0)


def test_window_edges_are_half_open() -> None:
    opens, closes = utc(2026, 11, 25, 8, 0), utc(2026, 11, 25, 19, 0)  # Wed 09:00–20:00 local
    assert STHLM.closes_at(opens) == closes
    assert STHLM.closes_at(closes) is None
    assert STHLM.closes_at(utc(2026, 11, 25, 7, 0)) is None  # before opening on an open day
    assert STHLM.next_open(closes) == utc(2026, 11, 26, 8, 0)  # closing time is closed: next morning
    closed_sunday = CallWindows.from_config("UTC", {"sun": None})
    assert closed_sunday.closes_at(utc(2026, 11, 29, 12, 0)) is None
    assert not closed_sunday.is_open(utc(2026, 11, 29, 12, 0))


def test_results_are_utc_and_days_are_the_store_s_local_days() -> None:
    assert STHLM.next_open(utc(2026, 11, 25, 3, 0)).tzinfo is UTC
    assert STHLM.closes_at(utc(2026, 11, 25, 10, 0)).tzinfo is UTC  # type: ignore[union-attr]
    # Only Monday 00:00–01:00 local: Sun 23:30 UTC is already Monday 00:30 in Stockholm.
    night = CallWindows.from_config(
        "Europe/Stockholm", {"weekdays": None, "weekends": None, "mon": ["00:00", "01:00"]}
    )
    sunday_late = utc(2026, 11, 29, 23, 30)
    assert night.is_open(sunday_late)
    assert night.closes_at(sunday_late) == utc(2026, 11, 30, 0, 0)
    assert night.next_open(sunday_late) == sunday_late
    # Tokyo is ahead: Tue 01:00 JST is still Monday 16:00 UTC.
    tokyo = CallWindows.from_config(
        "Asia/Tokyo", {"weekdays": None, "weekends": None, "tue": ["00:30", "02:00"]}
    )
    assert tokyo.is_open(utc(2026, 11, 30, 16, 0))
    assert not tokyo.is_open(utc(2026, 11, 30, 14, 0))


def test_always_open_covers_every_moment() -> None:
    from engine.dispatch.windows import ALWAYS_OPEN

    for hour in (0, 12, 23):
        moment = utc(2026, 11, 29, hour, 59, 59)
        assert ALWAYS_OPEN.is_open(moment) and ALWAYS_OPEN.next_open(moment) == moment


def test_next_open_starts_from_the_store_s_local_day_behind_utc() -> None:
    ny = CallWindows.from_config("America/New_York", {"weekdays": ["20:00", "22:00"]})
    # Tue 02:00 UTC is still Monday 21:00 in New York: inside Monday's window.
    late_monday = utc(2026, 11, 24, 2, 0)
    assert ny.next_open(late_monday) == late_monday
    assert ny.closes_at(late_monday) == utc(2026, 11, 24, 3, 0)
