"""When the Reporter runs: weekly reports Monday 03:00 Europe/Stockholm, retention cleanup nightly."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

REPORT_TZ = "Europe/Stockholm"
WEEKLY_AT = time(3, 0)
CLEANUP_AT = time(3, 30)


def next_weekly(now: datetime, tz: str = REPORT_TZ, at: time = WEEKLY_AT) -> datetime:
    """The next Monday ``at`` (local wall-clock time in ``tz``) strictly after ``now``, in UTC."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    day = local.date() - timedelta(days=local.weekday())
    while True:
        candidate = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
        if candidate > now:
            return candidate
        day += timedelta(days=7)


def next_daily(now: datetime, tz: str = REPORT_TZ, at: time = CLEANUP_AT) -> datetime:
    zone = ZoneInfo(tz)
    day = now.astimezone(zone).date()
    while True:
        candidate = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
        if candidate > now:
            return candidate
        day += timedelta(days=1)


def report_week(run_at: datetime, tz: str = REPORT_TZ) -> date:
    """The Monday of the week before ``run_at`` (the week a Monday-morning run reports on)."""
    local = run_at.astimezone(ZoneInfo(tz)).date()
    this_monday = local - timedelta(days=local.weekday())
    return this_monday - timedelta(days=7)


CATCH_UP_WEEKS = 8
"""At most this many missed weeks are rebuilt when the Reporter starts."""


def missed_weeks(now: datetime, latest: date | None, max_weeks: int = CATCH_UP_WEEKS) -> list[date]:
    """Weeks (their Mondays, oldest first) whose Monday run has passed but that a store has no
    report for, given its ``latest`` reported week (None: none yet → only the last week)."""
    last_run = next_weekly(now) - timedelta(days=7)
    due = report_week(last_run) if last_run <= now else report_week(last_run - timedelta(days=7))
    if latest is None:
        return [due]
    weeks = []
    week = latest + timedelta(days=7)
    while week <= due:
        weeks.append(week)
        week += timedelta(days=7)
    return weeks[-max_weeks:]
