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
