"""Numbers, money, dates and words as a Swedish reader expects them on a printed page.

Swedish typography (Språkrådet's rules): a decimal comma; digits grouped in
threes with a space that must not break the number across lines (U+00A0); a
space, also non-breaking, between a number and "%" or a unit; the minus sign
U+2212, not a hyphen. Every function is pure and total: None (a missing figure)
becomes an en dash.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal

from engine.rewards.money import MINOR_UNIT_DIGITS, Money

NBSP = "\u00a0"
MINUS = "\u2212"
MISSING = "–"
MONTHS = (
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
)
UP, DOWN, FLAT = "▲", "▼", "►"


def _decimal(value: float | int | Decimal, places: int) -> Decimal:
    # Through str: 0.675 as a float is 0.67499999…, but the reader saw "0.675" and expects 0,68.
    exact = Decimal(value) if isinstance(value, int | Decimal) else Decimal(repr(float(value)))
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _finite(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return False
    if isinstance(value, Decimal):
        return value.is_finite()
    return isinstance(value, int) or math.isfinite(value)


def number(value: float | int | Decimal | None, places: int = 0, *, trim: bool = False) -> str:
    """``1234.5`` → "1 234,50" (places=2); ``trim`` drops zero decimals ("40" rather than "40,0")."""
    if value is None or not _finite(value):
        return MISSING
    q = _decimal(value, places)
    if trim and q == q.to_integral_value():
        q = q.quantize(Decimal(1))
    negative = q < 0
    whole, _, frac = f"{abs(q):f}".partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    text = NBSP.join(groups) + ("," + frac if frac else "")
    return (MINUS if negative and q != 0 else "") + text


def integer(value: float | int | Decimal | None) -> str:
    """A count: ``3.0`` (a JSON number) → "3", ``12000`` → "12 000"."""
    return number(value, 0)


def percent(share: float | int | Decimal | None, places: int = 1) -> str:
    """A share of 1 as a percentage: ``0.375`` → "37,5 %", ``0.4`` → "40 %"."""
    if share is None or not _finite(share):
        return MISSING
    return number(_decimal(share, 12) * 100, places, trim=True) + NBSP + "%"


def percent_value(value: float | int | Decimal | None, places: int = 2) -> str:
    """A number that already is a percentage (a reward of 6.75 %) → "6,75 %"."""
    if value is None or not _finite(value):
        return MISSING
    return number(value, places, trim=True) + NBSP + "%"


def money(amount: Money | None) -> str:
    """``249.50 SEK`` → "249,50 kr"; other currencies keep their code ("12,34 EUR")."""
    if amount is None:
        return MISSING
    unit = "kr" if amount.currency == "SEK" else amount.currency
    return number(amount.amount, MINOR_UNIT_DIGITS[amount.currency]) + NBSP + unit


def signed(value: float | int | Decimal | None, places: int = 0, unit: str = "") -> str:
    """A change with its sign: "+3", "−0,05", "±0"; ``unit`` follows after a non-breaking space."""
    if value is None or not _finite(value):
        return MISSING
    q = _decimal(value, places)
    text = "±0" if q == 0 else ("+" if q > 0 else "") + number(q, places)
    return text + (NBSP + unit if unit else "")


def arrow(value: float | int | Decimal | None, places: int = 0) -> str:
    """▲ for a rise, ▼ for a fall, ► for no change at the shown precision ("" when unknown)."""
    if value is None or not _finite(value):
        return ""
    q = _decimal(value, places)
    return UP if q > 0 else DOWN if q < 0 else FLAT


def date(day: dt.date | str | None) -> str:
    """``2026-11-16`` → "16 november 2026"."""
    d = _as_date(day)
    return MISSING if d is None else f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def week(day: dt.date | str | None) -> str:
    """The ISO week of a day: "vecka 47"."""
    d = _as_date(day)
    return MISSING if d is None else f"vecka{NBSP}{d.isocalendar().week}"


def week_short(day: dt.date | str | None) -> str:
    """For chart axes: "v.47"."""
    d = _as_date(day)
    return MISSING if d is None else f"v.{d.isocalendar().week}"


def week_span(monday: dt.date | str | None) -> str:
    """ "vecka 47, 16–22 november 2026" (month named twice when the week spans two)."""
    d = _as_date(monday)
    if d is None:
        return MISSING
    end = d + dt.timedelta(days=6)
    if d.month == end.month:
        span = f"{d.day}–{end.day} {MONTHS[end.month - 1]} {end.year}"
    elif d.year == end.year:
        span = f"{d.day} {MONTHS[d.month - 1]} – {end.day} {MONTHS[end.month - 1]} {end.year}"
    else:
        span = f"{date(d)} – {date(end)}"
    return f"{week(d)}, {span}"


def weeks(n: int) -> str:
    return f"{integer(n)} {'vecka' if n == 1 else 'veckor'}"


def last_weeks(n: int) -> str:
    """ "de senaste 3 veckorna" / "den senaste veckan"."""
    return "den senaste veckan" if n == 1 else f"de senaste {integer(n)} veckorna"


def calls(n: int | float) -> str:
    return f"{integer(n)} samtal"


def confidence_word(confidence: float | None) -> str:
    """How sure a prediction is, in words: hög (≥ 0,7), måttlig (≥ 0,4), låg."""
    if confidence is None or not _finite(confidence) or confidence < 0.4:
        return "låg"
    return "hög" if confidence >= 0.7 else "måttlig"


def _as_date(day: dt.date | str | None) -> dt.date | None:
    if isinstance(day, dt.datetime):
        return day.date()
    if isinstance(day, dt.date):
        return day
    if isinstance(day, str):
        try:
            return dt.date.fromisoformat(day[:10])
        except ValueError:
            return None
    return None
