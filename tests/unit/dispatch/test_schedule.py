from __future__ import annotations

from datetime import UTC, date, datetime

from engine.dispatch.schedule import next_daily, next_weekly, report_week


def test_next_weekly_is_monday_0300_stockholm() -> None:
    # Wed 2026-11-25 → Mon 2026-11-30 03:00 CET = 02:00 UTC
    assert next_weekly(datetime(2026, 11, 25, 12, tzinfo=UTC)) == datetime(2026, 11, 30, 2, tzinfo=UTC)
    # exactly at the time → the week after
    at = datetime(2026, 11, 30, 2, tzinfo=UTC)
    assert next_weekly(at) == datetime(2026, 12, 7, 2, tzinfo=UTC)
    # summer time: Mon 2026-06-01 03:00 CEST = 01:00 UTC
    assert next_weekly(datetime(2026, 5, 28, tzinfo=UTC)) == datetime(2026, 6, 1, 1, tzinfo=UTC)


def test_report_covers_the_previous_week() -> None:
    assert report_week(datetime(2026, 11, 30, 2, tzinfo=UTC)) == date(2026, 11, 23)


def test_nightly_cleanup() -> None:
    assert next_daily(datetime(2026, 11, 25, 12, tzinfo=UTC)) == datetime(2026, 11, 26, 2, 30, tzinfo=UTC)


def test_missed_weeks_catch_up_each_week_once() -> None:
    from datetime import UTC, date, datetime

    from engine.dispatch.schedule import missed_weeks

    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # a Monday, after the 03:00 run
    assert missed_weeks(now, None) == [date(2026, 11, 23)]
    assert missed_weeks(now, date(2026, 11, 23)) == []
    assert missed_weeks(now, date(2026, 11, 2)) == [date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23)]
    early = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # before Monday's run: last week not due yet
    assert missed_weeks(early, date(2026, 11, 9)) == [date(2026, 11, 16)]
    assert len(missed_weeks(now, date(2025, 1, 6))) == 8
