"""Per-store call windows, in the store's own timezone.

Default: 09:00–20:00 on weekdays, 10:00–18:00 on weekends. A store may
override by a small JSON-shaped mapping (see :meth:`CallWindows.from_config`).
Windows are wall-clock times, so they follow DST shifts of the timezone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.errors import ValidationError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_TIMEZONE = "Europe/Stockholm"


@dataclass(frozen=True)
class DayWindow:
    start: time
    end: time

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("a call window must end after it starts")


def _parse_window(field: str, raw: Any) -> DayWindow | None:
    if raw is None:
        return None  # closed that day
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        raise ValidationError(field, 'expected ["HH:MM", "HH:MM"] or null')
    try:
        start, end = (time.fromisoformat(str(v)) for v in raw)
        return DayWindow(start, end)
    except ValueError as exc:
        raise ValidationError(field, str(exc)) from exc


WEEKDAY_DEFAULT = DayWindow(time(9), time(20))
WEEKEND_DEFAULT = DayWindow(time(10), time(18))


@dataclass(frozen=True)
class CallWindows:
    """When a store's customers may be called. ``days[i]`` is Monday+i; ``None`` = closed."""

    timezone: str = DEFAULT_TIMEZONE
    days: tuple[DayWindow | None, ...] = (WEEKDAY_DEFAULT,) * 5 + (WEEKEND_DEFAULT,) * 2

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise ValueError("days must have 7 entries (Monday first)")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError("timezone", f"unknown timezone {self.timezone!r}") from exc

    @classmethod
    def from_config(cls, timezone: str | None, config: Mapping[str, Any] | None) -> CallWindows:
        """Build from a store's timezone and optional call-window config.

        Config keys (all optional): ``weekdays`` and ``weekends`` as
        ``["HH:MM", "HH:MM"]`` (or null for closed), and per-day overrides
        ``mon`` … ``sun`` in the same shape.
        """
        tz = timezone or DEFAULT_TIMEZONE
        if not config:
            return cls(tz)
        days: list[DayWindow | None] = list(cls(tz).days)
        if "weekdays" in config:
            wd = _parse_window("call_windows.weekdays", config["weekdays"])
            days[0:5] = [wd] * 5
        if "weekends" in config:
            we = _parse_window("call_windows.weekends", config["weekends"])
            days[5:7] = [we] * 2
        for i, name in enumerate(DAY_NAMES):
            if name in config:
                days[i] = _parse_window(f"call_windows.{name}", config[name])
        unknown = set(config) - {"weekdays", "weekends", *DAY_NAMES}
        if unknown:
            raise ValidationError("call_windows", f"unknown keys: {sorted(unknown)}")
        return cls(tz, tuple(days))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _bounds(self, day: date) -> tuple[datetime, datetime] | None:
        window = self.days[day.weekday()]
        if window is None:
            return None
        zone = self.zone
        start = datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC)
        end = datetime.combine(day, window.end, tzinfo=zone).astimezone(UTC)
        return start, end

    def is_open(self, when: datetime) -> bool:
        local_day = when.astimezone(self.zone).date()
        bounds = self._bounds(local_day)
        return bounds is not None and bounds[0] <= when < bounds[1]

    def next_open(self, when: datetime) -> datetime | None:
        """``when`` itself if the window is open, else the next opening (UTC).

        ``None`` only if the store has no open day at all.
        """
        if when.tzinfo is None:
            raise ValueError("when must be timezone-aware")
        local_day = when.astimezone(self.zone).date()
        for offset in range(8):
            bounds = self._bounds(local_day + timedelta(days=offset))
            if bounds is None:
                continue
            start, end = bounds
            if when < start:
                return start
            if when < end:
                return when
        return None

    def closes_at(self, when: datetime) -> datetime | None:
        """End of the window open at ``when`` (UTC), or ``None`` if closed."""
        bounds = self._bounds(when.astimezone(self.zone).date())
        if bounds is None or not (bounds[0] <= when < bounds[1]):
            return None
        return bounds[1]


ALWAYS_OPEN = CallWindows("UTC", (DayWindow(time(0), time(23, 59, 59, 999999)),) * 7)
